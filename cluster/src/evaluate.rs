//! Violations of one cluster: its cached workloads evaluated in the core engine with the
//! cluster's own GuardianPolicies and GuardianExceptions, so they show where no operator runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::{EvalContext, Evaluation, NamespaceLabels, PolicySet};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::snapshot::{ObjectEvaluation, Rejected};
use crate::store::PolicyStore;

mod compact;

/// The cluster's policies and exceptions, compiled: what compiles is used, the rest reported (one
/// broken policy never hides the findings of the others).
#[derive(Debug)]
pub struct Compiled {
    pub set: Arc<PolicySet>,
    pub rejected: Vec<Rejected>,
}

/// Compiles the cluster's policies and exceptions through `store`, the operator's policy store:
/// a policy whose current generation does not compile is evaluated in its last good generation,
/// as the operator enforces it, and reported as rejected.
pub fn compile(
    store: &PolicyStore,
    policies: &[Arc<GuardianPolicy>],
    exceptions: &[Arc<GuardianException>],
) -> Compiled {
    let policies: Vec<GuardianPolicy> = policies.iter().map(|p| (**p).clone()).collect();
    let exceptions: Vec<GuardianException> = exceptions.iter().map(|e| (**e).clone()).collect();
    let snapshot = store.rebuild(&policies, &exceptions);
    let rejected = |kind: &'static str, map: &BTreeMap<String, Vec<String>>| {
        map.iter()
            .map(|(name, errors)| Rejected {
                kind,
                name: name.clone(),
                errors: errors.clone(),
            })
            .collect::<Vec<_>>()
    };
    let mut all = rejected("GuardianPolicy", &snapshot.rejected_policies);
    all.extend(rejected("GuardianException", &snapshot.rejected_exceptions));
    Compiled {
        set: Arc::clone(&snapshot.set),
        rejected: all,
    }
}

/// Evaluates every object with `set`; objects no policy matches are listed too (they count as
/// compliant). Sorted by namespace, kind and name, so snapshots compare and print stably.
pub fn evaluate(
    set: &PolicySet,
    objects: impl IntoIterator<Item = Value>,
    namespaces: &dyn NamespaceLabels,
    now: Timestamp,
) -> Vec<ObjectEvaluation> {
    let evaluator = Evaluator::new(set, namespaces, now);
    let mut evaluations: Vec<ObjectEvaluation> = objects
        .into_iter()
        .filter_map(|object| evaluator.object(&object))
        .collect();
    sort(&mut evaluations);
    evaluations
}

/// A compiled set ready to evaluate objects one at a time.
pub struct Evaluator<'a> {
    set: &'a PolicySet,
    ctx: EvalContext<'a>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("policies", &self.set.policies().count())
            .finish_non_exhaustive()
    }
}

impl<'a> Evaluator<'a> {
    pub fn new(set: &'a PolicySet, namespaces: &'a dyn NamespaceLabels, now: Timestamp) -> Self {
        Evaluator {
            set,
            ctx: EvalContext { now, namespaces },
        }
    }

    /// One object's evaluation, in exact buffers (kept by snapshots: module `compact`); `None`
    /// for an object that is no workload.
    pub fn object(&self, object: &Value) -> Option<ObjectEvaluation> {
        match self.set.evaluate(object, &self.ctx) {
            Evaluation::Evaluated {
                resource,
                matched_policies,
                findings,
            } => Some(ObjectEvaluation {
                resource,
                matched_policies: compact::vec(matched_policies.into_iter().map(|m| m.name)),
                findings: compact::findings(findings),
            }),
            Evaluation::Skipped(_) => None,
        }
    }
}

/// Namespace, kind and name order.
pub fn sort<E: std::borrow::Borrow<ObjectEvaluation>>(evaluations: &mut [E]) {
    fn key(e: &ObjectEvaluation) -> (Option<&str>, &str, &str) {
        let r = &e.resource;
        (r.namespace.as_deref(), &r.kind, &r.name)
    }
    evaluations.sort_by(|a, b| key(a.borrow()).cmp(&key(b.borrow())));
}

#[cfg(test)]
mod tests {
    use guardian_core::engine::{FailClosed, NamespaceMap};
    use serde_json::json;

    use super::*;

    fn policy(yaml: &str) -> Arc<GuardianPolicy> {
        Arc::new(serde_yaml_ng::from_str(yaml).expect("policy YAML"))
    }

