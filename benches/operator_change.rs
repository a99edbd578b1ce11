//! The operator's reconcile after one workload change, against the real local control plane:
//! 10,000 Pods in 10 namespaces, the 5 policies of operator_scale, the release
//! `kube-guardian operator` process.
//!
//! Once the operator's report pass is done and every status computed, one Pod's image is flipped between a
//! pinned tag and `latest` (which one policy counts as a violation) many times. Measured per
//! change:
//! - the decision latency: from the Pod's watch event, as the operator's watch yields it (its
//!   wait behind earlier changes included), to the decision whether any status or report must
//!   be written, from the operator's own
//!   `kube_guardian_reconcile_decision_seconds` histogram (bucket upper bounds);
//! - end to end, from the API write's return to the policy's status showing the change, timed
//!   by this bench polling the status every 20 ms (includes the controller's 300 ms debounce and
//!   the status write, and, in builds that write the PolicyReports before the status, those
//!   writes: the CRD is installed, as in a cluster, and bench-0's report holds 1,000 rows);
//! - settled (with the CRD): from the API write to bench-0's PolicyReport showing its final
//!   count (its summary's fail + warn + error, polled every 100 ms once the status followed: the
//!   first moment it showed the total the Pod's image gives, which it then kept for 2 s; both
//!   totals learnt first by unmeasured round trips, until two in a row agree); the next change
//!   waits for it, so no change waits for an earlier one's report writes. Every wait is bounded
//!   and panics naming what it waited for (a report that never settles on its total, or totals
//!   that never agree, fail the bench);
//! - the objects the operator evaluated per change (`kube_guardian_objects_evaluated_total`);
//! - the operator's RSS afterwards (the kept results included).
//!
//! Run: `cargo bench --bench operator_change`. `GUARDIAN_BENCH_OPERATOR=<path>` runs another
//! build's binary (before/after figures); `GUARDIAN_BENCH_SAMPLES` sets the changes (200);
//! `GUARDIAN_BENCH_LOG=<filter>` keeps the operator's log (see `start_operator`);
//! `GUARDIAN_BENCH_REPORTS=0` leaves the PolicyReport CRD out, so no report is written: the
//! status's latency without the report writes, from the same binary.

use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};

mod operator_scale_support;
mod seed;

use operator_scale_support::*;

const PODS: usize = 10_000;
const NAMESPACES: usize = 10;
/// Pod 10 lands in bench-0 (`i % 10`), on a pinned tag and not privileged: `bench-ns0` counts
/// one violation more while it runs `latest`.
const POD: &str = "pod-00010";
const POLICY: &str = "bench-ns0";

fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

async fn violations(api: &Api<GuardianPolicy>) -> Option<u64> {
    let p = api.get_opt(POLICY).await.ok()??;
    Some(p.status?.summary?.violations)
}

/// Waits for the operator's report pass (every cache listed, every live policy evaluated): the
/// policies created after it are evaluated in full once each, by their own reconciles.
async fn converged(health: std::net::SocketAddr) {
    wait_until("the report convergence pass", async || {
        let metrics = http_get(health, "/metrics")?;
        (counter(&metrics, "kube_guardian_report_passes_total") >= 1.0).then_some(())
    })
    .await;
}

const DECISIONS: &str = "kube_guardian_reconcile_decision_seconds_count";

/// How long one settled wait may take before the bench gives up, naming it.
const SETTLE_DEADLINE: Duration = Duration::from_secs(120);

/// bench-0's PolicyReport results counted in its summary (fail + warn + error), if it exists.
async fn report_total(reports: &Api<DynamicObject>) -> Option<u64> {
    let report = reports.get_opt("kube-guardian").await.ok()??;
    let summary = &report.data["summary"];
    ["fail", "warn", "error"]
        .iter()
        .map(|k| summary[k].as_u64())
        .sum()
}

/// How many warm-up round trips may pass before their totals agree (see [`warm_up`]).
const WARM_UP_ROUNDS: usize = 5;

/// How long bench-0's report total must stay unchanged to count as settled.
const STABLE: Duration = Duration::from_secs(2);

