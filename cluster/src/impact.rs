//! What a change to a policy would do, computed before it is applied.
//!
//! The enforcement preview: for a policy switched to Deny (or Warn), which workloads of a
//! cluster admission would deny (or warn about) when they are created again — a rollout's new
//! Pods, a re-created object — judged by core's [`decide`] on the findings the cluster already
//! holds, so the preview and the webhook cannot disagree. Enforcement changes no finding, so the
//! cluster's current evaluations are exactly what the switched policy would find. (An update of
//! an unrelated field is not denied for violations the old object already had: `decide`'s
//! pre-existing rule; the preview counts creations, the stricter case.)

use std::sync::Arc;

use guardian_core::crd::Enforcement;
use guardian_core::decide::decide;
use guardian_core::engine::MatchedPolicy;
use guardian_core::model::ResourceRef;

use crate::ClusterSnapshot;

/// One workload the switched policy would stop, with the rules that would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub resource: Arc<ResourceRef>,
    pub rules: Vec<Arc<str>>,
}

/// What switching one policy's enforcement does in one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnforcementPreview {
    /// Workloads whose creation would be denied.
    pub denied: Vec<Blocked>,
    /// Workloads whose creation would be allowed with warnings.
    pub warned: Vec<Blocked>,
}

/// The preview of `policy` at enforcement `to` in `snapshot`'s cluster.
pub fn enforcement_preview(
    snapshot: &ClusterSnapshot,
    policy: &str,
    to: Enforcement,
) -> EnforcementPreview {
    let mut preview = EnforcementPreview::default();
    for evaluation in &snapshot.evaluations {
        if !evaluation.matched_policies.iter().any(|p| &**p == policy) {
            continue;
        }
        let findings = &evaluation.findings;
        // A policy's findings are contiguous in an evaluation.
        let start = findings.iter().position(|f| &*f.policy == policy);
        let count = findings.iter().filter(|f| &*f.policy == policy).count();
        let range = start.map_or(0..0, |s| s..s + count);
        let matched = [MatchedPolicy {
            index: 0,
            name: Arc::from(policy),
            enforcement: to,
            findings: range,
        }];
        let verdict = decide(&matched, findings, || None);
        let blocked = |found: Vec<&guardian_core::model::Finding>| Blocked {
            resource: Arc::clone(&evaluation.resource),
            rules: found.iter().map(|f| Arc::clone(&f.rule)).collect(),
        };
        if !verdict.denied.is_empty() {
            preview.denied.push(blocked(verdict.denied.clone()));
        } else if !verdict.warned.is_empty() {
            let warned = verdict.warned.iter().map(|w| w.finding).collect();
            preview.warned.push(blocked(warned));
        }
    }
    preview
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::testing::{evaluation, finding, skipped, snapshot};

    fn cluster() -> ClusterSnapshot {
        snapshot(
            "demo-a",
            vec![
                evaluation(
                    "shop",
                    "root",
                    &["p", "q"],
                    vec![
                        finding("q", Severity::Low),
                        finding("p", Severity::High),
                        finding("p", Severity::Critical),
                    ],
                ),
                evaluation("shop", "waived", &["p"], vec![skipped("p", Severity::High)]),
                evaluation("shop", "clean", &["p"], vec![]),
                evaluation("shop", "other", &["q"], vec![finding("q", Severity::High)]),
            ],
        )
    }

    #[test]
    fn deny_would_block_the_violating_workloads_of_that_policy_only() {
        let preview = enforcement_preview(&cluster(), "p", Enforcement::Deny);
        let names: Vec<&str> = preview
            .denied
            .iter()
            .map(|b| b.resource.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["root"],
            "waived, clean and other policies' workloads pass"
        );
        let expected: Vec<Arc<str>> = [Severity::High, Severity::Critical]
            .iter()
            .map(|s| Arc::from(format!("rule-{s}").as_str()))
            .collect();
        assert_eq!(preview.denied[0].rules, expected, "only p's rules");
        assert!(preview.warned.is_empty());
    }

    #[test]
    fn warn_warns_and_audit_does_nothing() {
        let warn = enforcement_preview(&cluster(), "p", Enforcement::Warn);
        assert!(warn.denied.is_empty());
        assert_eq!(warn.warned.len(), 1);
        assert_eq!(
            enforcement_preview(&cluster(), "p", Enforcement::Audit),
            EnforcementPreview::default()
        );
    }
}
