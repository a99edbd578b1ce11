//! A rule as reports describe it: built-in or CEL, with its effective severity.

use serde::Serialize;

use super::severity::{Category, Severity};

/// One active rule of a compiled policy set, for report headers (SARIF `rules`, JSON summaries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub category: Category,
    /// Effective severity (after any per-policy override; the highest when policies differ).
    pub severity: Severity,
    pub description: String,
    pub remediation: String,
    /// True for custom CEL rules.
    pub custom: bool,
}
