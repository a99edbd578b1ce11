//! Exec credential plugins work as in kube-rs: a plugin that prints a token connects, one that
//! fails leaves the cluster unreachable with the plugin's failure as the reason's detail.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use guardian_cluster::{ClusterSet, ClusterState, UnreachableReason};
use guardian_testenv::ControlPlane;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::support::{is, options, targets, wait_for};

/// A token for a new ServiceAccount bound to cluster-admin.
async fn admin_token(cp: &ControlPlane) -> String {
    let client = cp.client().expect("admin client");
    let ns = cp.create_namespace("exec").await.expect("namespace");
    let name = "exec-user";
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), &ns);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("account");
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("ServiceAccount");
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": guardian_testenv::unique_name("exec-admin")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
    }))
    .expect("binding");
    Api::<ClusterRoleBinding>::all(client)
        .create(&PostParams::default(), &binding)
        .await
        .expect("ClusterRoleBinding");
    cp.service_account_token(&ns, name)
        .await
        .expect("the token")
}

/// An executable shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// The control plane's kubeconfig with its user replaced by the exec plugin `command`.
fn kubeconfig_with_exec(cp: &ControlPlane, command: &Path, path: &Path) {
    let mut config = serde_json::to_value(cp.kubeconfig()).expect("kubeconfig as JSON");
    let exec = json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": command.display().to_string(),
        "interactiveMode": "Never"
    });
    for user in config["users"].as_array_mut().expect("users") {
        user["user"] = json!({ "exec": exec });
    }
    let yaml = serde_yaml_ng::to_string(&config).expect("YAML");
    std::fs::write(path, yaml).expect("kubeconfig");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_credential_plugin_connects_and_a_failing_one_is_named() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    cp.install_crds().await.expect("CRDs");
    let token = admin_token(cp).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let credential = json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token}
    });
    let good = script(
        dir.path(),
        "good-plugin",
        &format!("cat <<'EOF'\n{credential}\nEOF"),
    );
    let bad = script(
        dir.path(),
        "bad-plugin",
        "echo 'no credentials for you' >&2; exit 1",
    );
    let (good_config, bad_config) = (dir.path().join("good"), dir.path().join("bad"));
    kubeconfig_with_exec(cp, &good, &good_config);
    kubeconfig_with_exec(cp, &bad, &bad_config);

    let good_set = ClusterSet::start(targets(&[&good_config]), options());
    let bad_set = ClusterSet::start(targets(&[&bad_config]), options());
    let mut good_rx = good_set.subscribe().remove(0);
    let mut bad_rx = bad_set.subscribe().remove(0);
    wait_for(
        &mut good_rx,
        "synced through the plugin's token",
        is("Synced"),
    )
    .await;
    let failed = wait_for(&mut bad_rx, "unreachable", is("Unreachable")).await;
    let ClusterState::Unreachable { reason, detail } = &failed.connection.state else {
        unreachable!()
    };
    assert_eq!(*reason, UnreachableReason::Other);
    assert!(detail.contains("bad-plugin"), "{detail}");
}
