//! The rendered chart accepted by the real API server: its CRDs applied first, then every other
//! manifest server-side dry-run with strict field validation (unknown or duplicate fields fail).

use serde_json::Value;

use crate::chart::EVERYTHING_ON;
use crate::support::{apply, install_crds, render};
use guardian_testenv::{ControlPlane, unique_name};

/// Groups of CRDs the test API server does not have (cert-manager, Prometheus operator): their
/// objects cannot be dry-run here; helm lint and the render tests cover them.
const FOREIGN_GROUPS: [&str; 2] = ["cert-manager.io/", "monitoring.coreos.com/"];

fn is_foreign(doc: &Value) -> bool {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    FOREIGN_GROUPS.iter().any(|g| api_version.starts_with(g))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_accepts_every_rendered_manifest() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("chart").await.expect("namespace");
    let release = unique_name("kg");
    let defaults = render(&release, &ns, &[]);
    install_crds(&client, &defaults).await;

    for (name, extra) in [("default", &[][..]), ("everything-on", EVERYTHING_ON)] {
        let docs = render(&release, &ns, extra);
        let mut checked = Vec::new();
        let mut errors = Vec::new();
        for doc in docs
            .iter()
            .filter(|d| d["kind"] != "CustomResourceDefinition")
        {
            if is_foreign(doc) {
                continue;
            }
            match apply(&client, doc, true).await {
                Ok(_) => checked.push(doc["kind"].as_str().unwrap_or_default().to_owned()),
                Err(e) => errors.push(e),
            }
        }
        assert!(
            errors.is_empty(),
            "{name}: rejected:\n{}",
            errors.join("\n")
        );
        for kind in [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ValidatingWebhookConfiguration",
        ] {
            assert!(
                checked.iter().any(|k| k == kind),
                "{name}: no {kind} checked: {checked:?}"
            );
        }
        if name == "everything-on" {
            assert!(checked.iter().any(|k| k == "NetworkPolicy"), "{checked:?}");
        } else {
            assert!(checked.iter().any(|k| k == "Secret"), "{checked:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_the_api_server_rejects_is_reported() {
    // The dry run is strict: the same Deployment with an unknown field is refused, so the test
    // above would catch a template typo.
    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("chart-bad").await.expect("namespace");
    let docs = render("kg", &ns, &[]);
    let mut deployment = crate::support::find(&docs, "Deployment", None).clone();
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesytem"] = true.into();
    let err = apply(&client, &deployment, true)
        .await
        .expect_err("unknown field");
    assert!(err.contains("readOnlyRootFilesytem"), "{err}");
}
