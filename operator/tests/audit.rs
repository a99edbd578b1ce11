//! The audit against the real control plane: owned objects are evaluated through a cached owner
//! whose template makes them only (anything else that claims an owner is audited itself, and so is an object whose owner
//! goes away), and PolicyReports converge after a restart (what changed while no operator ran
//! leaves no row and no report behind).

// `pub`: this binary uses a few of the shared helpers only.
pub mod common;

use std::time::Duration;

use common::*;
use guardian_core::crd::GuardianPolicy;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

fn host_network_pod(name: &str, owner: Option<(&str, &str, &str, &str)>) -> String {
    let owner = owner.map_or_else(String::new, |(api_version, kind, name, uid)| {
        format!(
            "  ownerReferences: [{{apiVersion: {api_version}, kind: {kind}, name: {name}, uid: {uid}, controller: true}}]\n"
        )
    });
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
{owner}spec:
  hostNetwork: true
  containers:
  - name: app
    image: registry.example.com/app:1.0
"#
    )
}

/// A ReplicaSet whose template is compliant; nothing turns it into Pods here (no controller
/// manager), so the test adds the Pod it "owns".
const REPLICA_SET: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
"#;

/// A compliant workload of `kind` with no replicas (a real cluster makes no Pods of it), and with
/// `host_network` in its template a violation; `owner` as in [`host_network_pod`].
fn workload(
    kind: &str,
    name: &str,
    host_network: bool,
    owner: Option<(&str, &str, &str, &str)>,
) -> String {
    let owner = owner.map_or_else(String::new, |(api_version, kind, name, uid)| {
        format!(
            "  ownerReferences: [{{apiVersion: {api_version}, kind: {kind}, name: {name}, uid: {uid}, controller: true}}]\n"
        )
    });
    // A StatefulSet names its governing Service; a Deployment has no such field.
    let service = if kind == "StatefulSet" {
        format!("  serviceName: {name}\n")
    } else {
        String::new()
    };
    format!(
        r#"
apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
{owner}spec:
  replicas: 0
{service}  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      hostNetwork: {host_network}
      containers:
      - name: app
        image: registry.example.com/app:1.0
"#
    )
}

fn counts(p: &GuardianPolicy) -> Option<(u64, u64)> {
    let s = p.status.as_ref()?.summary.as_ref()?;
    Some((s.resources_evaluated, s.violations))
}

