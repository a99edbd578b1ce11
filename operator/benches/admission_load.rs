//! Load test of the admission webhook over loopback TLS.
//!
//! `cargo bench -p guardian-operator --bench admission_load [-- --duration 30 --concurrency 64,500]`
//!
//! The server runs in this process; the load comes from a child process (this binary again, with
//! `--client`), so the server's RSS and CPU time are its own. For each concurrency level the
//! client keeps that many HTTP/1.1-over-TLS-1.3 connections busy with realistic Pod
//! AdmissionReviews (a compliant Pod, a denied one, a warned one, an UPDATE) for the duration and
//! reports throughput and latency as seen by the client; the server reports its own time per
//! review (the `admission_duration_seconds` histogram), its CPU time and its RSS.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::GuardianPolicy;
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{self, Webhook, WebhookConfig, WebhookState};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The kernel reports process CPU time in USER_HZ ticks, 100 per second on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

struct Args {
    duration: Duration,
    concurrency: Vec<usize>,
    /// Leave out the CEL policy, to see the built-in rules and the server alone.
    no_cel: bool,
}

fn parse_args(args: &[String]) -> Result<Args, BoxError> {
    let mut parsed = Args {
        duration: Duration::from_secs(30),
        concurrency: vec![64, 500],
        no_cel: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--duration" => {
                let secs: u64 = it.next().ok_or("--duration needs seconds")?.parse()?;
                parsed.duration = Duration::from_secs(secs);
            }
            "--concurrency" => {
                parsed.concurrency = it
                    .next()
                    .ok_or("--concurrency needs a list")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--no-cel" => parsed.no_cel = true,
            // `cargo bench` passes `--bench`; filters and other flags do not apply here.
            _ => {}
        }
    }
    Ok(parsed)
}

fn main() -> Result<(), BoxError> {
    guardian_cluster::crypto::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client") {
        return client_main(&args[1..]);
    }
    let args = parse_args(&args)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()?;
    runtime.block_on(server_main(args))
}

// ---- server side -------------------------------------------------------------------------

fn policies(with_cel: bool) -> Result<Vec<GuardianPolicy>, BoxError> {
    let policy = |v: Value| serde_json::from_value::<GuardianPolicy>(v);
    let mut policies = vec![
        policy(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": { "name": "restricted" },
            "spec": { "enforcement": "Deny", "profiles": ["pss-restricted"] }
        }))?,
        policy(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": { "name": "best-practices" },
            "spec": { "enforcement": "Warn", "profiles": ["best-practices"] }
        }))?,
    ];
    if with_cel {
        policies.push(policy(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": { "name": "ownership" },
            "spec": { "enforcement": "Audit", "rules": [{ "cel": {
                "name": "team-label",
                "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                "message": "every workload names its team"
            }}]}
        }))?);
    }
    Ok(policies)
}

struct Pki {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
}

fn pki() -> Result<Pki, BoxError> {
    let ca = guardian_testenv::Ca::new("admission bench CA")?;
    let serving = ca.server_cert("kube-guardian-webhook", &[])?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join(webhook::CERT_FILE), serving.cert_pem)?;
    std::fs::write(dir.path().join(webhook::KEY_FILE), serving.key_pem)?;
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, ca.pem())?;
    Ok(Pki { dir, ca_file })
}

