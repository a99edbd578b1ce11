//! SARIF validation on the binary's real output: `kube-guardian check` on the example manifests,
//! as the README's GitHub code-scanning command runs it, validated against the official OASIS
//! SARIF 2.1.0 schema (tests/fixtures/sarif-schema-2.1.0.json, see src/output/sarif.rs for its
//! provenance and its one known defect, patched here in memory as there).

use std::process::Command;

use serde_json::{Value, json};

fn official_schema() -> Value {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    const FIXED: &str = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";
    let text = include_str!("fixtures/sarif-schema-2.1.0.json");
    let mut schema: Value = serde_json::from_str(text).expect("schema is JSON");
    for definition in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        assert_eq!(*pattern, BROKEN, "{definition}.language pattern changed");
        *pattern = json!(FIXED);
    }
    schema
}

fn errors(validator: &jsonschema::Validator, log: &Value) -> Vec<String> {
    validator
        .iter_errors(log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

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
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&official_schema())
        .expect("schema compiles");
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
