//! Helpers shared by the in-process webhook server tests (`webhook_tls`, `webhook_transport`):
//! a webhook server with one Deny policy, its TLS client ([`client`], [`review`]), polling with a deadline
//! and this test binary's captured logs. Kept apart from `common`, whose cluster helpers these
//! tests do not use; declared `pub mod support;` so that what one test file leaves unused does
//! not warn.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use guardian_cluster::store::PolicyStore;
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{Webhook, WebhookConfig, WebhookState};
use serde_json::json;
use tokio::sync::oneshot;

pub mod client;
pub mod review;

/// Generous: the CI machine has two loaded cores.
pub const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// Awaits `step`, failing the test with `what` if it has not completed after [`DEADLINE`]: a
/// client step over the network that never completes must be a failure with a message, not a
/// test run that hangs.
pub async fn bounded<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, step).await {
        Ok(done) => done,
        Err(_) => panic!("{what}: not done after {DEADLINE:?}"),
    }
}

/// Polls `condition` until it holds, failing with `what` after [`DEADLINE`].
pub async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    // The deadline bounds each check too: a check over the network that never returns must not
    // outlive it.
    let until = tokio::time::Instant::from_std(started + DEADLINE);
    loop {
        match tokio::time::timeout_at(until, condition()).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(_) => {
                panic!("timed out after {DEADLINE:?} waiting for {what} (a check never returned)")
            }
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

// ---- captured logs (to wait for a log line without sleeping) --------------------------------

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line of this test binary up to `max_level`, each starting with its
/// level. The first call in a binary sets the level.
pub fn capture_logs(max_level: tracing::Level) {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_max_level(max_level)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// The lines captured so far.
pub fn log_lines() -> Vec<String> {
    LOGS.lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

// ---- the server under test -------------------------------------------------------------------

/// A webhook on a free loopback port with one Deny policy (`pss-privileged`).
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), guardian_operator::Error>>,
}

impl Server {
    /// Serves the pair in `cert_dir`, reloading every 50 ms, with `tune` applied to the config.
    pub async fn start(cert_dir: &Path, tune: impl FnOnce(&mut WebhookConfig)) -> Server {
        guardian_cluster::crypto::install_crypto_provider();
        let store = Arc::new(PolicyStore::new());
        let policy = serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": { "name": "no-privileged" },
            "spec": { "enforcement": "Deny", "rules": [{ "id": "pss-privileged" }] }
        }))
        .expect("policy");
        store.rebuild(&[policy], &[]);
        let mut config = WebhookConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), cert_dir);
        config.reload_interval = Duration::from_millis(50);
        tune(&mut config);
        let state = WebhookState::new(store, Metrics::new().expect("metrics"));
        let bound = Webhook::bind(&config, state).await.expect("bind");
        let addr = bound.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Stops the server and checks it shut down cleanly and promptly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the server stops within the deadline")
            .expect("the server task does not panic")
            .expect("the server returns Ok");
    }
}