/// The names of the resources in the namespace's report.
async fn reported(reports: &Api<DynamicObject>) -> Option<Vec<String>> {
    let report = reports.get_opt("kube-guardian").await.ok()??;
    let mut names: Vec<String> = report.data["results"]
        .as_array()?
        .iter()
        .filter_map(|r| r["resources"][0]["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    Some(names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_audited_through_cached_owners_only() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("owned").await.expect("namespace");

    let cm = create(
        &client,
        Some(&ns),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: claimed}\n",
    )
    .await;
    let cm_uid = cm.metadata.uid.clone().expect("uid");
    create(
        &client,
        Some(&ns),
        &host_network_pod(
            "claims-a-configmap",
            Some(("v1", "ConfigMap", "claimed", &cm_uid)),
        ),
    )
    .await;
    // A CRD operator's Pod: its owner is no kind the operator watches.
    create(
        &client,
        Some(&ns),
        &host_network_pod(
            "crd-operated",
            Some((
                "example.com/v1",
                "Database",
                "db",
                "00000000-0000-0000-0000-000000000002",
            )),
        ),
    )
    .await;
    let rs = create(&client, Some(&ns), REPLICA_SET).await;
    let rs_uid = rs.metadata.uid.clone().expect("uid");
    create(
        &client,
        Some(&ns),
        &host_network_pod("web-x", Some(("apps/v1", "ReplicaSet", "web", &rs_uid))),
    )
    .await;
    // The ReplicaSet's too, until `kubectl debug` adds a container no template holds.
    create(
        &client,
        Some(&ns),
        &host_network_pod(
            "web-debugged",
            Some(("apps/v1", "ReplicaSet", "web", &rs_uid)),
        ),
    )
    .await;
    // Claims the ReplicaSet by name with another uid: not its Pod.
    create(
        &client,
        Some(&ns),
        &host_network_pod(
            "impostor",
            Some((
                "apps/v1",
                "ReplicaSet",
                "web",
                "00000000-0000-0000-0000-000000000003",
            )),
        ),
    )
    .await;

    // Claims a Deployment directly: Kubernetes makes Pods from its ReplicaSets, never from it.
    let deploy = create(
        &client,
        Some(&ns),
        &workload("Deployment", "target", false, None),
    )
    .await;
    let deploy_uid = deploy.metadata.uid.clone().expect("uid");
    create(
        &client,
        Some(&ns),
        &host_network_pod(
            "claims-a-deployment",
            Some(("apps/v1", "Deployment", "target", &deploy_uid)),
        ),
    )
    .await;
    // A Deployment claiming an unrelated StatefulSet: no controller chain either.
    let sts = create(
        &client,
        Some(&ns),
        &workload("StatefulSet", "db", false, None),
    )
    .await;
    let sts_uid = sts.metadata.uid.clone().expect("uid");
    create(
        &client,
        Some(&ns),
        &workload(
            "Deployment",
            "claims-a-statefulset",
            true,
            Some(("apps/v1", "StatefulSet", "db", &sts_uid)),
        ),
    )
    .await;

    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    let name = format!("{ns}-owned");
    host_policy(&name, &[&ns]).created(&client).await;
    // Evaluated: the ReplicaSet (for its Pods too), the four Pods no cached workload controls,
    // the Deployment and the StatefulSet claimed, and the Deployment claiming the StatefulSet.
    eventually("8 resources evaluated, 5 violations", || async {
        policy(&client, &name)
            .await
            .filter(|p| counts(p) == Some((8, 5)))
    })
    .await;
    let reports = policy_report_api(&client, &ns);
    let names = eventually("the report", || async {
        reported(&reports).await.filter(|n| n.len() == 5)
    })
    .await;
    assert_eq!(
        names,
        vec![
            "claims-a-configmap",
            "claims-a-deployment",
            "claims-a-statefulset",
            "crd-operated",
            "impostor"
        ]
    );

    // An ephemeral container on a controlled Pod: the Pod is audited itself.
    Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns)
        .patch_ephemeral_containers(
            "web-debugged",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"ephemeralContainers": [
                {"name": "debugger", "image": "registry.example.com/debug:1.0"}
            ]}})),
        )
        .await
        .expect("add an ephemeral container");
    eventually("the debugged Pod to be audited", || async {
        policy(&client, &name)
            .await
            .filter(|p| counts(p) == Some((9, 6)))
    })
    .await;
    let names = eventually("the debugged Pod in the report", || async {
        reported(&reports).await.filter(|n| n.len() == 6)
    })
    .await;
    assert!(names.contains(&"web-debugged".to_owned()), "{names:?}");

    // The owner goes (without a garbage collector here, its Pod stays): the Pod is audited.
    if !cp.is_existing_cluster() {
        dynamic_api(
            &client,
            Some(&ns),
            &serde_yaml_ng::from_str(REPLICA_SET).expect("yaml"),
        )
        .await
        .delete("web", &DeleteParams::background())
        .await
        .expect("delete the ReplicaSet");
        eventually("the orphaned Pod to be audited", || async {
            policy(&client, &name)
                .await
                .filter(|p| counts(p) == Some((9, 7)))
        })
        .await;
        let names = eventually("the orphan in the report", || async {
            reported(&reports).await.filter(|n| n.len() == 7)
        })
        .await;
        assert!(names.contains(&"web-x".to_owned()), "{names:?}");
    }
    op.stop().await;
}

/// A policy with the host-namespaces rule, matching `namespaces`.
fn host_policy(name: &str, namespaces: &[&str]) -> TestPolicy {
    TestPolicy::new(name)
        .namespaces(namespaces)
        .rules(["pss-host-namespaces"])
}

