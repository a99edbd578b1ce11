//! `CI` means the same to the Makefile as to the Rust code (tests/testenv, the binary's tests):
//! the Makefile's `ci_on` against `guardian_core::ci::is_on` on a table of values.

use std::process::Command;

fn make_says(value: Option<&str>) -> bool {
    let mut make = Command::new("make");
    make.args(["-s", "-f", "Makefile", "print-ci"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CI")
        .env_remove("MAKEFLAGS");
    if let Some(value) = value {
        make.arg(format!("CI={value}"));
    }
    let out = make.output().expect("GNU make runs (a README requirement)");
    assert!(out.status.success(), "make print-ci failed: {out:?}");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "on" => true,
        "off" => false,
        other => panic!("make print-ci printed {other:?}"),
    }
}

#[test]
fn makefile_and_rust_agree_on_ci() {
    let table: &[Option<&str>] = &[
        None,
        Some(""),
        Some(" "),
        Some("0"),
        Some("false"),
        Some("False"),
        Some("FALSE"),
        Some(" false "),
        Some("true"),
        Some("TRUE"),
        Some("1"),
        Some("yes"),
        Some("no"),
        Some("off"),
        Some("00"),
        Some("0 0"),
        Some("false true"),
        Some("falsey"),
    ];
    let disagreements: Vec<String> = table
        .iter()
        .filter(|v| make_says(**v) != guardian_core::ci::is_on(**v))
        .map(|v| {
            format!(
                "CI={v:?}: make {}, Rust {}",
                make_says(*v),
                guardian_core::ci::is_on(*v)
            )
        })
        .collect();
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // The rule itself, so that both sides cannot drift together unnoticed.
    assert!(make_says(Some("yes")) && make_says(Some("True")) && !make_says(Some("FALSE")));
    assert!(!make_says(None) && !make_says(Some("0")) && !make_says(Some("")));
}
