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

/// `helm install` and `helm upgrade` against the real API server, as the README tells a user:
/// the upgrade keeps the chart-generated certificate (read back from the Secret), so the
/// caBundle never changes under running replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_then_upgrade_keeps_the_generated_certificate() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let ns = cp
        .create_namespace("chart-install")
        .await
        .expect("namespace");
    let release = unique_name("kg");
    let kubeconfig = cp
        .kubeconfig_path()
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    let chart = crate::support::chart_dir();
    let helm = |verb: &str, extra: &[&str]| {
        let mut args = vec![verb, &release];
        if verb != "uninstall" {
            args.push(chart.to_str().expect("utf-8 path"));
        }
        args.extend_from_slice(&[
            "--namespace",
            &ns,
            "--kubeconfig",
            &kubeconfig,
            "--kube-context",
            cp.context_name(),
        ]);
        if verb == "uninstall" {
            let out = crate::support::run_helm(&args);
            assert!(
                out.status.success(),
                "helm uninstall: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return String::new();
        }
        args.extend_from_slice(&[
            // The control plane is shared with other tests: this webhook must review nothing
            // (no namespace has the label), and the PolicyReport CRD is theirs already.
            "--set",
            "webhook.namespaceSelectorExpressions[0].key=kube-guardian.dev/chart-install-test",
            "--set",
            "webhook.namespaceSelectorExpressions[0].operator=Exists",
            "--set",
            "webhook.failurePolicy=Ignore",
            "--set",
            "policyReports.installCRD=false",
        ]);
        args.extend_from_slice(extra);
        let out = crate::support::run_helm(&args);
        assert!(
            out.status.success(),
            "helm {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let secret_name = format!("{release}-kube-guardian-webhook-tls");
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &ns);
    let hooks: kube::Api<
        k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    > = kube::Api::all(client.clone());
    let hook_name = format!("{release}-kube-guardian");
    let state = async || {
        let secret = secrets.get(&secret_name).await.expect("the Secret");
        let data = secret.data.expect("data");
        let hook = hooks
            .get(&hook_name)
            .await
            .expect("the webhook configuration");
        let bundle = hook.webhooks.expect("webhooks")[0]
            .client_config
            .ca_bundle
            .clone()
            .expect("caBundle");
        (data["tls.crt"].clone(), data["ca.crt"].clone(), bundle)
    };

    let notes = helm("install", &[]);
    assert!(notes.contains("failurePolicy is Ignore"), "{notes}");
    let (cert, ca, bundle) = state().await;
    assert_eq!(ca, bundle, "caBundle is the Secret's CA");
    helm("upgrade", &["--set", "replicaCount=3"]);
    let (cert_after, _, bundle_after) = state().await;
    assert_eq!(cert, cert_after, "the upgrade kept the certificate");
    assert_eq!(bundle, bundle_after, "the upgrade kept the caBundle");
    let deployment: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), &ns);
    let replicas = deployment
        .get(&format!("{release}-kube-guardian"))
        .await
        .expect("the Deployment")
        .spec
        .replicas;
    assert_eq!(replicas, Some(3), "the upgrade applied");
    helm("uninstall", &[]);
}