/// The policies with rows in a namespace's report, or `None` without a report.
async fn report_policies(client: &kube::Client, ns: &str) -> Option<Vec<String>> {
    let report = policy_report_api(client, ns)
        .get_opt("kube-guardian")
        .await
        .expect("get report")?;
    let mut policies: Vec<String> = report.data["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["policy"].as_str().map(str::to_owned))
        .collect();
    policies.sort();
    policies.dedup();
    Some(policies)
}

/// A report named like the operator's, written by hand.
async fn foreign_report(client: &kube::Client, ns: &str, labels: serde_json::Value) {
    let report: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "kube-guardian", "labels": labels},
        "summary": {"fail": 1},
        "results": [{"source": "kube-guardian", "policy": "long-gone", "result": "fail"}]
    }))
    .expect("report");
    policy_report_api(client, ns)
        .create(&PostParams::default(), &report)
        .await
        .expect("report created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_converge_after_a_restart() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let kept = cp.create_namespace("conv-kept").await.expect("namespace");
    let fixed = cp.create_namespace("conv-fixed").await.expect("namespace");
    let legacy = cp.create_namespace("conv-legacy").await.expect("namespace");
    let foreign = cp
        .create_namespace("conv-foreign")
        .await
        .expect("namespace");
    create(&client, Some(&kept), &pod("host-net", true)).await;
    create(&client, Some(&fixed), &pod("host-net", true)).await;
    // Compliant: evaluated, no row.
    create(&client, Some(&fixed), &deployment("fine", false)).await;
    let both = format!("{kept}-both");
    let gone = format!("{kept}-gone");
    host_policy(&both, &[&kept, &fixed]).created(&client).await;
    host_policy(&gone, &[&kept]).created(&client).await;

    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    eventually("both policies in the first report", || async {
        report_policies(&client, &kept)
            .await
            .filter(|p| *p == vec![both.clone(), gone.clone()])
    })
    .await;
    eventually("the second report", || async {
        report_policies(&client, &fixed).await
    })
    .await;
    op.stop().await;

    // While no operator runs: one namespace is fixed, one policy deleted with its finalizer
    // removed by hand, and two reports named like the operator's appear: one unlabelled, as
    // older versions wrote them, and one another tool manages.
    Api::<DynamicObject>::namespaced_with(
        client.clone(),
        &fixed,
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
    )
    .delete("host-net", &DeleteParams::default().grace_period(0))
    .await
    .expect("delete the Pod");
    let policies: Api<GuardianPolicy> = Api::all(client.clone());
    policies
        .delete(&gone, &DeleteParams::default())
        .await
        .expect("delete the policy");
    policies
        .patch(
            &gone,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("remove the finalizer");
    eventually("the policy to be gone", || async {
        policy(&client, &gone).await.is_none().then_some(())
    })
    .await;
    foreign_report(&client, &legacy, json!({})).await;
    foreign_report(
        &client,
        &foreign,
        json!({"app.kubernetes.io/managed-by": "someone-else"}),
    )
    .await;

    assert!(
        report_policies(&client, &fixed).await.is_some(),
        "nothing ran to delete the report"
    );

    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    eventually("the deleted policy's rows to leave the report", || async {
        report_policies(&client, &kept)
            .await
            .filter(|p| *p == vec![both.clone()])
    })
    .await;
    eventually("the fixed namespace's report to be deleted", || async {
        report_policies(&client, &fixed)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    eventually("the unlabelled old report to be deleted", || async {
        report_policies(&client, &legacy)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        report_policies(&client, &foreign).await,
        Some(vec!["long-gone".to_owned()]),
        "a report another tool manages is left alone"
    );
    assert!(
        op.metrics
            .render()
            .contains("kube_guardian_reconciles_total{result=\"success\"}"),
        "the restarted operator reconciled"
    );
    let labels = policy_report_api(&client, &kept)
        .get("kube-guardian")
        .await
        .expect("report")
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("kube-guardian")
    );
    op.stop().await;
}