/// When, since `since`, bench-0's report first showed a total `settles_on` accepts and then kept
/// it for [`STABLE`] (polled every 100 ms), and that total: a body still on its way when the
/// bench read a total cannot mislead it, and a report that never reaches an accepted total is
/// not counted as settled. Panics naming `what` and the last total past [`SETTLE_DEADLINE`].
async fn report_settled(
    reports: &Api<DynamicObject>,
    what: &str,
    since: Instant,
    settles_on: impl Fn(u64) -> bool,
) -> (Duration, u64) {
    let mut seen: Option<(u64, Duration)> = None;
    loop {
        let total = report_total(reports).await;
        let now = since.elapsed();
        match (total, seen) {
            (Some(total), Some((kept, first))) if kept == total => {
                if now - first >= STABLE {
                    return (first, total);
                }
            }
            (Some(total), _) if settles_on(total) => seen = Some((total, now)),
            _ => seen = None,
        }
        assert!(
            now < SETTLE_DEADLINE,
            "timed out after {SETTLE_DEADLINE:?} waiting for {what}: the report's total is {total:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sets [`POD`]'s image to `latest` or back to its pinned tag and waits until the policy's status
/// follows (`baseline` violations pinned, one more on `latest`); when the API write returned.
async fn flip(pods: &Api<Pod>, api: &Api<GuardianPolicy>, latest: bool, baseline: u64) -> Instant {
    let (image, expected) = if latest {
        ("nginx:latest", baseline + 1)
    } else {
        ("registry.example.com/app:1.2.3", baseline)
    };
    let patch = serde_json::json!({"spec": {"containers": [{"name": "app", "image": image}]}});
    pods.patch(POD, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("patch the Pod");
    let written = Instant::now();
    wait_until("the status to follow the change", async || {
        (violations(api).await? == expected).then_some(())
    })
    .await;
    written
}

/// Round trips (not measured) learning bench-0's report totals `(latest, pinned)`: until two in
/// a row agree, and `latest` counts more than the pinned tag. Panics naming the totals seen
/// when [`WARM_UP_ROUNDS`] round trips do not agree.
async fn warm_up(
    pods: &Api<Pod>,
    api: &Api<GuardianPolicy>,
    reports: &Api<DynamicObject>,
    baseline: u64,
) -> (u64, u64) {
    let what = "bench-0's report to stop changing before the changes";
    let (_, mut pinned) = report_settled(reports, what, Instant::now(), |_| true).await;
    let mut seen: Vec<(u64, u64)> = Vec::new();
    for round in 1..=WARM_UP_ROUNDS {
        let written = flip(pods, api, true, baseline).await;
        let what = format!("bench-0's report to move on latest (warm-up {round})");
        let (_, latest) = report_settled(reports, &what, written, |t| t != pinned).await;
        let written = flip(pods, api, false, baseline).await;
        let what = format!("bench-0's report to move back on the pinned tag (warm-up {round})");
        (_, pinned) = report_settled(reports, &what, written, |t| t != latest).await;
        let agreed = seen.last() == Some(&(latest, pinned));
        seen.push((latest, pinned));
        if agreed && latest > pinned {
            return (latest, pinned);
        }
    }
    panic!(
        "bench-0's report totals (latest, pinned) did not agree in two round trips in a row, \
         with latest above pinned, in {WARM_UP_ROUNDS}: {seen:?}; the report writes may be failing \
         (see the operator's log with GUARDIAN_BENCH_LOG=info)"
    )
}

#[tokio::main]
async fn main() {
    guardian_cluster::crypto::install_crypto_provider();
    let samples: usize = std::env::var("GUARDIAN_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let cp = ControlPlane::start()
        .await
        .expect("the local control plane starts");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let reports = std::env::var("GUARDIAN_BENCH_REPORTS").map_or(true, |v| v != "0");
    if reports {
        // The report pass counts only once it wrote the reports (see `converged`).
        guardian_testenv::demo::install_policy_report_crd(&client)
            .await
            .expect("the PolicyReport CRD installs");
    }
    let created = Instant::now();
    seed::create_pods(&client, PODS, NAMESPACES, true).await;
    eprintln!("created {PODS} pods in {:.1?}", created.elapsed());

    let health = free_port();
    let mut op = start_operator(&cp, health);
    wait_until("readiness", async || http_get(health, "/readyz")).await;
    let exported = http_get(health, "/metrics").expect("metrics");
    if !reports {
        // Without the CRD the pass ends without writing and is not counted: the statuses below
        // are the wait.
    } else if exported.contains("kube_guardian_report_passes_total") {
        converged(health).await;
    } else {
        eprintln!("this build exports no report pass count: its startup may still be running");
    }
    seed::create_policies(&client, policies()).await;
    let api = Api::<GuardianPolicy>::all(client.clone());
    wait_for_all_statuses(&api).await;
    let baseline = wait_until("the policy's violations", async || violations(&api).await).await;

    let pods = Api::<Pod>::namespaced(client.clone(), "bench-0");
    let report_api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "bench-0",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
            "policyreports",
        ),
    );
    // The totals of bench-0's report with the Pod on `latest` and on its pinned tag, which every
    // change must settle on. A total that stood still for STABLE may still be partial (a report
    // write in flight or retried), so unmeasured round trips learn them, until two in a row
    // agree and `latest` counts more than the pinned tag (as the status does).
    let totals = if reports {
        Some(warm_up(&pods, &api, &report_api, baseline).await)
    } else {
        None
    };
    let before = http_get(health, "/metrics").expect("metrics");
    let mut end_to_end = Vec::with_capacity(samples);
    let mut settled = Vec::with_capacity(samples);
    for sample in 0..samples {
        let latest = sample % 2 == 0;
        let written = flip(&pods, &api, latest, baseline).await;
        end_to_end.push(written.elapsed());
        let Some((latest_total, pinned_total)) = totals else {
            continue;
        };
        let want = if latest { latest_total } else { pinned_total };
        let what = format!("bench-0's report to settle on {want} after change {sample}");
        let (at, _) = report_settled(&report_api, &what, written, |t| t == want).await;
        settled.push(at);
    }
    // Each change is one watch event, decided once: the last decision lands in the histogram
    // before the scrape (the last reconcile may not: its count is printed).
    let decided_before = counter(&before, DECISIONS);
    let after = wait_until("every change decided", async || {
        let metrics = http_get(health, "/metrics")?;
        // A build without the histogram has nothing to wait for.
        let done = !before.contains(DECISIONS)
            || counter(&metrics, DECISIONS) >= decided_before + samples as f64;
        done.then_some(metrics)
    })
    .await;
    let rss = rss_mib(op.id());
    let _ = op.kill();
    let _ = op.wait();

    end_to_end.sort();
    settled.sort();
    let decision = "kube_guardian_reconcile_decision_seconds";
    let (d50, decided) = quantile_between(&before, &after, decision, 0.5);
    let (d99, _) = quantile_between(&before, &after, decision, 0.99);
    let reconcile = "kube_guardian_reconcile_duration_seconds";
    let (r99, reconciles) = quantile_between(&before, &after, reconcile, 0.99);
    let per_change = |path: &str| {
        let name = format!("kube_guardian_objects_evaluated_total{{path=\"{path}\"}}");
        (counter(&after, &name) - counter(&before, &name)) / samples as f64
    };
    println!(
        "operator_change: pods={PODS} policies=5 changes={samples} reports={reports} binary={}",
        operator_binary().display()
    );
    if decided > 0.0 {
        println!(
            "  watch event -> write decision:  p50 {}, p99 {} (histogram bucket bounds, {decided} decisions)",
            bound_text(&after, decision, d50),
            bound_text(&after, decision, d99)
        );
        println!(
            "  objects evaluated per change:   {:.2} on the change path, {:.2} in full evaluations",
            per_change("change"),
            per_change("full")
        );
    } else {
        println!("  watch event -> write decision:  not exported by this build");
    }
    println!(
        "  API write -> status follows:    p50 {:.1?}, p99 {:.1?} (polled every 20 ms)",
        percentile(&end_to_end, 0.5),
        percentile(&end_to_end, 0.99)
    );
    if !settled.is_empty() {
        println!(
            "  API write -> report settled:    p50 {:.1?}, p99 {:.1?} ({} changes; polled every 100 ms)",
            percentile(&settled, 0.5),
            percentile(&settled, 0.99),
            settled.len()
        );
    }
    println!(
        "  reconcile p99 (bucket bound):   {} over {reconciles} reconciles",
        bound_text(&after, reconcile, r99)
    );
    println!("  operator RSS after the changes: {rss:.1} MiB");
}
