//! `kube-guardian scan --timeout`: a cluster that connects and never finishes its initial sync
//! is reported when the timeout ends the wait, and the cluster that did sync is still scanned.
//! The stuck one is `stuck_apiserver` (it answers `/version` and holds every list unanswered);
//! the synced one is a real control plane.

#[path = "support/stuck_apiserver.rs"]
mod stuck_apiserver;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{merge_kubeconfigs, write_kubeconfig};
use serde_json::Value;

const SYNCED: &str = "scan-a";
/// A context whose API server answers `/version` and never answers a list: it connects and never
/// syncs.
const STUCK: &str = "scan-stuck";

/// The scan waits for no cluster longer than this: generous, so that scan-a syncs within it
/// however loaded the machine; scan-stuck never would.
const TIMEOUT: &str = "60s";
const TIMEOUT_SECS: u64 = 60;

/// How long one scan may run before the test fails instead of hanging (a `--timeout` that no
/// longer ends the wait).
const SCAN_DEADLINE: Duration = Duration::from_secs(300);

/// A kubeconfig with the control plane's context and a copy of it pointing at a stuck server.
fn write_contexts(cp: &ControlPlane, path: &Path) {
    let mut merged = merge_kubeconfigs(&[cp.kubeconfig()]);
    let mut cluster = merged.clusters[0].clone();
    cluster.name = STUCK.into();
    if let Some(cluster) = cluster.cluster.as_mut() {
        cluster.server = Some(format!("http://{}", stuck_apiserver::start()));
    }
    let mut context = merged.contexts[0].clone();
    context.name = STUCK.into();
    if let Some(context) = context.context.as_mut() {
        context.cluster = STUCK.into();
    }
    merged.clusters.push(cluster);
    merged.contexts.push(context);
    write_kubeconfig(&merged, path).expect("kubeconfig written");
}

/// `kube-guardian scan` over both contexts; fails the test past [`SCAN_DEADLINE`].
fn scan(kubeconfig: &Path, extra: &[&str]) -> Output {
    let contexts = format!("{SYNCED},{STUCK}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kube-guardian"));
    command
        .arg("scan")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--contexts", &contexts, "--timeout", TIMEOUT])
        .args(extra)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    guardian_testenv::output_within(&mut command, "kube-guardian scan", None, SCAN_DEADLINE)
        .expect("the scan ends within its deadline")
}

fn cluster<'a>(report: &'a Value, context: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["context"] == context))
        .unwrap_or_else(|| panic!("no cluster {context} in {report:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_that_never_syncs_is_reported_at_the_timeout_without_delaying_the_other() {
    let cp = ControlPlane::builder()
        .context_name(SYNCED)
        .start()
        .await
        .expect("scan-a starts");
    cp.install_crds().await.expect("the CRDs install");
    let dir = tempfile::tempdir().expect("a temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    write_contexts(&cp, &kubeconfig);

    // Both outputs at once: each scan takes the whole timeout.
    let ((output, elapsed), table) = std::thread::scope(|s| {
        let table = s.spawn(|| scan(&kubeconfig, &[]));
        let start = Instant::now();
        let output = scan(&kubeconfig, &["--output", "json"]);
        (
            (output, start.elapsed()),
            table.join().expect("the table scan"),
        )
    });
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(cluster(&report, SYNCED)["connection"]["state"], "Synced");
    let stuck = cluster(&report, STUCK);
    assert_eq!(stuck["scanned"], false);
    // Still Connecting when reported, and not before the timeout: the timeout ended the wait.
    assert_eq!(stuck["connection"]["state"], "Connecting", "{stuck:#}");
    assert!(
        elapsed >= Duration::from_secs(TIMEOUT_SECS),
        "took {elapsed:?}"
    );
    assert_eq!(table.status.code(), Some(2));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Connecting, not scanned: the initial sync did not finish within"),
        "{text}"
    );
}
