//! A cluster's violations are the core engine's: the example policies, an exception and the
//! example manifests applied to a real API server give, object by object, exactly what
//! `PolicySet::evaluate` gives for the same objects as the server stores them.

use std::collections::BTreeMap;
use std::path::Path;

use guardian_cluster::cache::workload_resources;
use guardian_cluster::{ClusterSet, ClusterSnapshot};
use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::{EvalContext, Evaluation, FailClosed, NamespaceMap, PolicySet};
use guardian_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use serde::Deserialize;
use serde_json::Value;

use crate::support::{options, targets, wait_for};

/// Every YAML document of the files in `dir`, as JSON.
fn documents(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("examples dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).expect("example file");
            serde_yaml_ng::Deserializer::from_str(&text)
                .map(|doc| Value::deserialize(doc).expect("YAML"))
                .filter(|v| !v.is_null())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn examples(sub: &str) -> Vec<Value> {
    documents(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(sub),
    )
}

/// The findings of one object as comparable rows.
type Rows = Vec<String>;

fn rows(findings: &[guardian_core::model::Finding]) -> Rows {
    let mut rows: Rows = findings.iter().map(|f| format!("{f:?}")).collect();
    rows.sort();
    rows
}

/// Policy names in name order (the cluster compiles its policies sorted by name).
fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort();
    names
}

fn in_namespace(snapshot: &ClusterSnapshot, ns: &str) -> BTreeMap<String, (Vec<String>, Rows)> {
    snapshot
        .evaluations
        .iter()
        .filter(|e| e.resource.namespace.as_deref() == Some(ns))
        .map(|e| {
            (
                e.resource.to_string(),
                (
                    sorted(e.matched_policies.iter().map(|p| p.to_string())),
                    rows(&e.findings),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violations_are_what_the_core_engine_finds_for_the_same_objects() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("admin client");
    let ns = cp.create_namespace("evaluation").await.expect("namespace");

    let policies: Vec<GuardianPolicy> = examples("policies")
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("a GuardianPolicy"))
        .collect();
    let policy_api = Api::<GuardianPolicy>::all(client.clone());
    for policy in &policies {
        policy_api
            .create(&PostParams::default(), policy)
            .await
            .expect("policy created");
    }
    let mut exceptions: Vec<GuardianException> = Vec::new();
    for mut value in examples("exceptions") {
        value["metadata"]["namespace"] = Value::from(ns.clone());
        let exception: GuardianException = serde_json::from_value(value).expect("exception");
        let created = Api::<GuardianException>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &exception)
            .await
            .expect("exception created");
        exceptions.push(created);
    }
    let mut stored = Vec::new();
    for dir in ["manifests/violating", "manifests/compliant"] {
        for mut value in examples(dir) {
            value["metadata"]["namespace"] = Value::from(ns.clone());
            let kind = value["kind"].as_str().unwrap_or_default().to_owned();
            let ar = workload_resources()
                .into_iter()
                .find(|ar| ar.kind == kind)
                .unwrap_or_else(|| panic!("{kind} is a workload kind"));
            let object: DynamicObject = serde_json::from_value(value).expect("object");
            let created = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &ar)
                .create(&PostParams::default(), &object)
                .await
                .expect("object created");
            let mut json = serde_json::to_value(&created).expect("JSON");
            json["apiVersion"] = Value::from(ar.api_version.clone());
            json["kind"] = Value::from(ar.kind.clone());
            stored.push(json);
        }
    }

    let set = ClusterSet::start(targets(&[cp.kubeconfig_path()]), options());
    let mut rx = set.subscribe().remove(0);
    let names: Vec<String> = policies
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let snapshot = wait_for(&mut rx, "every object, policy and exception", |s| {
        names.iter().all(|n| {
            s.policies
                .iter()
                .any(|p| p.metadata.name.as_deref() == Some(n))
        }) && s
            .exceptions
            .iter()
            .filter(|e| e.metadata.namespace.as_deref() == Some(&ns))
            .count()
            == exceptions.len()
            && in_namespace(s, &ns).len() == stored.len()
    })
    .await;

    // The same objects through the core engine, with the namespace's labels as the server has them.
    let labels = Api::<Namespace>::all(client)
        .get(&ns)
        .await
        .expect("namespace")
        .metadata
        .labels
        .unwrap_or_default();
    let namespaces = FailClosed(NamespaceMap([(ns.clone(), labels)].into_iter().collect()));
    let set_of_engine = PolicySet::compile(&policies, &exceptions).expect("the examples compile");
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces: &namespaces,
    };
    let expected: BTreeMap<String, (Vec<String>, Rows)> = stored
        .iter()
        .map(|object| match set_of_engine.evaluate(object, &ctx) {
            Evaluation::Evaluated {
                resource,
                matched_policies,
                findings,
            } => (
                resource.to_string(),
                (
                    sorted(matched_policies.into_iter().map(|m| m.name.to_string())),
                    rows(&findings),
                ),
            ),
            Evaluation::Skipped(why) => panic!("a workload is evaluated: {why}"),
        })
        .collect();
    assert_eq!(in_namespace(&snapshot, &ns), expected);
    assert!(
        expected
            .values()
            .any(|(_, rows)| rows.iter().any(|r| r.contains("outcome: Skip {"))),
        "the exception applies to something: {expected:#?}"
    );
    assert!(
        expected.values().map(|(_, rows)| rows.len()).sum::<usize>() > 5,
        "the examples violate policies: {expected:#?}"
    );
}
