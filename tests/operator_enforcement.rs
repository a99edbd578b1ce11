//! Enforcement survives a broken edit: `kube-guardian operator` as a user runs it, with the real
//! API server calling its webhook. A Deny policy whose new generation does not compile keeps
//! denying through its last good generation, and its status says so. A policy deleted with no
//! reconcile stops being enforced.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::operator_process::{
    self, OperatorProcess as Operator, OperatorProcessBuilder, free_addr,
};
use guardian_testenv::{Ca, ControlPlane};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// `kube-guardian operator` with its webhook on `webhook` serving the pair in `certs`.
fn operator(cp: &ControlPlane, certs: &Path, webhook: SocketAddr) -> OperatorProcessBuilder {
    Operator::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        cp.kubeconfig_path(),
        cp.context_name(),
    )
    .name("op-enforce")
    .webhook(certs, webhook)
}

/// Starts [`operator`], logging to `dir`.
fn start_operator(cp: &ControlPlane, dir: &Path, certs: &Path, webhook: SocketAddr) -> Operator {
    operator(cp, certs, webhook)
        .start(dir)
        .expect("the operator starts")
}

async fn wait_for<T>(what: &str, op: &Operator, check: impl AsyncFnMut() -> Option<T>) -> T {
    operator_process::wait_for(what, Duration::from_millis(200), &[op], check).await
}

fn privileged_pod(name: &str, owner: Option<serde_json::Value>) -> Pod {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1",
            "securityContext": {"privileged": true}}]}
    });
    if let Some(owner) = owner {
        pod["metadata"]["ownerReferences"] = json!([owner]);
    }
    serde_json::from_value(pod).expect("pod")
}

/// The webhook of a ValidatingWebhookConfiguration: Pods in `ns`, sent to `addr`.
fn webhook_entry(addr: SocketAddr, ca_pem: &str, ns: &str) -> serde_json::Value {
    json!({
        "name": "validate.kube-guardian.dev",
        "clientConfig": {
            "url": format!("https://{addr}/validate"),
            "caBundle": k8s_openapi::ByteString(ca_pem.as_bytes().to_vec()),
        },
        "rules": [{
            "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
            "resources": ["pods"], "scope": "Namespaced"
        }],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
        "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail", "timeoutSeconds": 10
    })
}

/// A CA, and the webhook's serving pair it signed, written to `dir` as `tls.crt` and `tls.key`.
fn webhook_certs(dir: &Path) -> Ca {
    let ca = Ca::new("enforcement test CA").expect("CA");
    let serving = ca.server_cert("kube-guardian-webhook", &[]).expect("cert");
    std::fs::write(dir.join("tls.crt"), &serving.cert_pem).expect("cert");
    std::fs::write(dir.join("tls.key"), &serving.key_pem).expect("key");
    ca
}

/// Has the API server send `ns`'s Pods to the webhook at `addr`; returns the configuration's
/// name.
async fn register_webhook(client: &kube::Client, addr: SocketAddr, ca: &Ca, ns: &str) -> String {
    let name = guardian_testenv::unique_name("enforce");
    let configuration: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [webhook_entry(addr, &ca.pem(), ns)]
    }))
    .expect("configuration");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &configuration)
        .await
        .expect("webhook configuration");
    name
}

fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..PostParams::default()
    }
}

fn deny_policy(name: &str, ns: &str, rules: serde_json::Value) -> GuardianPolicy {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": name},
        "spec": {"enforcement": "Deny", "match": {"namespaces": [ns]}, "rules": rules}
    }))
    .expect("policy")
}

/// The Degraded condition's status and message, once the status observed `generation`.
async fn degraded(
    policies: &Api<GuardianPolicy>,
    name: &str,
    generation: i64,
) -> Option<(String, String)> {
    let status = policies.get_opt(name).await.ok()??.status?;
    if status.observed_generation != Some(generation) {
        return None;
    }
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .map(|c| (c.status.clone(), c.message.clone()))
}

