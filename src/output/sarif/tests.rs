//! The SARIF log against the official schema, and what each part of it says.

use super::*;
use crate::output::test_support::sample_report;

/// The whole SARIF log as a JSON value.
fn log(report: &CheckReport) -> Value {
    serde_json::to_value(sarif(report)).expect("SARIF types serialize to JSON")
}

/// The official OASIS SARIF 2.1.0 schema (draft-07, `$id`
/// https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json,
/// title "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"). Taken from the
/// crates.io package serde-sarif 0.8.0 (`src/schema.json`, sha256 af47e7b6…5895cea), and
/// checked against the schemastore copy `sarif-2.1.0-rtm.5.json` shipped in the npm package
/// @microsoft/jest-sarif 1.0.0-beta.0: the same definitions, differing only in `$schema`
/// draft, `$id`/`id`, title and one typo in a description.
const OFFICIAL_SCHEMA: &str = include_str!("../../../tests/fixtures/sarif-schema-2.1.0.json");

/// The official schema has one known defect: the `language` pattern (in `run` and in
/// `toolComponent`) carries a stray `]` (oasis-tcs/sarif-spec#490, #562), which is not a valid
/// ECMA-262 regex, and jsonschema validates the schema against its meta-schema (`format:
/// regex`) before use. Only in memory, only those two values, the fix from #490 is applied;
/// the committed file stays byte-for-byte official. We never emit `language`.
fn official_schema() -> Value {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    const FIXED: &str = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";
    let mut schema: Value = serde_json::from_str(OFFICIAL_SCHEMA).expect("schema is JSON");
    assert_eq!(
        schema["$id"],
        "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
    );
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    for definition in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        assert_eq!(*pattern, BROKEN, "{definition}.language pattern changed");
        *pattern = json!(FIXED);
    }
    schema
}

fn validate(log: &Value) {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&official_schema())
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
}

fn rendered() -> Value {
    let mut out = Vec::new();
    render(&sample_report(), &mut out).expect("render to a Vec");
    serde_json::from_slice(&out).expect("valid JSON")
}

#[test]
fn validates_against_the_official_schema() {
    validate(&rendered());
}

#[test]
fn empty_report_validates_too() {
    validate(&log(&CheckReport::default()));
}

#[test]
fn the_validator_rejects_broken_logs() {
    let mut log = rendered();
    log["runs"][0]["results"][0]["level"] = json!("critical");
    assert!(!jsonschema::is_valid(&official_schema(), &log));
}

#[test]
fn driver_lists_rules_with_levels_and_security_severity() {
    let log = rendered();
    assert_eq!(log["$schema"], SCHEMA);
    assert_eq!(log["version"], "2.1.0");
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "kube-guardian");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 5);
    let privileged = &rules[2];
    assert_eq!(privileged["id"], "privileged");
    assert_eq!(privileged["name"], "Privileged");
    assert_eq!(privileged["defaultConfiguration"]["level"], "error");
    assert_eq!(privileged["properties"]["security-severity"], "9.5");
    assert_eq!(privileged["properties"]["tags"][0], "security");
    assert_eq!(
        privileged["help"]["text"],
        "Fix privileged by following the docs."
    );
    assert_eq!(rules[4]["name"], "RunAsNonRoot");
    // Not a security rule: no security-severity, so GitHub keeps it out of security alerts.
    assert!(rules[3]["properties"].get("security-severity").is_none());
    assert_eq!(rules[3]["defaultConfiguration"]["level"], "warning");
}

#[test]
fn results_point_at_rules_files_and_resources() {
    let log = rendered();
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 5);
    let first = &results[0];
    assert_eq!(first["ruleId"], "run-as-non-root");
    assert_eq!(first["ruleIndex"], 4);
    assert_eq!(first["level"], "error");
    let text = first["message"]["text"].as_str().expect("message text");
    assert!(text.contains("Deployment shop/web") && text.contains("policy baseline"));
    let location = &first["locations"][0];
    assert_eq!(
        location["physicalLocation"]["artifactLocation"]["uri"],
        "examples/bad.yaml"
    );
    assert_eq!(location["physicalLocation"]["region"]["startLine"], 20);
    assert_eq!(
        location["logicalLocations"][0]["fullyQualifiedName"],
        "Deployment/shop/web"
    );
    // Backslashes from a Windows path become forward slashes.
    assert_eq!(
        results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "examples/pods.yaml"
    );
}

#[test]
fn exceptions_are_suppressions_and_errors_are_errors() {
    let log = rendered();
    let results = &log["runs"][0]["results"];
    let skipped = &results[2];
    assert_eq!(skipped["suppressions"][0]["kind"], "external");
    assert_eq!(
        skipped["suppressions"][0]["justification"],
        "Sized by the vendor; ticket OPS-12"
    );
    assert_eq!(skipped["level"], "warning");
    let error = &results[3];
    assert_eq!(error["level"], "error");
    assert_eq!(error["properties"]["outcome"], "error");
    assert!(results[0].get("suppressions").is_none());
}

#[test]
fn input_errors_are_notifications() {
    let log = rendered();
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notes[0]["level"], "error");
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "examples/broken.yaml"
    );
    assert_eq!(notes[1]["level"], "note");
    let clean = log_of_default();
    assert_eq!(
        clean["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
}

fn log_of_default() -> Value {
    log(&CheckReport::default())
}

#[test]
fn uris_are_relative_references_with_forward_slashes() {
    assert_eq!(artifact_uri("./k8s/app.yaml"), "./k8s/app.yaml");
    assert_eq!(artifact_uri("k8s\\my app.yaml"), "k8s/my%20app.yaml");
    assert_eq!(artifact_uri("a#b?.yaml"), "a%23b%3F.yaml");
}
