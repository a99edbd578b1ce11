//! `kube-guardian operator` as a child process, started the way a user starts it, for the
//! end-to-end tests that drive the real binary against a control plane from this crate.
//!
//! ```no_run
//! # async fn demo(cp: &guardian_testenv::ControlPlane, dir: &std::path::Path) -> Result<(), guardian_testenv::Error> {
//! use guardian_testenv::operator_process::{OperatorProcess, wait_for};
//! let op = OperatorProcess::builder("target/debug/kube-guardian", cp.kubeconfig_path(), cp.context_name())
//!     .name("op-a")
//!     .start(dir)?;
//! wait_for("the operator to be ready", std::time::Duration::from_millis(200), &[&op], async || {
//!     (op.readyz()? == 200).then_some(())
//! })
//! .await;
//! # Ok(())
//! # }
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long [`wait_for`] polls before it fails the test: generous, for a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// A free address on 127.0.0.1 for one of the operator's listeners.
pub fn free_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::FreePort)?;
    listener.local_addr().map_err(Error::FreePort)
}

/// Leader-election flags; durations are passed in whole seconds.
#[derive(Debug)]
struct LeaderElection {
    lease: String,
    namespace: String,
    duration: Duration,
    renew_deadline: Duration,
}

/// Options of one `kube-guardian operator` command line; see [`OperatorProcess::builder`].
#[derive(Debug)]
pub struct OperatorProcessBuilder {
    binary: PathBuf,
    kubeconfig: PathBuf,
    context: String,
    name: Option<String>,
    webhook: Option<(PathBuf, SocketAddr)>,
    leader: Option<LeaderElection>,
    resync: Option<Duration>,
    log_level: String,
    extra_args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl OperatorProcessBuilder {
    /// One more command-line argument, after the others (e.g. `--initial-list=paged`).
    #[must_use]
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }

    /// One more environment variable, set after the others (e.g. a `POD_NAME` too long to name
    /// the log file after).
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets `POD_NAME` (the leader-election identity) and names the log file `<name>.log`.
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Serves the webhook on `addr` with the `tls.crt`/`tls.key` pair in `cert_dir`.
    #[must_use]
    pub fn webhook(mut self, cert_dir: &Path, addr: SocketAddr) -> Self {
        self.webhook = Some((cert_dir.to_owned(), addr));
        self
    }

    /// Runs for leadership of the Lease `lease` in `namespace`.
    #[must_use]
    pub fn leader_election(
        mut self,
        lease: &str,
        namespace: &str,
        duration: Duration,
        renew_deadline: Duration,
    ) -> Self {
        self.leader = Some(LeaderElection {
            lease: lease.to_owned(),
            namespace: namespace.to_owned(),
            duration,
            renew_deadline,
        });
        self
    }

    /// `--resync-interval`, in whole seconds.
    #[must_use]
    pub fn resync(mut self, interval: Duration) -> Self {
        self.resync = Some(interval);
        self
    }

