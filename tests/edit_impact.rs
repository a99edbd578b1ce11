//! The console's edit impact against the operator: a policy edit's preview (the candidate
//! evaluated on the cluster's cached workloads, `guardian_cluster::impact::edit_impact`) gives
//! the same violation count the operator reports once the edit is applied. Real API server,
//! `kube-guardian operator` running, the ClusterSet as the console runs it.

use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::impact::edit_impact;
use guardian_cluster::write::{ObjectKey, fetch, replace};
use guardian_cluster::{ClusterOptions, ClusterSet, ClusterSnapshot, ContextSelection};
use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::OperatorProcess;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(90);
const BIN: &str = env!("CARGO_BIN_EXE_kube-guardian");
const NS: &str = "impact";

async fn create<K>(api: Api<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).expect("a valid object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("created");
}

fn pod(name: &str, privileged: bool, host_network: bool) -> serde_json::Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "hostNetwork": host_network,
            "containers": [{"name": "c", "image": "registry.example.com/c:1",
                            "securityContext": {"privileged": privileged}}]
        }
    })
}

/// The operator's violation count of `name` once it reconciled generation `generation`.
async fn operator_count(api: &Api<GuardianPolicy>, name: &str, generation: i64) -> u64 {
    let waited = tokio::time::timeout(DEADLINE, async {
        loop {
            let policy = api.get(name).await.expect("read");
            let status = policy.status.unwrap_or_default();
            if status.observed_generation.is_some_and(|o| o >= generation)
                && let Some(summary) = status.summary
            {
                return summary.violations;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("the operator did not reconcile {name} at {generation}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edit_impact_equals_what_the_operator_reports_after_the_edit() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let cp = ControlPlane::builder()
        .context_name("impact")
        .use_existing_cluster(false)
        .start()
        .await
        .expect("a local control plane");
    guardian_testenv::demo::install_crds(&cp)
        .await
        .expect("CRDs");
    let client = cp.client().expect("client");
    create(
        Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": NS}}),
    )
    .await;
    let pods = Api::<Pod>::namespaced(client.clone(), NS);
    for (name, privileged, host) in [
        ("a", true, false),
        ("b", true, true),
        ("c", false, true),
        ("d", false, false),
    ] {
        create(pods.clone(), pod(name, privileged, host)).await;
    }
    let policies = Api::<GuardianPolicy>::all(client.clone());
    create(
        policies.clone(),
        json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": {"name": "impact"},
            "spec": {"match": {"namespaces": [NS]}, "rules": [{"id": "pss-privileged"}]}
        }),
    )
    .await;
    let _operator = OperatorProcess::builder(BIN, cp.kubeconfig_path(), "impact")
        .name("operator")
        .start(dir.path())
        .expect("the operator starts");

    let targets = guardian_cluster::kubeconfig::select(&ContextSelection {
        kubeconfigs: vec![cp.kubeconfig_path().to_owned()],
        contexts: Vec::new(),
        all_contexts: true,
    })
    .expect("targets");
    let set = ClusterSet::start(targets, ClusterOptions::default());
    let mut receiver = set.subscribe().remove(0);
    let in_ns = |s: &ClusterSnapshot| {
        s.evaluations
            .iter()
            .filter(|e| e.resource.namespace.as_deref() == Some(NS))
            .count()
    };
    let snapshot: Arc<ClusterSnapshot> = tokio::time::timeout(DEADLINE, async {
        receiver
            .wait_for(|s| s.inputs.is_some() && in_ns(s) == 4 && !s.policies.is_empty())
            .await
            .map(|s| Arc::clone(&s))
    })
    .await
    .expect("the cluster evaluated within the deadline")
    .expect("the task runs");

    let before = operator_count(&policies, "impact", 1).await;
    assert_eq!(before, 2, "a and b are privileged");

    let mut candidate: GuardianPolicy = (*snapshot.policies[0]).clone();
    candidate.spec.rules = serde_json::from_value(json!([
        {"id": "pss-privileged"}, {"id": "pss-host-namespaces"}
    ]))
    .expect("rules");
    let impact =
        edit_impact(&snapshot, &candidate, k8s_openapi::jiff::Timestamp::now()).expect("an impact");
    assert_eq!(u64::try_from(impact.before).ok(), Some(before));
    assert!(impact.removed.is_empty(), "{impact:?}");
    let added: Vec<String> = impact
        .added
        .iter()
        .map(|v| format!("{} {}", v.resource.name, v.rule))
        .collect();
    assert_eq!(
        added,
        ["b pss-host-namespaces", "c pss-host-namespaces"],
        "{impact:?}"
    );

    let key = ObjectKey::policy("impact");
    let fetched = fetch(&client, &key).await.expect("read");
    let mut edited = fetched.editable.clone();
    edited["spec"]["rules"] = json!([{"id": "pss-privileged"}, {"id": "pss-host-namespaces"}]);
    let written = replace(&client, &key, &edited, &fetched.resource_version)
        .await
        .expect("the edit is applied");
    let generation = written.metadata.generation.expect("a generation");
    let after = operator_count(&policies, "impact", generation).await;
    assert_eq!(
        u64::try_from(impact.after).ok(),
        Some(after),
        "the preview's count is the operator's: {impact:?}"
    );
    set.shutdown();
}
