//! Checks on the workload object itself rather than its pod template: replicas, labels, namespace.

use serde_json::Value;

use super::BEST_PRACTICES;
use crate::governance::traits::{
    BuiltinRule, ParamDoc, Params, Rule, RuleMeta, Violation, no_params,
};
use crate::model::{Category, Severity};
use crate::workload::{WorkloadKind, WorkloadView};

/// `Deployment "web"`, to start a message about the object.
fn subject(w: &WorkloadView<'_>) -> String {
    format!("{} {:?}", w.meta.kind, w.meta.name)
}

pub(super) const MIN_REPLICAS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "min-replicas",
        title: "Minimum replicas",
        category: Category::Reliability,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "A Deployment or StatefulSet with a single replica is unavailable during every node drain, \
                      rollout or crash. spec.replicas defaults to 1 when absent; 0 (deliberately scaled down) is not \
                      reported. Workloads scaled by a HorizontalPodAutoscaler may omit replicas: disable the rule or \
                      add an exception for them.",
        remediation: "Set spec.replicas to at least the configured minimum (2 by default) and add a \
                      PodDisruptionBudget.",
        parameters: &[ParamDoc {
            name: "min",
            description: "The smallest acceptable replica count, from 1 to 1000.",
            default: "2",
        }],
        example_fail: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n",
        example_pass: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    },
    build: build_min_replicas,
};

#[derive(Debug)]
struct MinReplicas {
    min: i64,
}

fn build_min_replicas(params: &Params) -> Result<Box<dyn Rule>, String> {
    params.reject_unknown(&["min"])?;
    let min = params.integer("min", 2, 1, 1000)?;
    Ok(Box::new(MinReplicas { min }))
}

impl Rule for MinReplicas {
    fn applies_to(&self, kind: WorkloadKind) -> bool {
        matches!(kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet)
    }

    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if !self.applies_to(w.kind) {
            return;
        }
        let (replicas, note) = match w.raw.get("spec").and_then(|s| s.get("replicas")) {
            None | Some(Value::Null) => (1, " (spec.replicas is not set)"),
            Some(v) => match v.as_i64() {
                Some(n) => (n, ""),
                None => return,
            },
        };
        if replicas == 0 || replicas >= self.min {
            return;
        }
        out.push(Violation::new(
            "spec.replicas".to_owned(),
            format!(
                "{} runs {replicas} {}{note}; at least {} are required",
                subject(w),
                if replicas == 1 { "replica" } else { "replicas" },
                self.min
            ),
        ));
    }
}

pub(super) const REQUIRED_LABELS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "required-labels",
        title: "Required labels",
        category: Category::Reliability,
        severity: Severity::Low,
        profiles: BEST_PRACTICES,
        description: "The workload's metadata.labels must carry every configured key, so owners, dashboards and \
                      cost reports can find it.",
        remediation: "Add the missing keys to metadata.labels, e.g. app.kubernetes.io/name: <app>.",
        parameters: &[ParamDoc {
            name: "labels",
            description: "Label keys that must be present on the object's metadata.labels (any value).",
            default: "[\"app.kubernetes.io/name\"]",
        }],
        example_fail: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n",
        example_pass: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/name: web\n",
    },
    build: build_required_labels,
};

#[derive(Debug)]
struct RequiredLabels {
    labels: Vec<String>,
}

fn build_required_labels(params: &Params) -> Result<Box<dyn Rule>, String> {
    params.reject_unknown(&["labels"])?;
    let labels = params.strings("labels", &["app.kubernetes.io/name"])?;
    if labels.iter().any(String::is_empty) {
        return Err("labels must not contain an empty key".to_owned());
    }
    Ok(Box::new(RequiredLabels { labels }))
}

impl Rule for RequiredLabels {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        let present = w.meta.labels();
        for key in &self.labels {
            if !present.is_some_and(|l| l.contains_key(key)) {
                out.push(Violation::new(
                    format!("metadata.labels[{key:?}]"),
                    format!("{} is missing the label {key:?}", subject(w)),
                ));
            }
        }
    }
}

pub(super) const DEFAULT_NAMESPACE: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "default-namespace",
        title: "Not in the default namespace",
        category: Category::Reliability,
        severity: Severity::Low,
        profiles: BEST_PRACTICES,
        description: "Workloads in the default namespace share it with everything else deployed without thought, \
                      so RBAC, quotas and network policies cannot be scoped to them. Offline manifests without \
                      metadata.namespace land in whatever namespace is current when applied, usually default.",
        remediation: "Set metadata.namespace to the application's own namespace (or set it with kustomize or Helm).",
        parameters: &[],
        example_fail: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n",
        example_pass: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n",
    },
    build: no_params::<DefaultNamespace>,
};

