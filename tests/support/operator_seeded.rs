//! One `kube-guardian operator` process on the shared control plane, and a namespace for it to
//! find a violation in: the process tests' common ground.

use std::time::Duration;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::{self, OperatorProcess, OperatorProcessBuilder};
use guardian_testenv::policy::TestPolicy;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};

/// The operator binary on the control plane, as `name`.
pub fn operator(cp: &ControlPlane, name: &str) -> OperatorProcessBuilder {
    OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        cp.kubeconfig_path(),
        cp.context_name(),
    )
    .name(name)
}

/// Waits (with the generous deadline of the harness) until `check` holds, naming `what`.
pub async fn wait_for<T>(
    what: &str,
    op: &OperatorProcess,
    check: impl AsyncFnMut() -> Option<T>,
) -> T {
    operator_process::wait_for(what, Duration::from_millis(200), &[op], check).await
}

/// A namespace holding one privileged Pod, and the policy `<ns>-policy` finding it.
pub async fn seeded(cp: &ControlPlane, prefix: &str) -> (kube::Client, String, String) {
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

/// Where the operator's logs go (kept until dropped).
pub fn logs_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("log dir")
}
