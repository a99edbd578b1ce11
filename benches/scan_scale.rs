//! `kube-guardian scan` at scale, against two real local control planes with 5,000 Pods each.
//!
//! Measures the release binary as a user runs it (`scan --kubeconfig F --contexts a,b`): wall
//! time from its start to the report (its exit), and its peak RSS (the kernel's `ru_maxrss` of
//! the waited-for child). Goals: report within 5 s, under 150 MiB.
//! Run: `cargo bench --bench scan_scale`.

use std::process::{Command, Stdio};
use std::time::Instant;

use futures::{StreamExt, stream};
use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{merge_kubeconfigs, write_kubeconfig};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use nix::sys::resource::{UsageWho, getrusage};

const PODS: usize = 5_000;
const NAMESPACES: usize = 10;
const RUNS: usize = 3;

fn pod(i: usize) -> Pod {
    let privileged = i.is_multiple_of(3);
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i:05}"), "labels": {"app.kubernetes.io/name": format!("app-{}", i % 50)}},
        "spec": {
            "containers": [{
                "name": "app",
                "image": if i.is_multiple_of(2) { "registry.example.com/app:1.2.3" } else { "nginx:latest" },
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                "securityContext": {"privileged": privileged, "runAsNonRoot": !privileged}
            }]
        }
    }))
    .expect("pod JSON")
}

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
    specs
        .into_iter()
        .map(|(name, spec)| {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
                "metadata": {"name": name}, "spec": spec
            }))
            .expect("policy JSON")
        })
        .collect()
}

async fn seed(cp: &ControlPlane, drifted: bool) {
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    for policy in policies(drifted) {
        Api::<GuardianPolicy>::all(client.clone())
            .create(&PostParams::default(), &policy)
            .await
            .expect("policy");
    }
    for n in 0..NAMESPACES {
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": format!("bench-{n}")}}))
                .expect("ns");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace");
    }
    stream::iter(0..PODS)
        .map(|i| {
            let api: Api<Pod> =
                Api::namespaced(client.clone(), &format!("bench-{}", i % NAMESPACES));
            async move {
                api.create(&PostParams::default(), &pod(i))
                    .await
                    .expect("pod created")
            }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
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

    println!("scan_scale: 2 clusters x {PODS} pods, 3 policies each");
    for run in 1..=RUNS {
        let start = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
            .args(["scan", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--contexts", "bench-a,bench-b", "--output", "json"])
            .stderr(Stdio::inherit())
            .output()
            .expect("scan runs");
        let elapsed = start.elapsed();
        // The largest RSS of any waited-for child: only scan processes have exited (the
        // control planes still run), and each run is no smaller than the one before.
        let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN)
            .expect("getrusage")
            .max_rss();
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("scan prints JSON");
        let objects = report["total"]["objects"].as_u64().unwrap_or(0);
        assert_eq!(
            objects,
            2 * PODS as u64,
            "every Pod of both clusters scanned: {}",
            report["clusters"]
        );
        println!(
            "  run {run}: start -> report {elapsed:.2?} (exit {:?}), peak RSS of all runs so far {:.1} MiB, {} violations, {} drifts",
            output.status.code(),
            peak_kib as f64 / 1024.0,
            report["total"]["violations"],
            report["drift"]["drifts"].as_array().map_or(0, Vec::len)
        );
    }
}
