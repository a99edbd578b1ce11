//! The JSON format: one stable, versioned document.
//!
//! ```json
//! {
//!   "apiVersion": "kube-guardian.dev/v1alpha1",
//!   "kind": "CheckReport",
//!   "summary": { "resourcesEvaluated": 3, "resourcesFailing": 2, "findings": 5,
//!                "byOutcome": { "fail": 3, "skip": 1, "error": 1 },
//!                "failuresBySeverity": { "critical": 1, "high": 1, "medium": 1, "low": 0, "info": 0 },
//!                "skippedDocuments": 1, "inputErrors": 1 },
//!   "findings": [ { "policy", "rule", "severity", "category", "resource", "container"?, "message",
//!                   "path", "remediation", "result": "fail" | "skip" | "error",
//!                   "exception"? , "justification"?, "location"?: { "file", "line" } } ],
//!   "skippedDocuments": [ { "file", "line", "reason" } ],
//!   "inputErrors": [ { "file", "line"?, "message" } ]
//! }
//! ```
//! Fields are only ever added under this apiVersion; a rename or removal needs a new one.

use std::io::{self, Write};

use serde::Serialize;

use super::json_findings;
use super::summary::Summary;
use crate::check::report::CheckReport;

pub const API_VERSION: &str = "kube-guardian.dev/v1alpha1";
pub const KIND: &str = "CheckReport";

pub fn render(report: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    // The pretty printer's layout, written piece by piece: the findings directly (see
    // `json_findings`), the small rest through serde_json one level deep.
    write!(
        out,
        "{{\n  \"apiVersion\": \"{API_VERSION}\",\n  \"kind\": \"{KIND}\",\n  \"summary\": "
    )?;
    nested(&Summary::of(report), out)?;
    out.write_all(b",\n  \"findings\": ")?;
    json_findings::write(&report.findings, out)?;
    out.write_all(b",\n  \"skippedDocuments\": ")?;
    nested(&report.skipped_documents, out)?;
    out.write_all(b",\n  \"inputErrors\": ")?;
    nested(&report.input_errors, out)?;
    out.write_all(b"\n}\n")
}

/// A value as serde_json's pretty printer writes it one level deep: its lines after the first
/// indented by two more spaces (strings never hold a raw line break, so this is exact).
fn nested<T: Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(value)?;
    // Re-indented in one pass into one buffer, handed over in one write.
    let mut indented = Vec::with_capacity(text.len() + text.len() / 8);
    for &byte in &text {
        indented.push(byte);
        if byte == b'\n' {
            indented.extend_from_slice(b"  ");
        }
    }
    out.write_all(&indented)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_support::sample_report;
    use serde_json::{Value, json};

    fn rendered() -> (String, Value) {
        let mut out = Vec::new();
        render(&sample_report(), &mut out).expect("render to a Vec");
        let text = String::from_utf8(out).expect("UTF-8");
        let value = serde_json::from_str(&text).expect("valid JSON");
        (text, value)
    }

    /// The report as serde_json's pretty printer writes the whole document in one go.
    fn by_serde(report: &CheckReport) -> String {
        use crate::check::report::{InputError, SkippedDocument};
        use guardian_core::model::Finding;

        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Document<'a> {
            api_version: &'static str,
            kind: &'static str,
            summary: Summary,
            findings: &'a [Finding],
            skipped_documents: &'a [SkippedDocument],
            input_errors: &'a [InputError],
        }
        let document = Document {
            api_version: API_VERSION,
            kind: KIND,
            summary: Summary::of(report),
            findings: &report.findings,
            skipped_documents: &report.skipped_documents,
            input_errors: &report.input_errors,
        };
        serde_json::to_string_pretty(&document).expect("serialize") + "\n"
    }

    #[test]
    fn same_bytes_as_serde_pretty_printing_the_whole_document() {
        let (text, _) = rendered();
        assert_eq!(text, by_serde(&sample_report()));
        let empty = CheckReport::default();
        let mut out = Vec::new();
        render(&empty, &mut out).expect("render to a Vec");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), by_serde(&empty));
    }

    /// The hand-written writer against serde. `Finding`'s `Serialize` is hand-written too, so this
    /// proves the two agree; the shape itself is pinned by `guardian_core`'s finding test.
    #[test]
    fn same_bytes_as_serde_for_every_outcome_and_optional_field() {
        use guardian_core::model::{Category, Finding, Outcome, ResourceRef, RuleRef, Severity};
        use std::sync::Arc;

        let mut report = sample_report();
        // No container, no namespace, no location, and strings that need escaping.
        let mut bare = report.findings[0].clone();
        bare.container = None;
        bare.location = None;
        bare.resource = Arc::new(ResourceRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "a\"b\\c\u{1}\n\té/".into(),
        });
        bare.message = "ctl \u{7f}\u{1f}\r\u{8}\u{c} \u{2028} ünï".into();
        bare.rule = Arc::new(RuleRef {
            severity: Severity::Info,
            category: Category::Efficiency,
            ..(*bare.rule).clone()
        });
        report.findings.push(bare);
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f.outcome, Outcome::Skip { .. }))
        );
        assert!(report.findings.iter().any(|f| f.outcome == Outcome::Error));
        // Large enough for the findings writer to hand its buffer over in several pieces.
        let many: Vec<Finding> = report
            .findings
            .iter()
            .cycle()
            .take(2_000)
            .cloned()
            .collect();
        for findings in [report.findings.clone(), many] {
            report.findings = findings;
            let mut out = Vec::new();
            render(&report, &mut out).expect("render to a Vec");
            assert_eq!(String::from_utf8(out).expect("UTF-8"), by_serde(&report));
        }
    }

    #[test]
    fn round_trips_through_serde_json() {
        let (text, value) = rendered();
        let again: Value = serde_json::from_str(&serde_json::to_string(&value).expect("serialize"))
            .expect("parse again");
        assert_eq!(value, again);
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn has_the_documented_top_level_fields() {
        let (_, value) = rendered();
        let object = value.as_object().expect("an object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        for key in [
            "apiVersion",
            "kind",
            "summary",
            "findings",
            "skippedDocuments",
            "inputErrors",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(keys.len(), 6, "no undocumented top-level fields: {keys:?}");
        assert_eq!(value["apiVersion"], API_VERSION);
        assert_eq!(value["kind"], KIND);
    }

    #[test]
    fn summary_counts_by_severity_and_outcome() {
        let (_, value) = rendered();
        assert_eq!(
            value["summary"],
            json!({
                "resourcesEvaluated": 3,
                "resourcesFailing": 2,
                "findings": 5,
                "byOutcome": {"fail": 3, "skip": 1, "error": 1},
                "failuresBySeverity": {"critical": 1, "high": 1, "medium": 1, "low": 0, "info": 0},
                "skippedDocuments": 1,
                "inputErrors": 1,
            })
        );
    }

    #[test]
    fn findings_carry_outcome_resource_and_location() {
        let (_, value) = rendered();
        let findings = value["findings"].as_array().expect("findings array");
        assert_eq!(findings.len(), 5);
        let skipped = &findings[2];
        assert_eq!(skipped["rule"], "resource-limits");
        assert_eq!(skipped["result"], "skip");
        assert_eq!(skipped["exception"], "shop/legacy-web");
        assert_eq!(
            skipped["resource"],
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"})
        );
        assert_eq!(
            skipped["location"],
            json!({"file": "examples/bad.yaml", "line": 24})
        );
        assert_eq!(findings[3]["result"], "error");
        assert_eq!(value["skippedDocuments"][0]["line"], 40);
        assert_eq!(value["inputErrors"][0]["line"], 3);
    }
}
