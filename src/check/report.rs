//! The result of a `check` run: what every output format renders.

use std::sync::Arc;

use guardian_core::load::Document;
use guardian_core::model::{Finding, RuleInfo, Severity};
use serde::Serialize;

/// A document that was read but not evaluated, with why (never dropped silently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedDocument {
    pub file: Arc<str>,
    pub line: usize,
    pub reason: String,
}

/// A file or document that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub file: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl InputError {
    /// A document that does not load, at its error's line (or its first line).
    pub fn document(file: &Arc<str>, doc: &Document<'_>, error: &guardian_core::Error) -> Self {
        let line = match error {
            guardian_core::Error::Manifest { line, .. } => *line,
            _ => None,
        };
        InputError {
            file: file.clone(),
            line: line.or(Some(doc.first_line)),
            message: format!("invalid YAML: {error}"),
        }
    }
}

/// Everything a `check` run found, in deterministic order.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// Sorted by file, line, resource, policy, rule, path.
    pub findings: Vec<Finding>,
    pub skipped_documents: Vec<SkippedDocument>,
    pub input_errors: Vec<InputError>,
    /// Workload objects the policies were evaluated on.
    pub resources_evaluated: usize,
    /// Every rule active in the policy set, sorted by id.
    pub rules: Vec<RuleInfo>,
}

impl CheckReport {
    /// Findings that count (not excepted) at or above `threshold`.
    pub fn failures_at_or_above(&self, threshold: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.is_failure() && f.severity() >= threshold)
            .count()
    }
}
