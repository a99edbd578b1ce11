//! SARIF 2.1.0 for code-scanning dashboards (GitHub code scanning, GitLab, Azure DevOps).
//!
//! One run; `tool.driver.rules` lists every active rule and each result points at it by id and
//! index. Excepted findings stay in the log as results with an external suppression (GitHub shows
//! them as dismissed); rule evaluation errors are `error` results with `properties.outcome =
//! "error"`; files that could not be read go to `invocations[0].toolExecutionNotifications`.
//! Built from serde-sarif's types (generated from the official schema), so a misspelt or
//! misplaced property does not compile.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use guardian_core::model::{Category, Finding, Outcome, RuleInfo, Severity, SourceLocation};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool,
    ToolComponent,
};

use crate::check::report::CheckReport;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const TOOL_NAME: &str = "kube-guardian";

pub fn render(report: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &sarif(report))?;
    writeln!(out)
}

/// The whole SARIF log, in serde-sarif's types (generated from the official schema).
fn sarif(report: &CheckReport) -> Sarif {
    let rule_index: HashMap<&str, usize> = report
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| (rule.id.as_str(), i))
        .collect();
    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .map(|f| result(f, rule_index.get(&*f.rule).copied()))
        .collect();
    let mut notifications: Vec<Notification> = report
        .input_errors
        .iter()
        .map(|e| notification("error", &e.message, &e.file, e.line))
        .collect();
    notifications.extend(report.skipped_documents.iter().map(|d| {
        let text = format!("Document skipped: {}", d.reason);
        notification("note", &text, &d.file, Some(d.line))
    }));
    let version = env!("CARGO_PKG_VERSION");
    let driver = ToolComponent::builder()
        .name(TOOL_NAME)
        .version(version)
        .semantic_version(version)
        .information_uri(env!("CARGO_PKG_REPOSITORY"))
        .rules(report.rules.iter().map(rule).collect::<Vec<_>>())
        .build();
    let invocation = Invocation::builder()
        .execution_successful(report.input_errors.is_empty())
        .tool_execution_notifications(notifications)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .invocations(vec![invocation])
        .results(results)
        .build();
    Sarif::builder()
        .schema(SCHEMA)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn text(text: impl Into<String>) -> Message {
    Message {
        text: Some(text.into()),
        ..Message::default()
    }
}

fn multiformat(text: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(text).build()
}

fn properties(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> PropertyBag {
    PropertyBag {
        additional_properties: pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..PropertyBag::default()
    }
}

/// SARIF level for a severity: critical/high → error, medium → warning, low/info → note.
fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

/// GitHub code scanning's `security-severity` score (its bands: ≥9 critical, ≥7 high, ≥4
/// medium, >0 low).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn rule(rule: &RuleInfo) -> ReportingDescriptor {
    let mut tags = vec![rule.category.as_str().to_owned(), "kubernetes".to_owned()];
    if rule.custom {
        tags.push("custom".to_owned());
    }
    let mut additional = BTreeMap::new();
    // GitHub treats a rule with `security-severity` as a security alert, ranked by the score;
    // reliability and efficiency rules keep the plain error/warning/note level instead.
    if rule.category == Category::Security {
        additional.insert(
            "security-severity".to_owned(),
            json!(security_severity(rule.severity)),
        );
    }
    let full = if rule.description.is_empty() {
        &rule.title
    } else {
        &rule.description
    };
    ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(pascal_case(&rule.id))
        .short_description(multiformat(&rule.title))
        .full_description(multiformat(full))
        .help(multiformat(&rule.remediation))
        .default_configuration(ReportingConfiguration {
            level: Some(json!(level(rule.severity))),
            ..ReportingConfiguration::default()
        })
        .properties(PropertyBag {
            tags: Some(tags),
            additional_properties: additional,
        })
        .build()
}

/// `run-as-non-root` → `RunAsNonRoot`: the identifier-style `name` SARIF viewers expect.
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

fn result(finding: &Finding, rule_index: Option<usize>) -> SarifResult {
    let resource = &finding.resource;
    let message = format!(
        "{} {}: {} (policy {}, rule {})",
        resource.kind,
        match &resource.namespace {
            Some(ns) => format!("{ns}/{}", resource.name),
            None => resource.name.clone(),
        },
        finding.message,
        finding.policy,
        finding.rule,
    );
    let location = Location {
        physical_location: finding.location.as_ref().map(physical_location),
        logical_locations: Some(vec![LogicalLocation {
            name: Some(resource.name.clone()),
            fully_qualified_name: Some(resource.to_string()),
            kind: Some("resource".to_owned()),
            ..LogicalLocation::default()
        }]),
        ..Location::default()
    };
    let mut bag = vec![
        ("policy", json!(&*finding.policy)),
        ("severity", json!(finding.severity.as_str())),
        ("category", json!(finding.category.as_str())),
        ("outcome", json!(finding.outcome.as_str())),
        ("fieldPath", json!(finding.path)),
        ("apiVersion", json!(resource.api_version)),
    ];
    if let Some(container) = &finding.container {
        bag.push(("container", json!(container)));
    }
    let level = match finding.outcome {
        Outcome::Error => ResultLevel::Error,
        Outcome::Fail | Outcome::Skip { .. } => level(finding.severity),
    };
    let suppressions = match &finding.outcome {
        Outcome::Skip {
            exception,
            justification,
        } => Some(vec![
            Suppression::builder()
                .kind(json!("external"))
                .status(json!("accepted"))
                .justification(justification.clone())
                .properties(properties([("exception", json!(exception))]))
                .build(),
        ]),
        Outcome::Fail | Outcome::Error => None,
    };
    let mut result = SarifResult::builder()
        .rule_id(finding.rule.to_string())
        .level(level)
        .message(text(message))
        .locations(vec![location])
        .properties(properties(bag))
        .build();
    // Optional fields the builder only takes as present values.
    result.rule_index = rule_index.and_then(|i| i64::try_from(i).ok());
    result.suppressions = suppressions;
    result
}

fn notification(level: &str, message: &str, file: &str, line: Option<usize>) -> Notification {
    let location = SourceLocation {
        file: file.into(),
        line: line.unwrap_or(0),
    };
    Notification::builder()
        .level(json!(level))
        .message(text(message))
        .locations(vec![Location {
            physical_location: Some(physical_location(&location)),
            ..Location::default()
        }])
        .build()
}

fn physical_location(location: &SourceLocation) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: Some(ArtifactLocation {
            uri: Some(artifact_uri(&location.file)),
            ..ArtifactLocation::default()
        }),
        // SARIF lines are 1-based; 0 means "unknown line".
        region: (location.line > 0).then(|| Region {
            start_line: i64::try_from(location.line).ok(),
            ..Region::default()
        }),
        ..PhysicalLocation::default()
    }
}

/// Characters that may not appear literally in a URI reference's path.
const NOT_IN_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The path as given on the command line, with forward slashes, as a relative URI reference
/// (what GitHub resolves against the repository root).
fn artifact_uri(file: &str) -> String {
    utf8_percent_encode(&file.replace('\\', "/"), NOT_IN_PATH).to_string()
}

#[cfg(test)]
mod tests {
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
    const OFFICIAL_SCHEMA: &str = include_str!("../../tests/fixtures/sarif-schema-2.1.0.json");

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
            let pattern =
                &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
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
}
