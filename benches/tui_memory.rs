//! The console's whole-process memory: the release `kube-guardian tui` in a real terminal
//! (tmux) following three real local control planes with 10,000 Pods each and three policies.
//!
//! Waits until the Fleet shows the three clusters `Synced` and the Violations table holds every
//! row (its count unchanged for 10 s), then reads the process's `VmRSS` and `VmHWM` from
//! /proc. Goal: under 300 MiB. Run: `cargo bench --profile release --bench tui_memory` (the
//! plain release profile: the bench profile's LTO link with debug info is slow on a shared
//! machine and changes nothing the figure measures). `TUI_MEMORY_BIN=path` measures that
//! `kube-guardian` binary instead of the one cargo built with the bench. `TUI_MEMORY_WRAP=heaptrack`
//! runs it under that program (a heap profiler: give it a binary built with
//! `--features system-allocator`, whose allocations go through the malloc it intercepts); the
//! figures are then those of the console under the profiler.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{merge_kubeconfigs, write_kubeconfig};
use guardian_testenv::tmux::Tmux;

mod seed;

const PODS: usize = 10_000;
const NAMESPACES: usize = 10;
const CONTEXTS: [&str; 3] = ["mem-a", "mem-b", "mem-c"];

async fn seed(cp: &ControlPlane) {
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let specs = [
        (
            "bench-restricted",
            serde_json::json!({"profiles": ["pss-restricted"], "enforcement": "Deny"}),
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
    seed::create_policies(&client, seed::policies(specs)).await;
    seed::create_pods(&client, PODS, NAMESPACES, false).await;
}

/// `(VmRSS, VmHWM)` of a process in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The Violations title's `N of M`: rows shown.
fn rows_shown(screen: &str) -> Option<u64> {
    let after = screen.split(" Violations (").nth(1)?;
    after.split(" of ").next()?.trim().parse().ok()
}

#[tokio::main]
async fn main() {
    guardian_cluster::crypto::install_crypto_provider();
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        ControlPlane::builder().context_name(CONTEXTS[0]).start(),
        ControlPlane::builder().context_name(CONTEXTS[1]).start(),
        ControlPlane::builder().context_name(CONTEXTS[2]).start()
    );
    let planes = [a, b, c].map(|cp| cp.expect("a control plane starts"));
    eprintln!("3 control planes up in {:.1?}", started.elapsed());
    let seeded = Instant::now();
    tokio::join!(seed(&planes[0]), seed(&planes[1]), seed(&planes[2]));
    eprintln!(
        "created {PODS} pods in each of 3 clusters in {:.1?}",
        seeded.elapsed()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let configs: Vec<_> = planes.iter().map(|p| p.kubeconfig()).collect();
    write_kubeconfig(&merge_kubeconfigs(&configs), &kubeconfig).expect("kubeconfig");

    let opened = Instant::now();
    let binary = std::env::var_os("TUI_MEMORY_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_kube-guardian").into(), PathBuf::from);
    eprintln!("measuring {}", binary.display());
    let wrap = std::env::var_os("TUI_MEMORY_WRAP");
    let tui = match &wrap {
        Some(wrapper) => Tmux::builder(wrapper).arg(&binary),
        None => Tmux::builder(&binary),
    };
    let tui = tui
        .arg("tui")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--contexts", &CONTEXTS.join(","), "--log-file"])
        .arg(dir.path().join("console.log"))
        .size(200, 50)
        .start()
        .expect("tmux starts the console");
    let synced = |screen: &str| {
        CONTEXTS.iter().all(|context| {
            // The Fleet row of the cluster: the line whose first word is its name.
            screen.lines().any(|line| {
                let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
                start.split_whitespace().next() == Some(context) && line.contains("Synced")
            })
        })
    };
    tui.wait_for(
        "three clusters Synced on the Fleet",
        Duration::from_secs(600),
        synced,
    )
    .await
    .expect("the fleet syncs");
    eprintln!(
        "Fleet: 3 clusters Synced {:.1?} after start",
        opened.elapsed()
    );
    tui.send_keys(&["V"]).expect("keys");
    // Every row in: the count stays the same for 10 s.
    let mut last = (0, Instant::now());
    tui.wait_for(
        "the Violations rows to settle",
        Duration::from_secs(600),
        |screen| {
            let shown = rows_shown(screen).unwrap_or(0);
            if shown != last.0 {
                last = (shown, Instant::now());
            }
            shown > 0 && last.1.elapsed() > Duration::from_secs(10)
        },
    )
    .await
    .expect("the rows settle");
    let pane = tui.pid().expect("tmux").expect("the console runs");
    let pid = console_pid(pane, &binary);
    let (rss, hwm) = memory_mib(pid);
    println!(
        "tui_memory: 3 clusters x {PODS} pods, 3 policies: {} violation rows {:.1?} after start; VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB (goal < 300)",
        last.0,
        opened.elapsed()
    );
    tui.send_keys(&["q"]).expect("keys");
    // A wrapper (a profiler) may take a while to write its data after the console quits.
    let exit = if wrap.is_some() { 600 } else { 30 };
    let _ = tui.wait_for_exit(Duration::from_secs(exit)).await;
}

/// The console's own process: `pid`, or under a wrapper the descendant running `binary`.
fn console_pid(pid: u32, binary: &std::path::Path) -> u32 {
    let name = binary.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let exe = std::fs::read_link(format!("/proc/{p}/exe")).ok();
        if exe
            .as_deref()
            .and_then(|e| e.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            == name
        {
            return p;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        queue.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    pid
}
