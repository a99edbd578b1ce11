//! `kube-guardian scan` at scale, against two real local control planes with 5,000 Pods each.
//!
//! Measures the release binary as a user runs it (`scan --kubeconfig F --contexts a,b`): wall
//! time from its start to the report (its exit), and its peak RSS (the kernel's `VmHWM` of the
//! process, read every 5 ms until it exits). Goals: report within 5 s, under 150 MiB.
//! Run: `cargo bench --bench scan_scale`. With `SCAN_SCALE_HOLD=FILE` it writes the seeded
//! clusters' kubeconfig to FILE and keeps them up until FILE is removed, instead of measuring
//! (to iterate on one build against the same clusters).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{merge_kubeconfigs, write_kubeconfig};

mod seed;

const PODS: usize = 5_000;
const NAMESPACES: usize = 10;
const RUNS: usize = 3;

fn policies(drifted: bool) -> Vec<GuardianPolicy> {
    let specs = [
        (
            "bench-restricted",
            serde_json::json!({"profiles": ["pss-restricted"],
                "enforcement": if drifted { "Warn" } else { "Deny" }}),
        ),
        (
            "bench-practices",
            serde_json::json!({"profiles": ["best-practices"], "enforcement": "Warn"}),
        ),
        (
            "bench-cel",
            serde_json::json!({"rules": [{"cel": {"name": "team-label", "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels", "message": "needs a team label"}}]}),
        ),
    ];
    seed::policies(specs)
}

async fn seed(cp: &ControlPlane, drifted: bool) {
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    seed::create_policies(&client, policies(drifted)).await;
    seed::create_pods(&client, PODS, NAMESPACES, false).await;
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (a, b) = tokio::join!(
        ControlPlane::builder().context_name("bench-a").start(),
        ControlPlane::builder().context_name("bench-b").start()
    );
    let (a, b) = (a.expect("bench-a starts"), b.expect("bench-b starts"));
    let seeded = Instant::now();
    tokio::join!(seed(&a, false), seed(&b, true));
    eprintln!(
        "created {PODS} pods in each cluster in {:.1?}",
        seeded.elapsed()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(
        &merge_kubeconfigs(&[a.kubeconfig(), b.kubeconfig()]),
        &kubeconfig,
    )
    .expect("kubeconfig");
    if let Some(hold) = std::env::var_os("SCAN_SCALE_HOLD") {
        std::fs::copy(&kubeconfig, &hold).expect("kubeconfig copied to SCAN_SCALE_HOLD");
        eprintln!("clusters up, kubeconfig in {hold:?}; remove it to stop");
        while std::path::Path::new(&hold).exists() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        return;
    }

    println!("scan_scale: 2 clusters x {PODS} pods, 3 policies each");
    // Both clusters as JSON (the figure), then one alone (what one cluster's data costs), then
    // both as a table and as SARIF.
    let runs = (1..=RUNS)
        .map(|run| (run, "bench-a,bench-b", "json"))
        .chain([
            (RUNS + 1, "bench-a", "json"),
            (RUNS + 2, "bench-a,bench-b", "table"),
            (RUNS + 3, "bench-a,bench-b", "sarif"),
        ]);
    for (run, contexts, format) in runs {
        let (elapsed, peak_kib, code, text) = run_scan(&kubeconfig, contexts, format);
        let summary = match format {
            "json" => {
                let report: serde_json::Value =
                    serde_json::from_slice(&text).expect("scan prints JSON");
                let objects = report["total"]["objects"].as_u64().unwrap_or(0);
                assert_eq!(
                    objects,
                    (contexts.split(',').count() * PODS) as u64,
                    "every Pod of the clusters scanned: {}",
                    report["clusters"]
                );
                format!(
                    "{} violations, {} drifts",
                    report["total"]["violations"],
                    report["drift"]["drifts"].as_array().map_or(0, Vec::len)
                )
            }
            "sarif" => {
                let log: serde_json::Value =
                    serde_json::from_slice(&text).expect("scan prints SARIF");
                let results = log["runs"][0]["results"].as_array().map_or(0, Vec::len);
                format!("{results} results")
            }
            _ => format!("{} lines", text.iter().filter(|&&b| b == b'\n').count()),
        };
        println!(
            "  run {run} ({contexts}, {format}): start -> report {elapsed:.2?} (exit {code:?}), peak RSS {:.1} MiB, {summary}, {:.1} MB of output",
            peak_kib as f64 / 1024.0,
            text.len() as f64 / 1e6
        );
    }
}

/// Runs the release `scan`; its wall time, peak RSS in KiB, exit code and stdout.
fn run_scan(
    kubeconfig: &std::path::Path,
    contexts: &str,
    format: &str,
) -> (Duration, u64, Option<i32>, Vec<u8>) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(["scan", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--contexts", contexts, "--output", format])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("scan runs");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stdout.read_to_end(&mut text).map(|_| text)
    });
    // The kernel's high-water mark of this process, read until it exits.
    let mut peak_kib = 0;
    let status = loop {
        peak_kib = peak_kib.max(high_water_kib(child.id()));
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let text = reader.join().expect("reader").expect("stdout read");
    (elapsed, peak_kib, status.code(), text)
}

/// `VmHWM` (peak resident set) of a process, in KiB; 0 once it is gone.
fn high_water_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}
