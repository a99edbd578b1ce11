//! What a change to a policy would do, computed before it is applied.
//!
//! The edit impact: an edited policy evaluated with the core engine on exactly the objects and
//! namespace labels the cluster's current evaluation used ([`ClusterSnapshot::inputs`]), with the
//! cluster's exceptions, against the violations that policy has now: what it would add and
//! remove, per cluster, before anything is written.
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

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::PolicySet;
use guardian_core::model::Finding;
use k8s_openapi::jiff::Timestamp;

use crate::ClusterSnapshot;
use crate::evaluate::Evaluator;

/// One violation: which workload, which rule (and where, to tell two of one rule apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Violation {
    pub resource: Arc<ResourceRef>,
    pub rule: Arc<str>,
    pub container: Option<String>,
    pub path: String,
}

impl Violation {
    fn of(finding: &Finding) -> Violation {
        Violation {
            resource: Arc::clone(&finding.resource),
            rule: Arc::clone(&finding.rule.id),
            container: finding.container.clone(),
            path: finding.path.clone(),
        }
    }
}

/// An edited policy's violations in one cluster, against its current ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditImpact {
    pub context: String,
    /// Violations of the policy now (excepted findings are not violations).
    pub before: usize,
    /// Violations of the edited policy on the same objects.
    pub after: usize,
    /// Sorted.
    pub added: Vec<Violation>,
    pub removed: Vec<Violation>,
}

/// `candidate` (an edited policy) evaluated on `snapshot`'s inputs; `None` while the cluster
/// has not evaluated anything yet (no inputs), or when the candidate does not compile.
pub fn edit_impact(
    snapshot: &ClusterSnapshot,
    candidate: &GuardianPolicy,
    now: Timestamp,
) -> Option<EditImpact> {
    let inputs = snapshot.inputs.as_ref()?;
    let name = candidate.metadata.name.as_deref()?;
    let exceptions: Vec<GuardianException> =
        snapshot.exceptions.iter().map(|e| (**e).clone()).collect();
    // Policies are matched and judged independently: the candidate alone gives its findings.
    let (set, rejected) = PolicySet::compile_partial(std::slice::from_ref(candidate), &exceptions);
    if rejected.iter().any(|r| r.kind == "GuardianPolicy") {
        return None;
    }
    let is_violation = |f: &&Finding| f.policy() == name && f.is_failure();
    let mut before: Vec<Violation> = snapshot
        .evaluations
        .iter()
        .flat_map(|e| e.findings.iter().filter(is_violation).map(Violation::of))
        .collect();
    let evaluator = Evaluator::new(&set, &*inputs.namespaces, now);
    let mut after: Vec<Violation> = inputs
        .objects
        .iter()
        .filter_map(|o| evaluator.object(&o.value()?))
        .flat_map(|e| {
            e.findings
                .iter()
                .filter(is_violation)
                .map(Violation::of)
                .collect::<Vec<_>>()
        })
        .collect();
    before.sort();
    after.sort();
    let added = after
        .iter()
        .filter(|v| before.binary_search(v).is_err())
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|v| after.binary_search(v).is_err())
        .cloned()
        .collect();
    Some(EditImpact {
        context: snapshot.context.clone(),
        before: before.len(),
        after: after.len(),
        added,
        removed,
    })
}

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
        let start = findings.iter().position(|f| f.policy() == policy);
        let count = findings.iter().filter(|f| f.policy() == policy).count();
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
            rules: found.iter().map(|f| Arc::clone(&f.rule.id)).collect(),
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

    #[test]
    fn the_edit_impact_counts_what_the_edited_policy_finds_less_what_exceptions_waive() {
        use guardian_core::crd::{GuardianException, GuardianPolicy};
        use serde_json::json;

        use crate::testing::evaluated;

        let policy = |rules: Vec<&str>| -> GuardianPolicy {
            let rules: Vec<serde_json::Value> = rules.iter().map(|r| json!({"id": r})).collect();
            serde_json::from_value(json!({
                "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
                "metadata": {"name": "p"}, "spec": {"rules": rules}
            }))
            .expect("policy")
        };
        let pod = |name: &str, privileged: bool, host: bool| {
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "namespace": "shop"},
                   "spec": {"hostNetwork": host, "containers": [{"name": "c", "image": "i:1",
                            "securityContext": {"privileged": privileged}}]}})
        };
        let mut cluster = snapshot("demo-a", Vec::new());
        let objects = [
            pod("root", true, false),
            pod("net", false, true),
            pod("both", true, true),
        ];
        evaluated(&mut cluster, vec![policy(vec!["pss-privileged"])], &objects);
        // `net`'s host namespaces are waived.
        let waiver: GuardianException = serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianException",
            "metadata": {"name": "net", "namespace": "shop"},
            "spec": {"policy": "p", "owner": "o", "justification": "j",
                     "expiresAt": "2999-01-01T00:00:00Z", "resources": {"names": ["net"]}}
        }))
        .expect("exception");
        cluster.exceptions = vec![Arc::new(waiver)];
        let candidate = policy(vec!["pss-host-namespaces"]);
        let impact = edit_impact(&cluster, &candidate, Timestamp::UNIX_EPOCH).expect("an impact");
        let names = |list: &[Violation]| -> Vec<String> {
            list.iter()
                .map(|v| format!("{} {}", v.resource.name, v.rule))
                .collect()
        };
        assert_eq!((impact.before, impact.after), (2, 1), "{impact:?}");
        assert_eq!(names(&impact.added), ["both pss-host-namespaces"]);
        assert_eq!(
            names(&impact.removed),
            ["both pss-privileged", "root pss-privileged"]
        );
        // No evaluation yet: no impact rather than a wrong one.
        let unknown = snapshot("demo-b", Vec::new());
        assert!(edit_impact(&unknown, &candidate, Timestamp::UNIX_EPOCH).is_none());
    }
}
