//! Admission through `kube-guardian operator` started as a user starts it, with the real API
//! server calling its webhook over TLS (a ValidatingWebhookConfiguration with
//! `url: https://127.0.0.1:<port>/validate` and the test CA as caBundle):
//! namespace labels at admission, no answer before the policies are loaded, and ephemeral
//! containers added through `pods/ephemeralcontainers`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::{
    OperatorProcess as Operator, free_addr, parse_http_response,
};
use guardian_testenv::policy::TestPolicy;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

// `pub`: this binary uses a few of the shared helpers only.
#[path = "support/operator_webhook.rs"]
pub mod operator_webhook;
use operator_webhook::*;

/// Starts `kube-guardian operator` with its webhook on a free port, serving `certs`.
fn start_operator(kubeconfig: &Path, context: &str, certs: &Path, log_dir: &Path) -> Operator {
    let webhook = free_addr().expect("a free port");
    Operator::builder(env!("CARGO_BIN_EXE_kube-guardian"), kubeconfig, context)
        .webhook(certs, webhook)
        .log_level("info,guardian_operator=debug")
        .start(log_dir)
        .expect("the operator starts")
}

/// The operator's webhook address (always configured here).
fn webhook_addr(op: &Operator) -> SocketAddr {
    op.webhook_addr().expect("the webhook is configured")
}

/// Reviews the webhook evaluated, dry runs included (the decision counters skip those).
fn answered_reviews(op: &Operator) -> f64 {
    let Some((_, body)) = op.get("/metrics") else {
        return 0.0;
    };
    body.lines()
        .find_map(|l| l.strip_prefix("kube_guardian_admission_evaluation_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// POSTs `review` to the webhook over TLS (trusting `ca_pem`), as the API server would.
fn post_review(addr: SocketAddr, ca_pem: &str, review: &Value) -> Option<(u16, String)> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.ok()?).ok()?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = review.to_string();
    write!(
        tls,
        "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = Vec::new();
    // The server closes after answering; rustls reports a close without close_notify as an
    // error, after the data, so keep whatever was read.
    let _ = tls.read_to_end(&mut response);
    parse_http_response(&String::from_utf8_lossy(&response))
}

fn pod_review(namespace: &str, privileged: bool) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "process-test", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace, "name": "probe", "operation": "CREATE",
            "object": pod("probe", privileged)
        }
    })
}

fn pod(name: &str, privileged: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{
            "name": "app", "image": "registry.example.com/app:1.0",
            "securityContext": {"privileged": privileged}
        }]}
    })
}

fn typed_pod(name: &str, privileged: bool) -> Pod {
    serde_json::from_value(pod(name, privileged)).expect("pod")
}

