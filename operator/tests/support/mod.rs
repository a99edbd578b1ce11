//! Helpers shared by the in-process webhook server tests (`webhook_tls`, `webhook_transport`):
//! polling with a deadline and this test binary's captured logs. Kept apart from `common`,
//! whose cluster helpers these tests do not use (unused items in a test module warn per crate).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Generous: the CI machine has two loaded cores.
pub const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// Polls `condition` until it holds, failing with `what` after [`DEADLINE`].
pub async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
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
