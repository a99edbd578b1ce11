//! The operator at scale, against the real local control plane: 10,000 Pods and 5 policies.
//!
//! Measures the release `kube-guardian operator` process: idle RSS with no workloads, time to
//! sync the caches and RSS with the Pods cached, time from policy creation to all five statuses
//! computed, RSS 10 s later and after a minute of probes and scrapes (steady state), and the
//! reconcile p99 from its own histogram. Run: `cargo bench --bench operator_scale`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use kube::api::Api;

mod operator_scale_support;
mod seed;

use operator_scale_support::*;

const PODS: usize = 10_000;
const NAMESPACES: usize = 10;

/// A minute of what a cluster does to an idle operator: the kubelet probes /healthz and /readyz
/// every 10 s, Prometheus scrapes /metrics every 15 s. Returns the RSS after 10 s and after 60 s
/// (the operator hands freed pages back to the OS every few seconds, so the two can differ).
/// Panics if the operator stops answering: the figure would then describe an idle process.
async fn run_like_a_cluster(health: SocketAddr, pid: u32) -> (f64, f64) {
    let start = Instant::now();
    let mut early = 0.0;
    for tick in 1..=12u32 {
        let at = start + Duration::from_secs(5) * tick;
        tokio::time::sleep_until(at.into()).await;
        let get =
            |path| http_get(health, path).unwrap_or_else(|| panic!("the operator answers {path}"));
        if tick % 2 == 0 {
            get("/healthz");
            get("/readyz");
        }
        if tick % 3 == 0 {
            get("/metrics");
        }
        if tick == 2 {
            early = rss_mib(pid);
        }
    }
    (early, rss_mib(pid))
}

#[tokio::main]
async fn main() {
    guardian_cluster::crypto::install_crypto_provider();
    let cp = ControlPlane::start()
        .await
        .expect("the local control plane starts");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");

    let health = free_port();
    let mut op = start_operator(&cp, health);
    wait_until("idle readiness", async || http_get(health, "/readyz")).await;
    tokio::time::sleep(Duration::from_secs(5)).await; // settle before reading idle RSS
    let idle_rss = rss_mib(op.id());
    let _ = op.kill();
    let _ = op.wait();

    let created = Instant::now();
    seed::create_pods(&client, PODS, NAMESPACES, true).await;
    eprintln!("created {PODS} pods in {:.1?}", created.elapsed());

    let start = Instant::now();
    let mut op = start_operator(&cp, health);
    wait_until("readiness with 10,000 pods", async || {
        http_get(health, "/readyz")
    })
    .await;
    let synced = start.elapsed();
    let cached_rss = rss_mib(op.id());
    let policies_created = Instant::now();
    seed::create_policies(&client, policies()).await;
    let api = Api::<GuardianPolicy>::all(client.clone());
    wait_for_all_statuses(&api).await;
    let computed = policies_created.elapsed();
    let (early_rss, steady_rss) = run_like_a_cluster(health, op.id()).await;
    let metrics = http_get(health, "/metrics").unwrap_or_default();
    let (p99, reconciles) = quantile_between(
        "",
        &metrics,
        "kube_guardian_reconcile_duration_seconds",
        0.99,
    );
    let _ = op.kill();
    let _ = op.wait();
    for p in api.list(&Default::default()).await.expect("list").items {
        let s = p.status.and_then(|s| s.summary).unwrap_or_default();
        eprintln!(
            "  {:<18} evaluated {:>6}  violations {:>6}",
            p.metadata.name.unwrap_or_default(),
            s.resources_evaluated,
            s.violations
        );
    }
    println!("operator_scale: pods={PODS} policies=5");
    println!("  idle RSS (no workloads):             {idle_rss:.1} MiB");
    println!("  start -> caches synced (10k pods):   {synced:.2?}");
    println!("  RSS with the pods cached, no policy: {cached_rss:.1} MiB");
    println!("  policies created -> 5 statuses:      {computed:.2?}");
    println!("  RSS 10 s after the statuses:         {early_rss:.1} MiB");
    println!("  steady-state RSS (60 s of probes):   {steady_rss:.1} MiB");
    println!(
        "  reconcile p99 (bucket upper bound):  {} over {reconciles} reconciles",
        bound_text(&metrics, "kube_guardian_reconcile_duration_seconds", p99)
    );
}