/// The shared local control plane; `None` (said on stderr) when cluster tests are skipped or
/// run against an existing cluster, which cannot call a webhook on this machine's loopback.
async fn control_plane() -> Option<&'static ControlPlane> {
    let cp = ControlPlane::shared_unless_skipped()
        .await
        .expect("control plane")?;
    if cp.is_existing_cluster() {
        eprintln!("skipped: an existing cluster cannot call a webhook on this machine's loopback");
        return None;
    }
    Some(cp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_label_added_after_start_takes_effect_at_admission_within_seconds() {
    let Some(cp) = control_plane().await else {
        return;
    };
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("adm-labels").await.expect("namespace");
    TestPolicy::new(format!("{ns}-prod"))
        .enforcement("Deny")
        .namespace_label("env", "prod")
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = webhook_certs(dir.path());
    let op = start_operator(
        cp.kubeconfig_path(),
        cp.context_name(),
        dir.path(),
        dir.path(),
    );
    wait_for("the operator to be ready", &op, async || {
        (op.readyz()? == 200).then_some(())
    })
    .await;
    let configuration = register_webhook(&client, webhook_addr(&op), &ca, &ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    // Without the label the policy does not apply: admitted, and by the webhook (it counted it).
    wait_for("the API server to call the webhook", &op, async || {
        let before = answered_reviews(&op);
        let created = pods.create(&dry_run(), &typed_pod("probe", true)).await;
        assert!(
            !denied_by_us(&created),
            "denied before the label: {created:?}"
        );
        (created.is_ok() && answered_reviews(&op) > before).then_some(())
    })
    .await;

    // The label arrives after the operator started; admission follows within seconds.
    let labelled_at = Instant::now();
    Api::<Namespace>::all(client.clone())
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": "prod"}}})),
        )
        .await
        .expect("label the namespace");
    wait_for(
        "a privileged Pod to be denied in the env=prod namespace",
        &op,
        async || {
            denied_by_us(&pods.create(&dry_run(), &typed_pod("probe", true)).await).then_some(())
        },
    )
    .await;
    let took = labelled_at.elapsed();
    eprintln!("the namespace label applied at admission after {took:?}");
    // Through the namespace watch: a relist, the only other way the label could arrive, is
    // minutes away. Generous for a loaded machine (its API server may take seconds to send the
    // event), not a measure of speed.
    assert!(
        took < Duration::from_secs(60),
        "the label took {took:?} to apply at admission"
    );
    pods.create(&dry_run(), &typed_pod("fine", false))
        .await
        .expect("a compliant Pod is still admitted");
    unregister_webhook(&client, &configuration).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_container_added_by_kubectl_debug_is_reviewed() {
    let Some(cp) = control_plane().await else {
        return;
    };
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("adm-debug").await.expect("namespace");
    deny_policy(&format!("{ns}-baseline"), &ns)
        .profiles(["pss-baseline"])
        .created(&client)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = webhook_certs(dir.path());
    let op = start_operator(
        cp.kubeconfig_path(),
        cp.context_name(),
        dir.path(),
        dir.path(),
    );
    wait_for("the operator to be ready", &op, async || {
        (op.readyz()? == 200).then_some(())
    })
    .await;
    let configuration = register_webhook(&client, webhook_addr(&op), &ca, &ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    wait_for("the webhook to deny a privileged Pod", &op, async || {
        denied_by_us(&pods.create(&dry_run(), &typed_pod("probe", true)).await).then_some(())
    })
    .await;

    pods.create(&PostParams::default(), &typed_pod("web", false))
        .await
        .expect("a compliant Pod is admitted");
    // What `kubectl debug -it web --image=busybox --profile=sysadmin` sends.
    let debug = |name: &str, privileged: bool| {
        Patch::Strategic(json!({"spec": {"ephemeralContainers": [{
            "name": name, "image": "busybox:1.36", "targetContainerName": "app",
            "stdin": true, "tty": true,
            "securityContext": {"privileged": privileged}
        }]}}))
    };
    let denied = pods
        .patch_ephemeral_containers("web", &PatchParams::default(), &debug("debugger", true))
        .await;
    match &denied {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403, "{s:?}");
            assert!(
                s.message.contains("denied the request: kube-guardian:")
                    && s.message
                        .contains("spec.ephemeralContainers[0].securityContext.privileged"),
                "{}",
                s.message
            );
        }
        other => panic!("a privileged ephemeral container was admitted: {other:?}"),
    }
    let stored = pods.get("web").await.expect("the Pod");
    assert!(
        stored.spec.and_then(|s| s.ephemeral_containers).is_none(),
        "nothing was added"
    );
    // A compliant debug container goes through the same path and is admitted.
    pods.patch_ephemeral_containers("web", &PatchParams::default(), &debug("shell", false))
        .await
        .expect("a compliant ephemeral container is admitted");
    unregister_webhook(&client, &configuration).await;
}

/// Everything the operator reads and writes, except namespaces: without them its namespace
/// cache never syncs, so it never becomes ready.
fn operator_role(name: &str) -> ClusterRole {
    serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["*"]},
            {"apiGroups": ["apps", "batch", "guardian.kube-guardian.dev", "coordination.k8s.io",
                           "wgpolicyk8s.io", "events.k8s.io"],
             "resources": ["*"], "verbs": ["*"]}
        ]
    }))
    .expect("role")
}

