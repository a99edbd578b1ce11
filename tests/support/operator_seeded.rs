//! A namespace for the process tests' operator to find a violation in.

use guardian_testenv::ControlPlane;
use guardian_testenv::policy::TestPolicy;

/// A namespace holding one privileged Pod, and the policy `<ns>-policy` finding it.
pub async fn seeded(cp: &ControlPlane, prefix: &str) -> (kube::Client, String, String) {
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace(prefix).await.expect("namespace");
    guardian_testenv::pods::create_privileged(&client, &ns, "privileged").await;
    let policy = format!("{ns}-policy");
    TestPolicy::new(&policy)
        .namespaces([&ns])
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    (client, ns, policy)
}