    /// `--log-level` (a tracing filter); `info` unless set.
    #[must_use]
    pub fn log_level(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.log_level);
        self
    }

    /// Starts the operator with its health port on a free address and its output (stdout and
    /// stderr) in `<log_dir>/<name>.log` (`operator.log` without a name).
    pub fn start(self, log_dir: &Path) -> Result<OperatorProcess> {
        let name = self.name.clone().unwrap_or_else(|| "operator".to_owned());
        let log = log_dir.join(format!("{name}.log"));
        let health = free_addr()?;
        let write_error = |source| Error::WriteFile {
            path: log.clone(),
            source,
        };
        let out = std::fs::File::create(&log).map_err(write_error)?;
        let err = out.try_clone().map_err(write_error)?;
        let mut command = Command::new(&self.binary);
        command
            .args(["operator", "--kubeconfig"])
            .arg(&self.kubeconfig)
            .args(["--context", &self.context])
            .args(["--health-addr", &health.to_string()]);
        if let Some((cert_dir, addr)) = &self.webhook {
            command
                .args(["--webhook-addr", &addr.to_string(), "--webhook-cert-dir"])
                .arg(cert_dir);
        }
        if let Some(leader) = &self.leader {
            command
                .args(["--leader-elect", "--lease-name", &leader.lease])
                .args(["--lease-namespace", &leader.namespace])
                .args(["--lease-duration", &seconds(leader.duration)])
                .args(["--renew-deadline", &seconds(leader.renew_deadline)]);
        }
        if let Some(interval) = self.resync {
            command.args(["--resync-interval", &seconds(interval)]);
        }
        command.args(["--log-format", "text", "--log-level", &self.log_level]);
        command.args(&self.extra_args);
        if let Some(name) = &self.name {
            command.env("POD_NAME", name);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let child = command
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|source| Error::Spawn {
                name: "kube-guardian operator",
                binary: self.binary.clone(),
                log: log.clone(),
                source,
            })?;
        Ok(OperatorProcess {
            name,
            child,
            health,
            webhook: self.webhook.map(|(_, addr)| addr),
            log,
        })
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// One running operator; killed on drop so a failing test leaves nothing behind.
#[derive(Debug)]
pub struct OperatorProcess {
    name: String,
    child: Child,
    health: SocketAddr,
    webhook: Option<SocketAddr>,
    log: PathBuf,
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OperatorProcess {
    /// A command line for `binary` (the test's `env!("CARGO_BIN_EXE_kube-guardian")`) talking
    /// to `context` in `kubeconfig`.
    pub fn builder(
        binary: impl Into<PathBuf>,
        kubeconfig: &Path,
        context: &str,
    ) -> OperatorProcessBuilder {
        OperatorProcessBuilder {
            binary: binary.into(),
            kubeconfig: kubeconfig.to_owned(),
            context: context.to_owned(),
            name: None,
            webhook: None,
            leader: None,
            resync: None,
            log_level: "info".to_owned(),
            extra_args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// The name given to the builder, or `operator`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child process, e.g. for its pid or to signal it.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// The child process, e.g. to kill it or to check whether it exited.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The webhook's address, if it was configured.
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.webhook
    }

    /// Everything the operator logged so far (empty if the log cannot be read).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs `path` from the health port: status and body, or `None` if it did not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.health, path)
    }

    /// The status of `/readyz`.
    pub fn readyz(&self) -> Option<u16> {
        self.get("/readyz").map(|(status, _)| status)
    }

    /// The sum of the samples of metric `name` (every label set), if /metrics answered. `name`
    /// may go on with its first labels (`name{a="x"`, or `name{a="x"}` for all of them).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        Some(metric_sum(&body, name))
    }
}

/// The sum of the samples of metric `name` in a Prometheus text `body` (every label set). `name`
/// may go on with its first labels (`name{a="x"`, or `name{a="x"}` for all of them); a longer
/// metric name that starts with it does not count.
pub fn metric_sum(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{', ',', '}']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A minimal HTTP/1.1 GET, enough for the plain-HTTP health port.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    parse_http_response(&response)
}

/// The status and body of a raw HTTP/1.1 response (`Connection: close`, no chunking).
pub fn parse_http_response(response: &str) -> Option<(u16, String)> {
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// Polls `check` every `poll` until it returns `Some`, for up to [`DEADLINE`].
///
/// # Panics
///
/// On timeout, as a test assertion, with the logs of `operators`.
pub async fn wait_for<T>(
    what: &str,
    poll: Duration,
    operators: &[&OperatorProcess],
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > DEADLINE {
            let logs: Vec<String> = operators
                .iter()
                .map(|p| format!("--- {} ({}):\n{}", p.name, p.log.display(), p.logs()))
                .collect();
            panic!(
                "timed out after {DEADLINE:?} waiting for {what}\n{}",
                logs.join("\n")
            );
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_splits_into_status_and_body() {
        let parsed =
            parse_http_response("HTTP/1.1 503 Service Unavailable\r\nA: b\r\n\r\nnot ready");
        assert_eq!(parsed, Some((503, "not ready".to_owned())));
        assert_eq!(parse_http_response("garbage"), None);
    }
}