fn binding(name: &str, role: &str, user: &str) -> ClusterRoleBinding {
    serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
    }))
    .expect("binding")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_admitted_until_the_policies_are_loaded() {
    let Some(cp) = control_plane().await else {
        return;
    };
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("adm-ready").await.expect("namespace");
    deny_policy(&format!("{ns}-deny"), &ns)
        .rules(["pss-privileged"])
        .created(&client)
        .await;

    // The operator runs as a user who may not list namespaces yet.
    let user = guardian_testenv::unique_name("adm-ready-operator");
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    roles
        .create(&PostParams::default(), &operator_role(&user))
        .await
        .expect("role");
    bindings
        .create(&PostParams::default(), &binding(&user, &user, &user))
        .await
        .expect("binding");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("operator.kubeconfig");
    cp.write_kubeconfig_for_user(&user, &[], &kubeconfig)
        .expect("kubeconfig");
    let ca = webhook_certs(dir.path());
    let op = start_operator(&kubeconfig, cp.context_name(), dir.path(), dir.path());

    // Serving, not ready: every review is refused with a 503 and no decision.
    let refused = wait_for("the webhook to answer", &op, async || {
        post_review(webhook_addr(&op), &ca.pem(), &pod_review(&ns, false))
    })
    .await;
    assert_eq!(refused.0, 503, "{refused:?}\n{}", op.logs());
    assert!(!refused.1.contains("\"allowed\""), "{refused:?}");
    assert_eq!(op.readyz(), Some(503));

    // Through the API server: its failurePolicy (Fail) applies, nothing is admitted.
    let configuration = register_webhook(&client, webhook_addr(&op), &ca, &ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let failed = wait_for(
        "the API server to fail the webhook call",
        &op,
        async || match pods.create(&dry_run(), &typed_pod("fine", false)).await {
            Err(kube::Error::Api(s)) if s.message.contains("failed calling webhook") => Some(s),
            _ => None,
        },
    )
    .await;
    // The API server's words for a 503 answer.
    assert!(
        failed.message.contains("unable to handle the request"),
        "{failed:?}"
    );
    assert!(
        pods.create(&dry_run(), &typed_pod("bad", true))
            .await
            .is_err()
    );
    assert_eq!(op.readyz(), Some(503), "still not ready");
    assert_eq!(
        answered_reviews(&op),
        0.0,
        "a decision was made before the policies were loaded"
    );

    // Namespaces readable: the caches sync, the policies are built, ready, and admission works.
    let ns_role = format!("{user}-namespaces");
    let role: ClusterRole = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": ns_role},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]
    }))
    .expect("role");
    roles
        .create(&PostParams::default(), &role)
        .await
        .expect("role");
    bindings
        .create(&PostParams::default(), &binding(&ns_role, &ns_role, &user))
        .await
        .expect("binding");
    wait_for("the operator to become ready", &op, async || {
        (op.readyz()? == 200).then_some(())
    })
    .await;
    let (status, body) =
        post_review(webhook_addr(&op), &ca.pem(), &pod_review(&ns, true)).expect("answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"allowed\":false"), "{body}");
    pods.create(&dry_run(), &typed_pod("fine", false))
        .await
        .expect("a compliant Pod is admitted once ready");
    assert!(denied_by_us(
        &pods.create(&dry_run(), &typed_pod("bad", true)).await
    ));

    unregister_webhook(&client, &configuration).await;
    for name in [&user, &ns_role] {
        let _ = bindings.delete(name, &DeleteParams::default()).await;
        let _ = roles.delete(name, &DeleteParams::default()).await;
    }
}

#[test]
fn the_transport_flags_are_documented_and_client_names_need_a_client_ca() {
    let help = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(["operator", "--help"])
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--webhook-max-connections",
        "--webhook-idle-timeout",
        "--webhook-client-name",
        "--webhook-client-ca",
    ] {
        assert!(help.contains(flag), "{flag} not in:\n{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(["operator", "--webhook-client-name", "kube-apiserver"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--webhook-client-ca"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(["operator", "--webhook-max-connections", "0"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
