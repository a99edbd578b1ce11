//! The webhook behind a real kube-apiserver: a ValidatingWebhookConfiguration points at
//! `https://127.0.0.1:<port>/validate` with the test CA as caBundle, so the API server calls the
//! webhook over TLS exactly as in a cluster, and clients see what `kubectl` users would see.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guardian_cluster::store::PolicyStore;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{self, Webhook, WebhookConfig, WebhookState};
use guardian_testenv::{Ca, CertAndKey, ControlPlane, WEBHOOK_NAME};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::oneshot;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Generous: webhook configurations reach the API server's admission chain asynchronously, and
/// the machine may be busy.
const DEADLINE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(200);

fn policy(name: &str, enforcement: &str, namespace: &str, rules: &[&str]) -> GuardianPolicy {
    let rules: Vec<Value> = rules.iter().map(|id| json!({ "id": id })).collect();
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": name },
        "spec": { "enforcement": enforcement, "match": { "namespaces": [namespace] }, "rules": rules }
    }))
    .expect("test policy")
}

fn pod(name: &str, privileged: bool, image: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": { "containers": [{
            "name": "app", "image": image,
            "securityContext": { "privileged": privileged }
        }]}
    }))
    .expect("test pod")
}

/// A running webhook with its own serving certificate in a temp dir.
struct RunningWebhook {
    addr: SocketAddr,
    store: Arc<PolicyStore>,
    metrics: Metrics,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), guardian_operator::Error>>,
    _certs: tempfile::TempDir,
}

impl RunningWebhook {
    async fn start(
        serving: &CertAndKey,
        client_ca_pem: Option<&str>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        guardian_cluster::crypto::install_crypto_provider();
        let certs = tempfile::tempdir()?;
        std::fs::write(certs.path().join(webhook::CERT_FILE), &serving.cert_pem)?;
        std::fs::write(certs.path().join(webhook::KEY_FILE), &serving.key_pem)?;
        let mut config =
            WebhookConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), certs.path());
        if let Some(pem) = client_ca_pem {
            let path = certs.path().join("client-ca.crt");
            std::fs::write(&path, pem)?;
            config.client_ca = Some(path);
        }
        let store = Arc::new(PolicyStore::new());
        let metrics = Metrics::new()?;
        let bound =
            Webhook::bind(&config, WebhookState::new(store.clone(), metrics.clone())).await?;
        let addr = bound.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(async move {
            let _ = stopped.await;
        }));
        Ok(RunningWebhook {
            addr,
            store,
            metrics,
            stop: Some(stop),
            task,
            _certs: certs,
        })
    }

    fn url(&self) -> String {
        format!("https://{}/validate", self.addr)
    }

    async fn stop(mut self) -> TestResult {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, self.task).await???;
        Ok(())
    }

    fn counted(&self, decision: &str, enforcement: &str) -> bool {
        let series = format!(
            "kube_guardian_admission_requests_total{{decision=\"{decision}\",enforcement=\"{enforcement}\"}}"
        );
        self.metrics
            .render()
            .lines()
            .any(|l| l.starts_with(&series))
    }
}

/// Registers the webhook (the workload kinds and `pods/ephemeralcontainers`) for `namespace`
/// only, so other tests sharing the control plane are untouched.
async fn register(
    client: &Client,
    name: &str,
    url: &str,
    ca_pem: &str,
    namespace: &str,
) -> TestResult {
    let config = guardian_testenv::webhook_configuration(name, url, ca_pem, namespace);
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &config)
        .await?;
    Ok(())
}

