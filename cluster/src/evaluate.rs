//! Violations of one cluster: its cached workloads evaluated in the core engine with the
//! cluster's own GuardianPolicies and GuardianExceptions, so they show where no operator runs.

use std::sync::Arc;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::{EvalContext, Evaluation, NamespaceLabels, PolicySet};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::snapshot::{ObjectEvaluation, Rejected};

/// The cluster's policies and exceptions, compiled: what compiles is used, the rest reported (one
/// broken policy never hides the findings of the others, as in the operator).
#[derive(Debug)]
pub struct Compiled {
    pub set: Arc<PolicySet>,
    pub rejected: Vec<Rejected>,
}

/// Compiles the cluster's policies and exceptions.
pub fn compile(
    policies: &[Arc<GuardianPolicy>],
    exceptions: &[Arc<GuardianException>],
) -> Compiled {
    let policies: Vec<GuardianPolicy> = policies.iter().map(|p| (**p).clone()).collect();
    let exceptions: Vec<GuardianException> = exceptions.iter().map(|e| (**e).clone()).collect();
    let (set, rejected) = PolicySet::compile_partial(&policies, &exceptions);
    Compiled {
        set: Arc::new(set),
        rejected: rejected
            .into_iter()
            .map(|r| Rejected {
                kind: r.kind,
                name: r.name,
                errors: r.errors.iter().map(ToString::to_string).collect(),
            })
            .collect(),
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
    let names: Vec<Arc<str>> = set.policies().map(|p| Arc::from(p.name)).collect();
    let ctx = EvalContext { now, namespaces };
    let mut evaluations: Vec<ObjectEvaluation> = objects
        .into_iter()
        .filter_map(|object| match set.evaluate(&object, &ctx) {
            Evaluation::Evaluated {
                resource,
                matched_policies,
                findings,
            } => Some(ObjectEvaluation {
                resource,
                matched_policies: matched_policies
                    .into_iter()
                    .filter_map(|i| names.get(i).cloned())
                    .collect(),
                findings,
            }),
            Evaluation::Skipped(_) => None,
        })
        .collect();
    evaluations.sort_by(|a, b| {
        let key = |e: &ObjectEvaluation| {
            (
                e.resource.namespace.clone(),
                e.resource.kind.clone(),
                e.resource.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    evaluations
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
        let compiled = compile(&[policy(BASELINE_FOR_PROD), broken], &[]);
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
                .any(|f| f.rule.contains("privileged")),
            "{:?}",
            evaluations[2].findings
        );
        assert_eq!(seen.len(), 3, "the ConfigMap is not a workload");
    }
}
