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
        .map(|f| result(f, rule_index.get(f.rule_id()).copied()))
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
        finding.policy(),
        finding.rule_id(),
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
        ("policy", json!(finding.policy())),
        ("severity", json!(finding.severity().as_str())),
        ("category", json!(finding.category().as_str())),
        ("outcome", json!(finding.outcome.as_str())),
        ("fieldPath", json!(finding.path)),
        ("apiVersion", json!(resource.api_version)),
    ];
    if let Some(container) = &finding.container {
        bag.push(("container", json!(container)));
    }
    let level = match finding.outcome {
        Outcome::Error => ResultLevel::Error,
        Outcome::Fail | Outcome::Skip { .. } => level(finding.severity()),
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
        .rule_id(finding.rule_id().to_string())
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
mod tests;