    fn pod(namespace: &str, name: &str, privileged: bool) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{
                "name": "app", "image": "nginx:1.27",
                "securityContext": {"privileged": privileged}
            }]}
        })
    }

    const BASELINE_FOR_PROD: &str = "
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata: {name: baseline-prod}
spec:
  enforcement: Audit
  match:
    namespaceSelector: {matchLabels: {env: prod}}
  profiles: [pss-baseline]
";

    #[test]
    fn objects_are_judged_by_the_policies_their_namespace_labels_select() {
        let broken = policy(
            "
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata: {name: broken}
spec:
  rules: [{id: no-such-rule}]
",
        );
        let compiled = compile(
            &PolicyStore::new(),
            &[policy(BASELINE_FOR_PROD), broken],
            &[],
        );
        assert_eq!(compiled.rejected.len(), 1);
        assert_eq!(
            (
                compiled.rejected[0].kind,
                compiled.rejected[0].name.as_str()
            ),
            ("GuardianPolicy", "broken")
        );
        let namespaces = FailClosed(NamespaceMap(
            [("shop", [("env", "prod")]), ("lab", [("env", "dev")])]
                .into_iter()
                .map(|(ns, labels)| {
                    let labels: BTreeMap<String, String> = labels
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    (ns.to_owned(), labels)
                })
                .collect(),
        ));
        let objects = vec![
            pod("shop", "web", true),
            pod("lab", "toy", true),
            pod("shop", "api", false),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}),
        ];
        let evaluations = evaluate(&compiled.set, objects, &namespaces, Timestamp::now());
        let seen: Vec<(String, Vec<&str>, usize)> = evaluations
            .iter()
            .map(|e| {
                (
                    e.resource.to_string(),
                    e.matched_policies.iter().map(|p| &**p).collect(),
                    e.findings.len(),
                )
            })
            .collect();
        assert_eq!(seen[0], ("Pod/lab/toy".to_owned(), vec![], 0));
        assert_eq!(
            seen[1],
            ("Pod/shop/api".to_owned(), vec!["baseline-prod"], 0)
        );
        assert_eq!(seen[2].0, "Pod/shop/web");
        assert_eq!(seen[2].1, vec!["baseline-prod"]);
        assert!(
            evaluations[2]
                .findings
                .iter()
                .any(|f| f.rule_id().contains("privileged")),
            "{:?}",
            evaluations[2].findings
        );
        assert_eq!(seen.len(), 3, "the ConfigMap is not a workload");
    }

    #[test]
    fn an_evaluation_keeps_its_findings_in_exact_buffers() {
        let restricted = policy(
            "
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata: {name: restricted}
spec:
  profiles: [pss-restricted, best-practices]
",
        );
        let compiled = compile(&PolicyStore::new(), &[restricted], &[]);
        let namespaces = FailClosed(NamespaceMap::default());
        let evaluator = Evaluator::new(&compiled.set, &namespaces, Timestamp::now());
        let evaluation = evaluator
            .object(&pod("shop", "web", true))
            .expect("a Pod is a workload");
        let findings = &evaluation.findings;
        assert!(findings.len() > 4, "{findings:?}");
        assert_eq!(findings.capacity(), findings.len());
        for f in findings {
            assert_eq!(f.message.capacity(), f.message.len(), "{f:?}");
            assert_eq!(f.path.capacity(), f.path.len(), "{f:?}");
        }
        let matched = &evaluation.matched_policies;
        assert_eq!(matched.capacity(), matched.len());
    }

    #[test]
    fn a_policy_edited_into_an_error_is_evaluated_in_its_last_good_generation() {
        let store = PolicyStore::new();
        let mut good: GuardianPolicy =
            serde_yaml_ng::from_str(BASELINE_FOR_PROD).expect("policy YAML");
        good.metadata.uid = Some("uid-1".into());
        good.metadata.generation = Some(1);
        good.metadata.resource_version = Some("1".into());
        let first = compile(&store, &[Arc::new(good.clone())], &[]);
        assert!(first.rejected.is_empty());

        let mut broken = good;
        broken.metadata.generation = Some(2);
        broken.metadata.resource_version = Some("2".into());
        broken.spec = serde_yaml_ng::from_str("rules: [{id: no-such-rule}]").expect("spec");
        let compiled = compile(&store, &[Arc::new(broken)], &[]);
        assert_eq!(
            compiled.set.policies().map(|p| p.name).collect::<Vec<_>>(),
            ["baseline-prod"],
            "still evaluated, as the operator enforces it"
        );
        assert_eq!(compiled.rejected.len(), 1);
        assert_eq!(compiled.rejected[0].name, "baseline-prod");
        assert!(!compiled.rejected[0].errors.is_empty());
    }
}
