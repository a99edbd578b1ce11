//! What the operator tests that run `kube-guardian operator` with the API server calling its
//! webhook share: the operator, the webhook's certificates and registration, and probes.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::operator_process::{
    self, OperatorProcess as Operator, OperatorProcessBuilder,
};
use guardian_testenv::policy::TestPolicy;
use guardian_testenv::{Ca, ControlPlane};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};

/// `kube-guardian operator` with its webhook on `webhook` serving the pair in `certs`.
pub fn operator(cp: &ControlPlane, certs: &Path, webhook: SocketAddr) -> OperatorProcessBuilder {
    Operator::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        cp.kubeconfig_path(),
        cp.context_name(),
    )
    .name("op-enforce")
    .webhook(certs, webhook)
}

/// Starts [`operator`], logging to `dir`.
pub fn start_operator(
    cp: &ControlPlane,
    dir: &Path,
    certs: &Path,
    webhook: SocketAddr,
) -> Operator {
    operator(cp, certs, webhook)
        .start(dir)
        .expect("the operator starts")
}

pub async fn wait_for<T>(what: &str, op: &Operator, check: impl AsyncFnMut() -> Option<T>) -> T {
    operator_process::wait_for(what, Duration::from_millis(200), &[op], check).await
}

/// The privileged Pod `name`, owned by `owner` (an ownerReference) if given.
pub fn privileged_pod(name: &str, owner: Option<serde_json::Value>) -> Pod {
    let mut pod = guardian_testenv::pods::privileged(name);
    pod.metadata.owner_references =
        owner.map(|o| vec![serde_json::from_value(o).expect("an ownerReference")]);
    pod
}

/// A configuration `name` sending `ns`'s workloads (Pods and their ephemeral containers among
/// them) to the webhook at `addr`, trusting `ca`.
pub fn webhook_configuration(
    name: &str,
    addr: SocketAddr,
    ca: &Ca,
    ns: &str,
) -> ValidatingWebhookConfiguration {
    guardian_testenv::webhook_configuration(
        name,
        &format!("https://{addr}/validate"),
        &ca.pem(),
        ns,
    )
}

/// A CA, and the webhook's serving pair it signed, written to `dir` as `tls.crt` and `tls.key`.
pub fn webhook_certs(dir: &Path) -> Ca {
    let ca = Ca::new("webhook test CA").expect("CA");
    let serving = ca.server_cert("kube-guardian-webhook", &[]).expect("cert");
    std::fs::write(dir.join("tls.crt"), &serving.cert_pem).expect("cert");
    std::fs::write(dir.join("tls.key"), &serving.key_pem).expect("key");
    ca
}

/// Has the API server send `ns`'s Pods to the webhook at `addr`; returns the configuration's
/// name.
pub async fn register_webhook(
    client: &kube::Client,
    addr: SocketAddr,
    ca: &Ca,
    ns: &str,
) -> String {
    let name = guardian_testenv::unique_name("webhook");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(
            &PostParams::default(),
            &webhook_configuration(&name, addr, ca, ns),
        )
        .await
        .expect("webhook configuration");
    name
}

/// Removes the configuration [`register_webhook`] created, so no later test's Pods are sent to
/// a webhook that is gone (best effort: the namespace selector keeps it to one namespace).
pub async fn unregister_webhook(client: &kube::Client, name: &str) {
    let _ = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await;
}

pub fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..PostParams::default()
    }
}

/// A Deny policy `name` on `ns`'s objects: the test adds its rules.
pub fn deny_policy(name: &str, ns: &str) -> TestPolicy {
    TestPolicy::new(name).enforcement("Deny").namespaces([ns])
}

/// What a Deny test starts from: the CRDs on the shared control plane, a fresh namespace and
/// the Deny policy `<ns>-deny` of `pss-privileged` on it.
pub struct DenySetup {
    pub cp: &'static ControlPlane,
    pub client: kube::Client,
    pub ns: String,
    /// The Deny policy's name.
    pub name: String,
    pub policies: Api<GuardianPolicy>,
    pub pods: Api<Pod>,
}

impl std::fmt::Debug for DenySetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenySetup")
            .field("ns", &self.ns)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// [`DenySetup`] in a namespace named after `prefix`.
pub async fn deny_setup(prefix: &str) -> DenySetup {
    let cp = ControlPlane::shared().await.expect("control plane");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace(prefix).await.expect("namespace");
    let name = format!("{ns}-deny");
    deny_policy(&name, &ns)
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    DenySetup {
        cp,
        policies: Api::all(client.clone()),
        pods: Api::namespaced(client.clone(), &ns),
        client,
        ns,
        name,
    }
}

/// A denial by kube-guardian's webhook (not a webhook call failure, which names it too).
pub fn denied_by_us(result: &Result<Pod, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s))
        if s.code == 403 && s.message.contains("denied the request: kube-guardian:"))
}