/// A denial by kube-guardian's webhook (not a webhook call failure, which names it too).
fn denied_by_us(result: &Result<Pod, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s))
        if s.code == 403 && s.message.contains("denied the request: kube-guardian:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_edit_keeps_the_last_good_generation_denying() {
    let cp = ControlPlane::shared().await.expect("control plane");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("enforce").await.expect("namespace");
    let policies: Api<GuardianPolicy> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let name = format!("{ns}-deny");
    policies
        .create(
            &PostParams::default(),
            &deny_policy(&name, &ns, json!([{"id": "pss-privileged"}])),
        )
        .await
        .expect("policy");
    // A policy that never compiled: nothing of it can be enforced, and its status says so.
    let never = format!("{ns}-never");
    policies
        .create(
            &PostParams::default(),
            &deny_policy(
                &never,
                &ns,
                json!([{"cel": {"name": "broken", "expression": "object.metadata.(", "message": "m"}}]),
            ),
        )
        .await
        .expect("policy");

    let dir = tempfile::tempdir().expect("temp dir");
    let ca = webhook_certs(dir.path());
    let webhook = free_addr().expect("a free port");
    let mut op = start_operator(cp, dir.path(), dir.path(), webhook);
    wait_for("generation 1 to be evaluated", &op, async || {
        degraded(&policies, &name, 1)
            .await
            .filter(|(status, _)| status == "False")
    })
    .await;

    let vwc_name = register_webhook(&client, webhook, &ca, &ns).await;
    let dry = dry_run();
    wait_for("the webhook to deny a privileged Pod", &op, async || {
        denied_by_us(&pods.create(&dry, &privileged_pod("probe", None)).await).then_some(())
    })
    .await;

    // Admission evaluates every object it is asked about, owned or not.
    let owned = privileged_pod(
        "owned",
        Some(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm",
            "uid": "00000000-0000-0000-0000-000000000001", "controller": true}),
        ),
    );
    let result = pods.create(&PostParams::default(), &owned).await;
    assert!(denied_by_us(&result), "{result:?}");

    // The broken edit: a CEL syntax error the CRD schema accepts.
    let broken = json!({"spec": {"rules": [
        {"id": "pss-privileged"},
        {"cel": {"name": "broken", "expression": "object.metadata.(", "message": "m"}}
    ]}});
    policies
        .patch(&name, &PatchParams::default(), &Patch::Merge(&broken))
        .await
        .expect("the API server accepts the broken edit");
    wait_for("generation 2 to be found broken", &op, async || {
        degraded(&policies, &name, 2)
            .await
            .filter(|(status, _)| status == "True")
    })
    .await;

    // Still enforced: a violating Pod is denied, through generation 1.
    let result = pods
        .create(&PostParams::default(), &privileged_pod("after-edit", None))
        .await;
    assert!(
        denied_by_us(&result),
        "a broken edit turned enforcement off: {:?}\n--- operator:\n{}",
        result.map(|p| p.metadata.name),
        op.logs()
    );
    let (_, message) = degraded(&policies, &name, 2).await.expect("status");
    assert!(
        message.starts_with("generation 2 does not compile: ")
            && message.ends_with("; generation 1 is still enforced"),
        "{message}"
    );
    assert!(
        message.contains("broken"),
        "names the broken rule: {message}"
    );

    // A restart (or a standby started after the edit) never saw generation 1 compile; it
    // enforces it all the same.
    let _ = op.child_mut().kill();
    let _ = op.child_mut().wait();
    let webhook = free_addr().expect("a free port");
    let restarted_dir = tempfile::tempdir().expect("temp dir");
    op = start_operator(cp, restarted_dir.path(), dir.path(), webhook);
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(
            &vwc_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"webhooks": [webhook_entry(webhook, &ca.pem(), &ns)]})),
        )
        .await
        .expect("point the webhook at the restarted operator");
    wait_for("the restarted operator to deny", &op, async || {
        denied_by_us(&pods.create(&dry, &privileged_pod("restarted", None)).await).then_some(())
    })
    .await;
    let (_, message) = wait_for("the restarted operator's status", &op, async || {
        degraded(&policies, &name, 2)
            .await
            .filter(|(_, m)| m.ends_with("generation 1 is still enforced"))
    })
    .await;
    assert!(
        message.starts_with("generation 2 does not compile: "),
        "{message}"
    );

    let (_, message) = wait_for("the never-compiled policy's status", &op, async || {
        degraded(&policies, &never, 1).await
    })
    .await;
    assert!(
        message.contains("generation 1 does not compile")
            && message.contains("nothing of it is enforced"),
        "{message}"
    );
}

/// A Lease held by someone else for an hour: an operator running for it stays a standby, which
/// serves the webhook but writes nothing and adds no finalizer.
async fn held_lease(client: &kube::Client) -> String {
    let name = guardian_testenv::unique_name("held");
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("elsewhere".to_owned()),
            lease_duration_seconds: Some(3600),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..LeaseSpec::default()
        }),
    };
    Api::<Lease>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &lease)
        .await
        .expect("the held Lease");
    name
}

/// A policy deleted with no reconcile (no leader ever added its finalizer, so nothing reconciles
/// its deletion) stops being enforced by the webhook on its own: the compiled set follows the
/// policy watch, with no workload change or resync to prompt a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_deleted_without_a_reconcile_stops_being_enforced() {
    // A control plane of its own: the other test's operator leads on the shared one, and would
    // add the finalizer and reconcile the deletion.
    let cp = ControlPlane::start().await.expect("control plane");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("unenforce").await.expect("namespace");
    let policies: Api<GuardianPolicy> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let name = format!("{ns}-deny");
    policies
        .create(
            &PostParams::default(),
            &deny_policy(&name, &ns, json!([{"id": "pss-privileged"}])),
        )
        .await
        .expect("policy");

    let lease = held_lease(&client).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = webhook_certs(dir.path());
    let webhook = free_addr().expect("a free port");
    let op = operator(&cp, dir.path(), webhook)
        .leader_election(
            &lease,
            "default",
            Duration::from_secs(15),
            Duration::from_secs(10),
        )
        .resync(Duration::from_secs(3600))
        .start(dir.path())
        .expect("the operator starts");
    register_webhook(&client, webhook, &ca, &ns).await;
    let dry = dry_run();
    wait_for(
        "the standby's webhook to deny a privileged Pod",
        &op,
        async || {
            denied_by_us(&pods.create(&dry, &privileged_pod("probe", None)).await).then_some(())
        },
    )
    .await;
    assert_eq!(op.metric("kube_guardian_leader"), Some(0.0), "a standby");
    let created = policies.get(&name).await.expect("policy");
    assert!(
        created.metadata.finalizers.unwrap_or_default().is_empty(),
        "no leader, no finalizer: the deletion is never reconciled"
    );

    policies
        .delete(&name, &DeleteParams::default())
        .await
        .expect("the policy is deleted");
    // Dry runs only: no workload change that could prompt a rebuild.
    let admitted = wait_for("the webhook to admit the privileged Pod", &op, async || {
        let result = pods.create(&dry, &privileged_pod("after", None)).await;
        (!denied_by_us(&result)).then_some(result)
    })
    .await;
    assert!(
        admitted.is_ok(),
        "neither denied nor admitted: {:?}\n--- operator:\n{}",
        admitted.map(|p| p.metadata.name),
        op.logs()
    );
}
