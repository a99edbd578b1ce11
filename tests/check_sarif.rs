//! SARIF validation on the binary's real output: `kube-guardian check` on the example manifests,
//! as the README's GitHub code-scanning command runs it, validated against the official OASIS
//! SARIF 2.1.0 schema (tests/support/sarif_schema.rs).

#[path = "support/sarif_schema.rs"]
mod sarif_schema;

use std::process::Command;

use sarif_schema::errors;
use serde_json::{Value, json};

#[test]
fn the_binarys_sarif_for_the_examples_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args([
            "check",
            "examples/manifests",
            "--policy",
            "examples/policies",
            "--policy",
            "examples/exceptions",
            "-o",
            "sarif",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the violating examples fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert!(
        results.iter().any(|r| r["ruleId"] == "pss-privileged"),
        "the real findings are there: {log:#}"
    );
    let validator = sarif_schema::validator();
    let problems = errors(&validator, &log);
    assert!(
        problems.is_empty(),
        "invalid SARIF:\n{}",
        problems.join("\n")
    );

    // The same validator fails this very output once broken, so the check above can fail.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = json!("critical");
    assert!(!errors(&validator, &broken).is_empty());
}
