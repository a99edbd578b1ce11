//! Test helpers: wrap a pod spec fragment into every workload kind, run a library rule on it, and
//! assert on the exact paths and containers of its violations.

use serde_json::{Map, Value, json};

use crate::governance::policies;
use crate::governance::traits::{Params, Rule, Violation};
use crate::workload::{ObjectMeta, WorkloadKind, WorkloadView};

/// Every workload kind, in the order tests iterate them.
pub(crate) const KINDS: [WorkloadKind; 7] = [
    WorkloadKind::Pod,
    WorkloadKind::Deployment,
    WorkloadKind::StatefulSet,
    WorkloadKind::DaemonSet,
    WorkloadKind::ReplicaSet,
    WorkloadKind::Job,
    WorkloadKind::CronJob,
];

/// Kinds that run long-lived pods (not Job or CronJob).
pub(crate) const SERVICE_KINDS: [WorkloadKind; 5] = [
    WorkloadKind::Pod,
    WorkloadKind::Deployment,
    WorkloadKind::StatefulSet,
    WorkloadKind::DaemonSet,
    WorkloadKind::ReplicaSet,
];

pub(crate) fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str::<Value>(text).expect("test YAML parses")
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A manifest of `kind` whose pod template has metadata `pod_meta` and spec `spec` (both YAML).
/// The object itself is named `web` in namespace `team`, labelled `app.kubernetes.io/name: web`.
pub(crate) fn workload_with(kind: WorkloadKind, pod_meta: &str, spec: &str) -> Value {
    let spec = yaml(spec);
    let pod_meta = object(yaml(pod_meta));
    let mut meta = object(json!({
        "name": "web",
        "namespace": "team",
        "labels": {"app.kubernetes.io/name": "web"},
    }));
    let template = json!({"metadata": pod_meta, "spec": spec});
    let selector = json!({"matchLabels": {"app": "web"}});
    let (api_version, kind_name, body) = match kind {
        WorkloadKind::Pod => {
            meta.extend(object(template["metadata"].clone()));
            return json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]});
        }
        WorkloadKind::Deployment => (
            "apps/v1",
            "Deployment",
            json!({"replicas": 3, "selector": selector, "template": template}),
        ),
        WorkloadKind::StatefulSet => (
            "apps/v1",
            "StatefulSet",
            json!({"replicas": 3, "selector": selector, "template": template}),
        ),
        WorkloadKind::DaemonSet => (
            "apps/v1",
            "DaemonSet",
            json!({"selector": selector, "template": template}),
        ),
        WorkloadKind::ReplicaSet => (
            "apps/v1",
            "ReplicaSet",
            json!({"replicas": 3, "selector": selector, "template": template}),
        ),
        WorkloadKind::Job => ("batch/v1", "Job", json!({"template": template})),
        WorkloadKind::CronJob => (
            "batch/v1",
            "CronJob",
            json!({"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}),
        ),
    };
    json!({"apiVersion": api_version, "kind": kind_name, "metadata": meta, "spec": body})
}

/// A manifest of `kind` whose pod template spec is `spec` (YAML).
pub(crate) fn workload(kind: WorkloadKind, spec: &str) -> Value {
    workload_with(kind, "{}", spec)
}

/// `<pod spec path of kind>.<suffix>`, e.g. `spec.template.spec.containers[0].image`.
pub(crate) fn spec_path(kind: WorkloadKind, suffix: &str) -> String {
    format!("{}.{suffix}", kind.pod_spec_path())
}

/// `<pod metadata path of kind>.<suffix>`.
pub(crate) fn meta_path(kind: WorkloadKind, suffix: &str) -> String {
    format!("{}.{suffix}", kind.pod_metadata_path())
}

fn build(id: &str, params: Option<&Value>) -> Result<Box<dyn Rule>, String> {
    let rule = policies::rule(id).unwrap_or_else(|| panic!("no rule {id}"));
    (rule.build)(&Params(params.and_then(Value::as_object)))
}

fn run(rule: &dyn Rule, doc: &Value) -> Vec<Violation> {
    let meta = ObjectMeta::from_value(doc).expect("test manifest has apiVersion and kind");
    let view = WorkloadView::new(meta, doc).expect("test manifest is a workload");
    let mut out = Vec::new();
    rule.check(&view, &mut out);
    out
}

/// Runs the library rule `id`, with default parameters, on `doc`.
pub(crate) fn check(id: &str, doc: &Value) -> Vec<Violation> {
    let rule = build(id, None).unwrap_or_else(|e| panic!("{id} does not build: {e}"));
    run(rule.as_ref(), doc)
}