async fn server_main(args: Args) -> Result<(), BoxError> {
    let pki = pki()?;
    let store = Arc::new(PolicyStore::new());
    let snapshot = store.rebuild(&policies(!args.no_cel)?, &[]);
    if !snapshot.rejected_policies.is_empty() {
        return Err(format!("policies rejected: {:?}", snapshot.rejected_policies).into());
    }
    let metrics = Metrics::new()?;
    let config = WebhookConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), pki.dir.path());
    let store_for_engine = store.clone();
    let bound = Webhook::bind(&config, WebhookState::new(store, metrics.clone())).await?;
    let addr = bound.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));

    engine_only(&store_for_engine, args.duration.min(Duration::from_secs(2)))?;
    println!(
        "admission_load: server on {addr}, {} cores, {} s per level, policies: restricted (Deny), \
         best-practices (Warn){}",
        std::thread::available_parallelism().map_or(1, usize::from),
        args.duration.as_secs(),
        if args.no_cel {
            ""
        } else {
            ", ownership CEL (Audit)"
        }
    );
    for &concurrency in &args.concurrency {
        let before = metrics.render();
        let before_hist = histogram(&before, "admission_duration_seconds");
        let before_eval = histogram(&before, "admission_evaluation_seconds");
        let before_cpu = cpu_seconds()?;
        let output = run_client(addr, &pki.ca_file, concurrency, args.duration)?;
        let cpu = cpu_seconds()? - before_cpu;
        let after = metrics.render();
        let total = delta(
            &before_hist,
            &histogram(&after, "admission_duration_seconds"),
        );
        let eval = delta(
            &before_eval,
            &histogram(&after, "admission_evaluation_seconds"),
        );
        let served = total.last().map_or(0.0, |b| b.1);
        println!("\n== concurrency {concurrency} ==");
        print!("{output}");
        println!(
            "server: {served:.0} reviews, CPU {cpu:.1} s => {:.0} reviews per CPU-second",
            served / cpu.max(f64::EPSILON)
        );
        println!(
            "server time per review, incl. waiting for an evaluation slot (histogram bucket bounds): p50 <= {} ms, p99 <= {} ms, max <= {} ms",
            quantile(&total, 0.50),
            quantile(&total, 0.99),
            quantile(&total, 1.0)
        );
        println!(
            "server's own time per review, in its evaluation slot (histogram bucket bounds): p50 <= {} ms, p99 <= {} ms, max <= {} ms",
            quantile(&eval, 0.50),
            quantile(&eval, 0.99),
            quantile(&eval, 1.0)
        );
        let (rss, hwm) = memory()?;
        println!("server RSS {rss} KiB, peak {hwm} KiB");
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// The pure decision (parse, evaluate, encode) on one thread, per review of the mix: the service
/// time the server adds to TLS and HTTP, without any queueing.
fn engine_only(store: &PolicyStore, per_body: Duration) -> Result<(), BoxError> {
    let snapshot = store.snapshot();
    let ctx = guardian_core::engine::EvalContext::offline();
    for (i, body) in reviews().iter().enumerate() {
        let body = serde_json::to_vec(body)?;
        let mut times = Vec::new();
        let started = Instant::now();
        let mut decision = "";
        while started.elapsed() < per_body {
            let t = Instant::now();
            let reviewed = webhook::review::review(&body, &snapshot.set, &ctx)
                .map_err(|e| format!("review {i}: {e}"))?;
            let json = reviewed.to_json()?;
            times.push(t.elapsed().as_nanos());
            decision = reviewed.decision.as_str();
            std::hint::black_box(json);
        }
        times.sort_unstable();
        let at = |q: f64| {
            times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1000.0
        };
        println!(
            "pure review() #{i} ({} bytes, {decision}): {:.0}/s on one core; p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            body.len(),
            times.len() as f64 / started.elapsed().as_secs_f64(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    Ok(())
}

fn run_client(
    addr: SocketAddr,
    ca: &Path,
    concurrency: usize,
    duration: Duration,
) -> Result<String, BoxError> {
    let output = Command::new(std::env::current_exe()?)
        .arg("--client")
        .arg(addr.to_string())
        .arg(ca)
        .arg(concurrency.to_string())
        .arg(duration.as_secs().to_string())
        .output()?;
    if !output.status.success() {
        return Err(format!("client failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// `(le, cumulative count)` of one of the operator's histograms, `+Inf` last.
fn histogram(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("kube_guardian_{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, rest.trim().parse().ok()?))
        })
        .collect()
}

/// The observations between two scrapes of a histogram (absent until its first observation).
fn delta(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .enumerate()
        .map(|(i, a)| (a.0, a.1 - before.get(i).map_or(0.0, |b| b.1)))
        .collect()
}

/// The upper bound (ms) of the bucket holding quantile `q`.
fn quantile(buckets: &[(f64, f64)], q: f64) -> String {
    let total = buckets.last().map_or(0.0, |b| b.1);
    let wanted = (total * q).ceil().max(1.0);
    buckets
        .iter()
        .find(|(_, count)| *count >= wanted)
        .map_or("?".to_owned(), |(le, _)| format!("{}", le * 1000.0))
}

fn cpu_seconds() -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    let after = stat.rsplit_once(") ").ok_or("odd /proc/self/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).ok_or("no utime")?.parse::<f64>()?
        + fields.get(12).ok_or("no stime")?.parse::<f64>()?;
    Ok(ticks / TICKS_PER_SECOND)
}

fn memory() -> Result<(u64, u64), BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Ok((
        field("VmRSS:").ok_or("no VmRSS")?,
        field("VmHWM:").ok_or("no VmHWM")?,
    ))
}

// ---- client side (child process) -----------------------------------------------------------

fn client_main(args: &[String]) -> Result<(), BoxError> {
    let [addr, ca, concurrency, seconds] = args else {
        return Err("usage: --client ADDR CA_FILE CONCURRENCY SECONDS".into());
    };
    let addr: SocketAddr = addr.parse()?;
    let concurrency: usize = concurrency.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(load(addr, tls, concurrency, duration))
}

async fn load(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    concurrency: usize,
    duration: Duration,
) -> Result<(), BoxError> {
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        reviews()
            .into_iter()
            .map(|v| Bytes::from(v.to_string()))
            .collect(),
    );
    let start = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let (tls, bodies, start) = (tls.clone(), bodies.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let connection = connect(addr, tls).await;
            start.wait().await;
            let mut sender = connection?;
            let deadline = Instant::now() + duration;
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = worker;
            while Instant::now() < deadline {
                let body = bodies[i % bodies.len()].clone();
                i += 1;
                let sent = Instant::now();
                match send(&mut sender, body).await {
                    Ok(()) => latencies
                        .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(_) => errors += 1,
                }
            }
            Ok::<_, BoxError>((latencies, errors))
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut failed_connections = 0;
    for task in tasks {
        match task.await? {
            Ok((l, e)) => {
                latencies.extend(l);
                errors += e;
            }
            Err(_) => failed_connections += 1,
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    println!(
        "client: {} reviews in {elapsed:.1} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         errors {errors}, failed connections {failed_connections}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pick(0.50),
        pick(0.99),
        pick(1.0),
    );
    Ok(())
}

async fn connect(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, BoxError> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()), tcp)
        .await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    body: Bytes,
) -> Result<(), BoxError> {
    sender.ready().await?;
    let request = hyper::Request::post("/validate")
        .header(hyper::header::HOST, "127.0.0.1")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))?;
    let response = sender.send_request(request).await?;
    let ok = response.status() == hyper::StatusCode::OK;
    let body = response.into_body().collect().await?.to_bytes();
    if ok && body.starts_with(b"{\"apiVersion\"") {
        Ok(())
    } else {
        Err(format!("unexpected answer: {}", String::from_utf8_lossy(&body)).into())
    }
}

/// A Pod as the API server sends it for a Deployment's replica: owner reference, managed fields,
/// two containers with env, probes, resources and mounts, and projected volumes (about 5 KB).
fn realistic_pod(name: &str, hardened: bool, image: &str) -> Value {
    let security = if hardened {
        json!({ "runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": { "drop": ["ALL"] }, "seccompProfile": { "type": "RuntimeDefault" } })
    } else {
        json!({ "privileged": true })
    };
    let env: Vec<Value> = (0..8)
        .map(|i| json!({ "name": format!("SETTING_{i}"), "value": format!("value-{i}") }))
        .collect();
    let container = |cname: &str, port: u16| {
        json!({
            "name": cname, "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{ "containerPort": port, "name": "http", "protocol": "TCP" }],
            "env": env,
            "resources": { "requests": { "cpu": "100m", "memory": "128Mi" },
                           "limits": { "cpu": "500m", "memory": "256Mi" } },
            "livenessProbe": { "httpGet": { "path": "/healthz", "port": port }, "periodSeconds": 10 },
            "readinessProbe": { "httpGet": { "path": "/ready", "port": port }, "periodSeconds": 5 },
            "securityContext": security,
            "volumeMounts": [{ "name": "config", "mountPath": "/etc/app" },
                             { "name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true }],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        })
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "generateName": "web-7d9f8b6c5d-", "namespace": "shop",
            "uid": "3f0e2b1c-1d2e-4f5a-9b8c-7d6e5f4a3b2c",
            "labels": { "app": "web", "team": "shop", "pod-template-hash": "7d9f8b6c5d", "version": "1.4.2" },
            "annotations": { "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z",
                             "prometheus.io/scrape": "true", "prometheus.io/port": "8080" },
            "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b6c5d",
                                  "uid": "a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6", "controller": true,
                                  "blockOwnerDeletion": true }],
            "managedFields": [{ "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                                "time": "2025-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                                "fieldsV1": { "f:metadata": { "f:generateName": {}, "f:labels": { ".": {},
                                  "f:app": {}, "f:pod-template-hash": {} }, "f:ownerReferences": { ".": {} } },
                                  "f:spec": { "f:containers": { "k:{\"name\":\"app\"}": { ".": {}, "f:image": {},
                                  "f:name": {}, "f:resources": {} } } } } }]
        },
        "spec": {
            "containers": [container("app", 8080), container("sidecar", 9090)],
            "securityContext": { "runAsNonRoot": hardened, "fsGroup": 2000 },
            "serviceAccountName": "web", "automountServiceAccountToken": false,
            "nodeSelector": { "kubernetes.io/os": "linux" },
            "tolerations": [{ "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }],
            "volumes": [
                { "name": "config", "configMap": { "name": "web-config", "defaultMode": 420 } },
                { "name": "kube-api-access", "projected": { "defaultMode": 420, "sources": [
                    { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                    { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                    { "downwardAPI": { "items": [{ "path": "namespace", "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } }] } }
                ] } }
            ],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "priority": 0, "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority"
        }
    })
}

fn review(uid: usize, operation: &str, object: Value, old: Option<Value>) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("00000000-0000-0000-0000-{uid:012}"),
            "kind": { "group": "", "version": "v1", "kind": "Pod" },
            "resource": { "group": "", "version": "v1", "resource": "pods" },
            "requestKind": { "group": "", "version": "v1", "kind": "Pod" },
            "requestResource": { "group": "", "version": "v1", "resource": "pods" },
            "name": object["metadata"]["name"], "namespace": "shop", "operation": operation,
            "userInfo": { "username": "system:serviceaccount:kube-system:replicaset-controller",
                          "uid": "5b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
                          "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"] },
            "object": object, "oldObject": old, "dryRun": false,
            "options": { "apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions" }
        }
    })
}

/// The mix: compliant (allowed), privileged (denied), unpinned image (warned), and an UPDATE of a
/// privileged Pod that changes only a label (pre-existing violation: evaluated twice, allowed).
fn reviews() -> Vec<Value> {
    let mut relabelled = realistic_pod("web-7d9f8b6c5d-old", false, "ghcr.io/acme/web:1.4.2");
    relabelled["metadata"]["labels"]["tier"] = json!("frontend");
    vec![
        review(
            1,
            "CREATE",
            realistic_pod("web-7d9f8b6c5d-a", true, "ghcr.io/acme/web:1.4.2"),
            None,
        ),
        review(
            2,
            "CREATE",
            realistic_pod("web-7d9f8b6c5d-b", false, "ghcr.io/acme/web:1.4.2"),
            None,
        ),
        review(
            3,
            "CREATE",
            realistic_pod("web-7d9f8b6c5d-c", true, "ghcr.io/acme/web:latest"),
            None,
        ),
        review(
            4,
            "UPDATE",
            relabelled,
            Some(realistic_pod(
                "web-7d9f8b6c5d-old",
                false,
                "ghcr.io/acme/web:1.4.2",
            )),
        ),
    ]
}
