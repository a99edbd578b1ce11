//! `kube-guardian operator`, run as the README tells a user, against the real local control
//! plane: a PolicyReport deleted by hand is written again with the same rows, and one relabelled
//! as another tool's is left alone. A binary of its own: no other operator writes to its control
//! plane.

use std::time::Duration;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::{self, OperatorProcess, OperatorProcessBuilder};
use guardian_testenv::policy::TestPolicy;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::Value;

fn operator(cp: &ControlPlane, name: &str) -> OperatorProcessBuilder {
    OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        cp.kubeconfig_path(),
        cp.context_name(),
    )
    .name(name)
    // No resync within the test: only what the test checks can bring a report back.
    .resync(Duration::from_secs(3600))
}

async fn wait_for<T>(what: &str, op: &OperatorProcess, check: impl AsyncFnMut() -> Option<T>) -> T {
    operator_process::wait_for(what, Duration::from_millis(200), &[op], check).await
}

/// A namespace holding one privileged Pod, and the policy `<ns>-policy` finding it.
async fn seeded(cp: &ControlPlane, prefix: &str) -> (kube::Client, String, String) {
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace(prefix).await.expect("namespace");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1",
            "securityContext": {"privileged": true}}]}
    }))
    .expect("pod");
    Api::<Pod>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    let policy = format!("{ns}-policy");
    TestPolicy::new(&policy)
        .namespaces([&ns])
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    (client, ns, policy)
}

fn reports(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
            "policyreports",
        ),
    )
}

/// The namespace's report as `(uid, summary, results)`, once it exists.
async fn report(client: &kube::Client, ns: &str) -> Option<(String, Value, Value)> {
    let report = reports(client, ns).get_opt("kube-guardian").await.ok()??;
    Some((
        report.metadata.uid?,
        report.data["summary"].clone(),
        report.data["results"].clone(),
    ))
}

fn logs_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("log dir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_report_deleted_by_hand_is_written_again_with_the_same_rows() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let (client, ns, _policy) = seeded(cp, "restore").await;
    let (_, other_ns, _) = seeded(cp, "restore-other").await;
    guardian_testenv::demo::install_crd_file(
        &client,
        &guardian_testenv::demo::policy_report_crd_file(),
    )
    .await
    .expect("the PolicyReport CRD installs");
    let dir = logs_dir();
    let op = operator(cp, "op-restore")
        .start(dir.path())
        .expect("the operator starts");
    let (uid, summary, results) = wait_for("the report with the privileged Pod", &op, async || {
        report(&client, &ns)
            .await
            .filter(|(_, _, results)| results[0]["resources"][0]["name"] == "privileged")
    })
    .await;

    reports(&client, &ns)
        .delete("kube-guardian", &DeleteParams::default())
        .await
        .expect("delete the report");
    let (new_uid, new_summary, new_results) =
        wait_for("the deleted report written again", &op, async || {
            report(&client, &ns).await.filter(|(u, _, _)| *u != uid)
        })
        .await;
    assert_ne!(new_uid, uid);
    assert_eq!(new_summary, summary);
    assert_eq!(new_results, results);

    // Relabelled as another tool's: the watch sees it leave as a deletion, but it is not gone.
    let other_tool = serde_json::json!({
        "metadata": {"labels": {"app.kubernetes.io/managed-by": "other-tool"}}
    });
    reports(&client, &ns)
        .patch(
            "kube-guardian",
            &PatchParams::default(),
            &Patch::Merge(&other_tool),
        )
        .await
        .expect("relabel the report");
    // The watch shows events in order: once the other namespace's deleted report is written
    // again, the operator has handled the relabelling.
    let (other_uid, _, _) = wait_for("the other namespace's report", &op, async || {
        report(&client, &other_ns).await
    })
    .await;
    reports(&client, &other_ns)
        .delete("kube-guardian", &DeleteParams::default())
        .await
        .expect("delete the other report");
    wait_for("the other deleted report written again", &op, async || {
        report(&client, &other_ns)
            .await
            .filter(|(u, _, _)| *u != other_uid)
    })
    .await;
    let relabelled = reports(&client, &ns)
        .get("kube-guardian")
        .await
        .expect("the relabelled report");
    assert_eq!(
        relabelled.metadata.labels.unwrap_or_default()["app.kubernetes.io/managed-by"],
        "other-tool",
        "a report another tool's label claims is left alone"
    );
}