/// Runs the library rule `id`, with `params` (a JSON object), on `doc`.
pub(crate) fn check_with(id: &str, params: &Value, doc: &Value) -> Vec<Violation> {
    let rule = build(id, Some(params)).unwrap_or_else(|e| panic!("{id} does not build: {e}"));
    run(rule.as_ref(), doc)
}

/// Why the library rule `id` refuses `params`.
pub(crate) fn build_error(id: &str, params: &Value) -> String {
    match build(id, Some(params)) {
        Ok(rule) => panic!("{id} accepted {params}: {rule:?}"),
        Err(e) => e,
    }
}

pub(crate) fn paths(violations: &[Violation]) -> Vec<&str> {
    violations.iter().map(|v| v.path.as_str()).collect()
}

/// Rule `id`, with default parameters, reports nothing on `spec` in any workload kind.
#[track_caller]
pub(crate) fn assert_passes(id: &str, spec: &str) {
    for kind in KINDS {
        let v = check(id, &workload(kind, spec));
        assert!(v.is_empty(), "{id} on {kind:?} with {spec}: {v:#?}");
    }
}

/// Exactly one violation, at `path`, attributed to `container` (whose name its message quotes).
#[track_caller]
pub(crate) fn assert_one(violations: &[Violation], path: &str, container: Option<&str>) {
    assert_eq!(paths(violations), [path], "{violations:#?}");
    assert_violation(&violations[0], path, container);
}

/// One violation at `path`, attributed to `container` (whose name its message quotes).
#[track_caller]
pub(crate) fn assert_violation(v: &Violation, path: &str, container: Option<&str>) {
    assert_eq!(v.path, path, "{v:#?}");
    assert_eq!(v.container.as_deref(), container, "{v:#?}");
    if let Some(name) = container {
        let quoted = format!("container {name:?}");
        assert!(
            v.message.contains(&quoted),
            "message {:?} does not name {quoted}",
            v.message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::library;

    /// Wraps a rule's example into a Deployment, unless it is a whole manifest already.
    fn example_doc(example: &str) -> Value {
        if example.starts_with("apiVersion:") {
            yaml(example)
        } else {
            workload(WorkloadKind::Deployment, example)
        }
    }

    /// Runs rule `id` on an example, with the parameters of its leading `# parameters: {...}` comment.
    fn check_example(id: &str, example: &str) -> Vec<Violation> {
        let doc = example_doc(example);
        match example
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# parameters:"))
        {
            Some(params) => check_with(id, &yaml(params), &doc),
            None => check(id, &doc),
        }
    }

    #[test]
    fn every_example_fails_and_passes_as_documented() {
        for rule in library() {
            let m = &rule.meta;
            assert!(
                !m.description.is_empty() && !m.title.is_empty(),
                "{} lacks docs",
                m.id
            );
            assert!(
                !check_example(m.id, m.example_fail).is_empty(),
                "{}: example_fail passes",
                m.id
            );
            assert_eq!(
                check_example(m.id, m.example_pass),
                [],
                "{}: example_pass fails",
                m.id
            );
        }
    }

    #[test]
    fn every_rule_survives_malformed_input() {
        let specs = [
            "containers: 5",
            "containers: [5, null, {name: 3, securityContext: 7, image: [1], env: 1, ports: x}]",
            "initContainers: [{securityContext: {capabilities: {add: 1, drop: {a: b}}, seccompProfile: 4}}]",
            "containers: [{env: [3, {name: 4}, {name: TOKEN, value: 9}], resources: {requests: 2}}]",
            "containers: [{livenessProbe: 1, lifecycle: {postStart: 2}, ports: [1, {hostPort: x}]}]",
            "securityContext: {sysctls: [1, {name: 2}], seLinuxOptions: 3, appArmorProfile: []}",
            "volumes: [1, {name: x}, {hostPath: 1}]\nos: 7\nhostUsers: maybe",
            "[]",
            "null",
        ];
        for rule in library() {
            for kind in KINDS {
                for spec in specs {
                    let mut doc = workload_with(kind, "{annotations: 5}", spec);
                    check(rule.meta.id, &doc);
                    doc["metadata"] = json!("not a map");
                    if let Some(body) = doc.get_mut("spec").and_then(Value::as_object_mut) {
                        body.insert("replicas".to_owned(), json!("three"));
                    }
                    check(rule.meta.id, &doc);
                }
            }
        }
    }

    #[test]
    fn wrapped_workloads_have_the_pod_spec_where_the_view_looks() {
        for kind in KINDS {
            let doc = workload(kind, "containers: [{name: app}]");
            let meta = ObjectMeta::from_value(&doc).expect("meta");
            let view = WorkloadView::new(meta, &doc).expect("view");
            assert_eq!(view.kind, kind);
            let c = view.containers().next().expect("one container");
            assert_eq!(c.path(), spec_path(kind, "containers[0]"));
        }
    }
}
