//! The core crate's one error type.

use thiserror::Error;

/// Everything that can go wrong while loading policies or compiling a policy set.
#[derive(Debug, Error)]
pub enum Error {
    #[error("failed to serialize the CRDs to YAML")]
    SerializeCrd(#[source] serde_yaml_ng::Error),

    #[error(
        "policy {policy:?}, rule {rule:?}: unknown built-in rule id; run `kube-guardian rules` to list them"
    )]
    UnknownRule { policy: String, rule: String },

    #[error("policy {policy:?}, rule {rule:?}: invalid parameters: {reason}")]
    InvalidParameters {
        policy: String,
        rule: String,
        reason: String,
    },

    #[error(
        "policy {policy:?}, rule {rule:?}: CEL expression does not compile at {line}:{column}: {message}"
    )]
    CelCompile {
        policy: String,
        rule: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("policy {policy:?}, rule {rule:?}: CEL expression rejected: {reason}")]
    CelTooExpensive {
        policy: String,
        rule: String,
        reason: String,
    },

    #[error(
        "policy {policy:?}: rule {rule:?} is listed twice; rule ids and CEL rule names must be unique within a policy"
    )]
    DuplicateRule { policy: String, rule: String },

    #[error("policy {policy:?}: invalid {field}: {reason}")]
    InvalidSelector {
        policy: String,
        field: &'static str,
        reason: String,
    },

    #[error("exception {namespace}/{name}: invalid {field}: {reason}")]
    InvalidException {
        namespace: String,
        name: String,
        field: &'static str,
        reason: String,
    },

    #[error("policy {policy:?} is defined twice; policy names must be unique")]
    DuplicatePolicy { policy: String },

    #[error("policy {policy:?} has no rules and no profiles; it would check nothing")]
    EmptyPolicy { policy: String },

    /// A manifest document that cannot be read as the API server would read it; `line` is
    /// 1-based in the file.
    #[error("{message}")]
    Manifest {
        line: Option<usize>,
        message: String,
    },

    /// Every policy or exception document of a text that does not load, each with its source
    /// and line.
    #[error("{} document(s) do not load:\n  {}", .0.len(), join_errors(.0))]
    PolicyDocuments(Vec<crate::load::DocumentError>),

    /// Every error found while compiling a policy set, so a user fixes them all in one pass.
    #[error("{} error(s) in the policy set:\n  {}", .0.len(), join_errors(.0))]
    PolicySet(Vec<Error>),
}

fn join_errors(errors: &[impl ToString]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}
