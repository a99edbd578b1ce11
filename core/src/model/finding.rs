//! Findings: the plain data every sink (CLI, status, reports, admission, TUI) renders.

use std::sync::Arc;

use serde::Serialize;

use super::severity::{Category, Severity};

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Whether a finding counts against the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Outcome {
    /// The rule failed and no exception covers it.
    Fail,
    /// The rule failed but an exception covers it; reported, never silently dropped.
    Skip {
        exception: String,
        justification: String,
    },
    /// The rule could not be evaluated (for example a CEL runtime error).
    Error,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Fail => "fail",
            Outcome::Skip { .. } => "skip",
            Outcome::Error => "error",
        }
    }
}

/// Where in a manifest file a finding points (offline `check` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLocation {
    pub file: Arc<str>,
    pub line: usize,
}

/// One result of one rule on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub policy: Arc<str>,
    pub rule: Arc<str>,
    pub severity: Severity,
    pub category: Category,
    pub resource: Arc<ResourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub message: String,
    /// Dotted field path with list indices, e.g. `spec.template.spec.containers[0].image`.
    pub path: String,
    pub remediation: Arc<str>,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

impl Finding {
    /// True when the finding counts against the resource (not excepted).
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Fail | Outcome::Error)
    }
}