/// The API server picks webhook configurations up asynchronously: dry-run a violating Pod until
/// the webhook denies it (with a Deny policy loaded for `namespace`).
async fn wait_until_enforced(pods: &Api<Pod>) -> TestResult {
    let started = Instant::now();
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    loop {
        let last = match pods.create(&dry, &pod("probe", true, "nginx:1.27")).await {
            // Our denial, not a "failed calling webhook" error (which names the webhook too).
            Err(kube::Error::Api(status))
                if status.code == 403
                    && status
                        .message
                        .contains("denied the request: kube-guardian:") =>
            {
                return Ok(());
            }
            Ok(_) => "still admitted without the webhook".to_owned(),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > DEADLINE {
            return Err(
                format!("the webhook did not take effect within {DEADLINE:?}: {last}").into(),
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

fn denial(
    result: Result<Pod, kube::Error>,
) -> Result<kube::core::Status, Box<dyn std::error::Error>> {
    match result {
        Err(kube::Error::Api(status)) => Ok(*status),
        Err(e) => Err(format!("expected a denial, got another error: {e}").into()),
        Ok(p) => Err(format!("expected a denial, {:?} was admitted", p.metadata.name).into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_enforces_deny_warn_audit_dry_run_exceptions_and_updates() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    if cp.is_existing_cluster() {
        eprintln!("skipped: an existing cluster cannot call a webhook on this machine's loopback");
        return Ok(());
    }
    cp.install_crds().await?;
    let ns = cp.create_namespace("webhook").await?;
    let client = cp.client()?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    let ca = Ca::new("webhook test CA")?;
    let hook = RunningWebhook::start(&ca.server_cert("kube-guardian-webhook", &[])?, None).await?;
    let deny = policy("deny", "Deny", &ns, &["pss-privileged", "image-tag-pinned"]);
    hook.store.rebuild(std::slice::from_ref(&deny), &[]);
    let configuration = guardian_testenv::unique_name("kube-guardian");
    register(&client, &configuration, &hook.url(), &ca.pem(), &ns).await?;
    wait_until_enforced(&pods).await?;

    // Deny: the client gets a 403 whose message names policy, rule, field and fix.
    let status = denial(
        pods.create(&PostParams::default(), &pod("web", true, "nginx:1.27"))
            .await,
    )?;
    assert_eq!(status.code, 403, "{status:?}");
    for expected in [
        &format!("admission webhook \"{WEBHOOK_NAME}\" denied the request"),
        "kube-guardian: Pod",
        "[deny/pss-privileged] spec.containers[0].securityContext.privileged:",
        "Fix: Remove securityContext.privileged or set it to false.",
    ] {
        assert!(
            status.message.contains(expected),
            "{expected:?} not in {:?}",
            status.message
        );
    }
    assert!(pods.get_opt("web").await?.is_none());
    assert!(hook.counted("denied", "deny"));

    // Server-side dry run: evaluated (denied the same way), and an admitted one is not stored.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    denial(pods.create(&dry, &pod("dry-bad", true, "nginx:1.27")).await)?;
    pods.create(&dry, &pod("dry-good", false, "nginx:1.27"))
        .await?;
    assert!(
        pods.get_opt("dry-good").await?.is_none(),
        "a dry run persists nothing"
    );

    // An exception (a real GuardianException object, read back from the API) lets its resource in.
    let exceptions: Api<GuardianException> = Api::namespaced(client.clone(), &ns);
    let exception: GuardianException = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianException",
        "metadata": { "name": "legacy" },
        "spec": {
            "policy": "deny", "rules": ["pss-privileged"],
            "resources": { "names": ["legacy-*"] },
            "owner": "team-shop", "justification": "migrating", "expiresAt": "2999-01-01T00:00:00Z"
        }
    }))?;
    exceptions
        .create(&PostParams::default(), &exception)
        .await?;
    let stored = exceptions.list(&ListParams::default()).await?.items;
    hook.store.rebuild(std::slice::from_ref(&deny), &stored);
    pods.create(
        &PostParams::default(),
        &pod("legacy-db", true, "nginx:1.27"),
    )
    .await?;
    denial(
        pods.create(&PostParams::default(), &pod("other", true, "nginx:1.27"))
            .await,
    )?;

    // UPDATE without the exception: the old violation does not block a label change, a new one
    // (a :latest image) does.
    hook.store.rebuild(std::slice::from_ref(&deny), &[]);
    let label = Patch::Merge(json!({ "metadata": { "labels": { "tier": "db" } } }));
    pods.patch("legacy-db", &PatchParams::default(), &label)
        .await?;
    let retag = Patch::Strategic(
        json!({ "spec": { "containers": [{ "name": "app", "image": "nginx:latest" }] } }),
    );
    let status = denial(
        pods.patch("legacy-db", &PatchParams::default(), &retag)
            .await,
    )?;
    assert!(
        status.message.contains("[deny/image-tag-pinned]"),
        "{}",
        status.message
    );
    assert!(
        !status.message.contains("pss-privileged"),
        "{}",
        status.message
    );

    // Warn: admitted, with the warnings in the response's Warning headers.
    hook.store.rebuild(
        &[policy(
            "warn",
            "Warn",
            &ns,
            &["cpu-limits", "memory-limits"],
        )],
        &[],
    );
    let warnings =
        create_collecting_warnings(&client, &ns, &pod("warned", false, "nginx:1.27")).await?;
    assert!(
        warnings.iter().any(|w| w.contains("[warn/cpu-limits]")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("[warn/memory-limits]")),
        "{warnings:?}"
    );
    assert!(pods.get_opt("warned").await?.is_some());
    assert!(hook.counted("warned", "warn"));

    // Audit: admitted silently, counted.
    hook.store
        .rebuild(&[policy("audit", "Audit", &ns, &["pss-privileged"])], &[]);
    pods.create(&PostParams::default(), &pod("audited", true, "nginx:1.27"))
        .await?;
    assert!(hook.counted("allowed", "audit"));

    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(&configuration, &DeleteParams::default())
        .await?;
    hook.stop().await
}

/// Creates a Pod with a raw request, to read the `Warning` headers kube's typed API drops.
async fn create_collecting_warnings(
    client: &Client,
    ns: &str,
    pod: &Pod,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let request = axum::http::Request::post(format!("/api/v1/namespaces/{ns}/pods"))
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(pod)?))?;
    let response = client.send(request).await?;
    let status = response.status();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    if status != axum::http::StatusCode::CREATED {
        return Err(format!("creating the Pod answered {status}").into());
    }
    Ok(warnings)
}

/// mTLS: the API server authenticates to the webhook with a client certificate configured by an
/// `--admission-control-config-file`, and the webhook refuses clients without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_authenticates_to_an_mtls_webhook_with_a_client_certificate() -> TestResult {
    if !guardian_testenv::local_plane_wanted()? {
        return Ok(());
    }
    let ca = Ca::new("webhook test CA")?;
    let client_ca = Ca::new("webhook client CA")?;
    let hook = RunningWebhook::start(
        &ca.server_cert("kube-guardian-webhook", &[])?,
        Some(&client_ca.pem()),
    )
    .await?;

    // The API server's identity towards this webhook, keyed by the webhook's host:port.
    let files = tempfile::tempdir()?;
    let identity = client_ca.client_cert("kube-apiserver", &[])?;
    let admission_config = write_admission_config(files.path(), &hook.addr.to_string(), &identity)?;
    let cp = ControlPlane::builder()
        .use_existing_cluster(false)
        .apiserver_arg(format!(
            "--admission-control-config-file={}",
            admission_config.display()
        ))
        .start()
        .await?;
    let ns = cp.create_namespace("mtls").await?;
    let client = cp.client()?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    hook.store
        .rebuild(&[policy("deny", "Deny", &ns, &["pss-privileged"])], &[]);
    register(&client, "kube-guardian-mtls", &hook.url(), &ca.pem(), &ns).await?;

    // Denials prove the API server got through the client-certificate check.
    wait_until_enforced(&pods).await?;
    pods.create(&PostParams::default(), &pod("fine", false, "nginx:1.27"))
        .await?;
    assert!(hook.counted("allowed", "deny"));

    // A client without a certificate gets no answer at all.
    let anonymous = tls_client_without_certificate(&ca.pem());
    let refused = async {
        let tcp = tokio::net::TcpStream::connect(hook.addr).await?;
        let name = rustls::pki_types::ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(anonymous))
            .connect(name, tcp)
            .await?;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tls.write_all(b"POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2\r\n\r\n{}")
            .await?;
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let refused = tokio::time::timeout(DEADLINE, refused).await.map_err(|_| {
        format!(
            "a client without a certificate got neither an answer nor a refusal within {DEADLINE:?}"
        )
    })?;
    assert!(
        refused.is_err(),
        "a client without a certificate must be refused"
    );

    drop(cp);
    hook.stop().await
}

fn tls_client_without_certificate(ca_pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
        let _ = roots.add(cert);
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Writes the AdmissionConfiguration and the kubeconfig it names; returns the former's path.
fn write_admission_config(
    dir: &Path,
    host_port: &str,
    identity: &CertAndKey,
) -> Result<std::path::PathBuf, std::io::Error> {
    let cert = dir.join("apiserver-webhook-client.crt");
    let key = dir.join("apiserver-webhook-client.key");
    std::fs::write(&cert, &identity.cert_pem)?;
    std::fs::write(&key, &identity.key_pem)?;
    let kubeconfig = dir.join("webhook-kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: \"{host_port}\"\n  user:\n    client-certificate: {}\n    client-key: {}\n",
            cert.display(),
            key.display()
        ),
    )?;
    let config = dir.join("admission-config.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n\
             - name: ValidatingAdmissionWebhook\n  configuration:\n    apiVersion: apiserver.config.k8s.io/v1\n\
             \x20   kind: WebhookAdmissionConfiguration\n    kubeConfigFile: {}\n",
            kubeconfig.display()
        ),
    )?;
    Ok(config)
}
