//! PolicyReports (`wgpolicyk8s.io/v1alpha2`, the format Kyverno, Kubescape and Policy Reporter
//! read): one report per namespace holding every policy's fail and warn results, bounded in
//! size, and rewritten only when its content changed.
//!
//! Reconciles update the rows and build each changed namespace's body under the report lock
//! ([`ReportState`]); the [`ReportWriter`] writes them outside it, one write in flight per
//! namespace, the latest body only, retried with backoff. A report deleted by someone else is
//! written again at once ([`restore_deleted`]).

mod api;
mod body;
mod lookup_retries;
mod owned;
mod restore;
mod rows;
mod state;
mod writer;

pub use api::{MANAGED_BY, MANAGED_BY_LABEL, write};
pub use body::{ReportBody, fingerprint};
pub use owned::owned_namespaces;
pub use restore::restore_deleted;
pub use rows::{NamespaceRows, PolicyRows, ReportResult};
pub use state::ReportState;
pub use writer::{FIRST_RETRY, MAX_RETRY, ReportWriter, Settled, WriteFn};

/// The name of the report kube-guardian owns in each namespace.
pub const REPORT_NAME: &str = "kube-guardian";
/// Results kept per report; the rest are counted in the summary's `truncated` property.
pub const MAX_RESULTS: usize = 1000;

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use guardian_core::model::{Category, Finding, Outcome, ResourceRef, RuleRef, Severity};

    use super::*;

    pub(crate) fn row(policy: &str, name: &str, rule: &str) -> ReportResult {
        ReportResult {
            policy: policy.into(),
            resource: Arc::new(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("a".into()),
                name: name.into(),
            }),
            rule: rule.into(),
            path: "spec.containers[0].image".into(),
            result: "fail",
            severity: "high",
            category: "security",
            message: "m".into(),
            container: Some("c".into()),
        }
    }

    pub(crate) fn results(ns: &str, rows: Vec<ReportResult>) -> Arc<NamespaceRows> {
        let mut policy_rows = PolicyRows::default();
        rows.into_iter().for_each(|r| policy_rows.push(r));
        Arc::new([(ns.to_owned(), Arc::new(policy_rows))].into())
    }

    pub(crate) fn finding(name: &str, outcome: Outcome) -> Finding {
        Finding {
            rule: RuleRef::shared("p", "r", Severity::High, Category::Security, "fix"),
            resource: Arc::new(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("a".into()),
                name: name.into(),
            }),
            container: Some("c".into()),
            message: "m".into(),
            path: "spec.containers[0].image".into(),
            outcome,
            location: None,
        }
    }
}
