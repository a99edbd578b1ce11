//! What the operator benches share (operator_scale, operator_change): the release operator
//! process, its HTTP endpoints, the five policies and histogram percentiles. Each includes it
//! with `mod operator_scale_support;`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use kube::api::Api;

use crate::seed;

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .starts_with("HTTP/1.1 200")
        .then(|| response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()))?
}

pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The operator binary: this build's, or the one `GUARDIAN_BENCH_OPERATOR` names (another
/// commit's release build, for before/after figures on the same seeded cluster).
pub fn operator_binary() -> std::path::PathBuf {
    std::env::var_os("GUARDIAN_BENCH_OPERATOR").map_or_else(
        || env!("CARGO_BIN_EXE_kube-guardian").into(),
        std::path::PathBuf::from,
    )
}

/// The operator with its resync pushed out to an hour: a resync's full evaluation of every policy
/// must not fall inside a bench's window (the default 5 min did in operator_change's long runs).
/// `GUARDIAN_BENCH_LOG=<filter>` (e.g. `warn,guardian_operator=debug`) logs at that level to
/// `target/<bench>-operator.log` (JSON lines with timestamps), to see where a change's time goes.
pub fn start_operator(cp: &ControlPlane, health: SocketAddr) -> Child {
    let log = std::env::var("GUARDIAN_BENCH_LOG").ok();
    let stdout = match &log {
        Some(_) => {
            let bench = std::env::args()
                .next()
                .and_then(|a| {
                    let name = std::path::Path::new(&a).file_name()?.to_str()?.to_owned();
                    Some(name.split('-').next()?.to_owned())
                })
                .unwrap_or_else(|| "bench".into());
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(format!("{bench}-operator.log"));
            eprintln!("the operator logs to {}", path.display());
            Stdio::from(std::fs::File::create(&path).expect("the operator's log file"))
        }
        None => Stdio::null(),
    };
    Command::new(operator_binary())
        .args(["operator", "--kubeconfig"])
        .arg(cp.kubeconfig_path())
        .args([
            "--health-addr",
            &health.to_string(),
            "--log-level",
            log.as_deref().unwrap_or("warn"),
            "--concurrency",
            "2",
            "--resync-interval",
            "3600s",
        ])
        .stdout(stdout)
        .spawn()
        .expect("the operator starts")
}

pub async fn wait_until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every policy's status counts the objects it evaluated.
pub async fn wait_for_all_statuses(api: &Api<GuardianPolicy>) {
    wait_until("all statuses", async || {
        let list = api.list(&Default::default()).await.ok()?;
        list.items
            .iter()
            .all(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.summary.as_ref())
                    .is_some_and(|s| s.resources_evaluated > 0)
            })
            .then_some(())
    })
    .await;
}

pub fn policies() -> Vec<GuardianPolicy> {
    let specs = [
        (
            "bench-baseline",
            serde_json::json!({"profiles": ["pss-baseline"]}),
        ),
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
        (
            "bench-ns0",
            serde_json::json!({"match": {"namespaces": ["bench-0"]}, "rules": [{"id": "image-tag-pinned"}, {"id": "pss-privileged"}]}),
        ),
    ];
    seed::policies(specs)
}

/// A histogram's cumulative buckets `(le, count)` from Prometheus text, summed over its label
/// sets.
pub fn buckets(metrics: &str, name: &str) -> Vec<(f64, f64)> {
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")))
    {
        let Some(le) = line.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        let count: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0.0);
        match by_le.iter_mut().find(|(l, _)| *l == le) {
            Some((_, c)) => *c += count,
            None => by_le.push((le, count)),
        }
    }
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_le
}

/// A bucket bound as printed: `<= b s`, or `> top s` past the top finite bucket (the +Inf
/// bucket bounds nothing).
pub fn bound_text(metrics: &str, name: &str, bound: f64) -> String {
    if bound.is_finite() {
        return format!("<= {bound} s");
    }
    let top = buckets(metrics, name)
        .iter()
        .map(|b| b.0)
        .filter(|le| le.is_finite())
        .fold(f64::NAN, f64::max);
    format!("> {top} s (past the top bucket)")
}

/// The upper bound of the bucket holding quantile `q` of the observations made between two
/// scrapes, and how many there were.
pub fn quantile_between(before: &str, after: &str, name: &str, q: f64) -> (f64, f64) {
    let (before, after) = (buckets(before, name), buckets(after, name));
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, c)| {
            let was = before.iter().find(|(l, _)| l == le).map_or(0.0, |b| b.1);
            (*le, c - was)
        })
        .collect();
    let total = delta.last().map_or(0.0, |b| b.1);
    let bound = delta
        .iter()
        .find(|(_, c)| *c >= total * q)
        .map_or(f64::NAN, |b| b.0);
    (bound, total)
}
