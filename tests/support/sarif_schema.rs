//! The official OASIS SARIF 2.1.0 schema (tests/fixtures/sarif-schema-2.1.0.json, see
//! src/output/sarif.rs for its provenance and its one known defect, patched here in memory as
//! there), for tests that validate the binary's SARIF. Included with
//! `#[path = "support/sarif_schema.rs"] mod sarif_schema;`.

use serde_json::{Value, json};

fn official_schema() -> Value {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    const FIXED: &str = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";
    let text = include_str!("../fixtures/sarif-schema-2.1.0.json");
    let mut schema: Value = serde_json::from_str(text).expect("schema is JSON");
    for definition in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        assert_eq!(*pattern, BROKEN, "{definition}.language pattern changed");
        *pattern = json!(FIXED);
    }
    schema
}

/// A validator of the official schema, formats checked.
pub fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&official_schema())
        .expect("schema compiles")
}

/// Every schema violation of `log`, with where it is.
pub fn errors(validator: &jsonschema::Validator, log: &Value) -> Vec<String> {
    validator
        .iter_errors(log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}