#[derive(Debug, Default)]
struct DefaultNamespace;

impl Rule for DefaultNamespace {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        let message = match w.meta.namespace {
            None | Some("") => format!(
                "{} is in the default namespace (metadata.namespace is not set)",
                subject(w)
            ),
            Some("default") => format!("{} is in the default namespace", subject(w)),
            Some(_) => return,
        };
        out.push(Violation::new("metadata.namespace".to_owned(), message));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::governance::rules::testing::{
        KINDS, assert_one, build_error, check, check_with, workload,
    };
    use crate::workload::WorkloadKind;

    #[test]
    fn too_few_replicas_fail_for_deployments_and_statefulsets() {
        for kind in [WorkloadKind::Deployment, WorkloadKind::StatefulSet] {
            let mut doc = workload(kind, "containers: [{name: app}]");
            doc["spec"]["replicas"] = json!(1);
            let v = check("min-replicas", &doc);
            assert_one(&v, "spec.replicas", None);
            assert!(v[0].message.contains("runs 1 replica;"), "{}", v[0].message);

            doc["spec"]
                .as_object_mut()
                .expect("spec")
                .remove("replicas");
            let v = check("min-replicas", &doc);
            assert_one(&v, "spec.replicas", None);
            assert!(v[0].message.contains("not set"), "{}", v[0].message);

            doc["spec"]["replicas"] = json!(4);
            assert_eq!(
                check_with("min-replicas", &json!({"min": 5}), &doc).len(),
                1
            );
        }
    }

    #[test]
    fn enough_replicas_zero_or_other_kinds_pass() {
        for kind in KINDS {
            let mut doc = workload(kind, "containers: [{name: app}]");
            doc["spec"]["replicas"] = json!(2);
            assert_eq!(check("min-replicas", &doc), [], "{kind:?}");
            doc["spec"]["replicas"] = json!(0);
            assert_eq!(check("min-replicas", &doc), [], "{kind:?}");
        }
        for kind in [
            WorkloadKind::DaemonSet,
            WorkloadKind::ReplicaSet,
            WorkloadKind::Job,
        ] {
            let mut doc = workload(kind, "containers: [{name: app}]");
            doc["spec"]["replicas"] = json!(1);
            assert_eq!(check("min-replicas", &doc), [], "{kind:?}");
        }
    }

    #[test]
    fn min_replicas_parameter_is_validated() {
        assert!(build_error("min-replicas", &json!({"min": 0})).contains("from 1 to 1000"));
        assert!(build_error("min-replicas", &json!({"min": "2"})).contains("integer"));
        assert!(build_error("min-replicas", &json!({"minimum": 2})).contains("unknown parameter"));
    }

    #[test]
    fn missing_required_labels_fail_one_by_one() {
        let params = json!({"labels": ["app.kubernetes.io/name", "team", "tier"]});
        for kind in KINDS {
            let mut doc = workload(kind, "containers: [{name: app}]");
            doc["metadata"]["labels"]["team"] = json!("");
            let v = check_with("required-labels", &params, &doc);
            assert_one(&v, "metadata.labels[\"tier\"]", None);
            assert!(v[0].message.contains("\"web\""), "{}", v[0].message);

            doc["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("labels");
            let v = check("required-labels", &doc);
            assert_one(&v, "metadata.labels[\"app.kubernetes.io/name\"]", None);
        }
    }

    #[test]
    fn present_labels_pass_and_parameters_are_validated() {
        for kind in KINDS {
            assert_eq!(
                check(
                    "required-labels",
                    &workload(kind, "containers: [{name: app}]")
                ),
                []
            );
        }
        assert!(build_error("required-labels", &json!({"labels": [""]})).contains("empty"));
        assert!(
            build_error("required-labels", &json!({"labels": [1]})).contains("list of strings")
        );
    }

    #[test]
    fn default_or_missing_namespace_fails() {
        for kind in KINDS {
            let mut doc = workload(kind, "containers: [{name: app}]");
            doc["metadata"]["namespace"] = json!("default");
            let v = check("default-namespace", &doc);
            assert_one(&v, "metadata.namespace", None);
            assert!(!v[0].message.contains("not set"));

            doc["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("namespace");
            let v = check("default-namespace", &doc);
            assert_one(&v, "metadata.namespace", None);
            assert!(
                v[0].message
                    .ends_with("is in the default namespace (metadata.namespace is not set)")
            );
        }
    }

    #[test]
    fn other_namespaces_pass() {
        for kind in KINDS {
            assert_eq!(
                check(
                    "default-namespace",
                    &workload(kind, "containers: [{name: app}]")
                ),
                []
            );
        }
    }
}
