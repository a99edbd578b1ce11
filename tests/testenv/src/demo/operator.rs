//! `kube-guardian operator` child processes, one per demo cluster, when the binary has that
//! subcommand. Started like the control plane's processes: output to a log file, tied to the
//! demo's life, stopped with SIGTERM and then SIGKILL.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{Error, Result};
use crate::ports::free_ports;
use crate::process::{ManagedProcess, log_tail};

/// SIGTERM grace before SIGKILL: the operator drains its controllers and web servers first.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// One health probe's connect and read limit.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `binary operator --help` succeeds, i.e. this build has the operator subcommand.
pub fn supports_operator(binary: &Path) -> bool {
    Command::new(binary)
        .args(["operator", "--help"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A running `kube-guardian operator` for one kubeconfig context.
#[derive(Debug)]
pub struct Operator {
    context: String,
    health_addr: SocketAddr,
    log: PathBuf,
    process: Option<ManagedProcess>,
}

impl Operator {
    /// Starts `binary operator --kubeconfig … --context … --health-addr 127.0.0.1:<free port>`
    /// with its output in `log_dir/operator-<context>.log`. Does not wait for it to be healthy.
    pub fn start(binary: &Path, kubeconfig: &Path, context: &str, log_dir: &Path) -> Result<Self> {
        let [port] = free_ports::<1>()?;
        let health_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let args = [
            "operator".to_owned(),
            "--kubeconfig".to_owned(),
            kubeconfig.display().to_string(),
            "--context".to_owned(),
            context.to_owned(),
            "--health-addr".to_owned(),
            health_addr.to_string(),
        ];
        let log = log_dir.join(format!("operator-{context}.log"));
        let process = ManagedProcess::spawn("kube-guardian operator", binary, &args, &log)?;
        Ok(Self {
            context: context.to_owned(),
            health_addr,
            log,
            process: Some(process),
        })
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    pub fn health_addr(&self) -> SocketAddr {
        self.health_addr
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ManagedProcess::pid)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(message with the log's last lines)` once the process has exited; reported once.
    pub fn take_exit(&mut self) -> Option<String> {
        let process = self.process.as_mut()?;
        let status = process.exited()?;
        let message = format!(
            "operator for {} exited ({status}); last lines of {}:\n{}",
            self.context,
            self.log.display(),
            log_tail(&self.log)
        );
        self.process = None;
        Some(message)
    }

    /// Polls `GET /healthz` on the health port until it answers 200, the process exits or
    /// `timeout` passes. Blocking I/O on a blocking thread: the probe is a few bytes, once.
    pub async fn wait_healthy(&self, timeout: Duration) -> bool {
        let addr = self.health_addr;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let healthy = tokio::task::spawn_blocking(move || probe_healthz(addr))
                .await
                .unwrap_or(false);
            if healthy {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) -> Result<()> {
        match self.process.take() {
            Some(mut process) => process.stop(STOP_GRACE).map_err(Error::from),
            None => Ok(()),
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("demo: {e:?}");
        }
    }
}

/// One HTTP/1.0 request, enough for a health check without an HTTP client dependency.
fn probe_healthz(addr: SocketAddr) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut head = [0u8; 16];
        let n = stream.read(&mut head)?;
        // "HTTP/1.1 200 OK": the status code is the second word.
        Ok(head[..n].split(|b| *b == b' ').nth(1) == Some(b"200"))
    };
    attempt().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_subcommand_is_probed_by_exit_status() {
        // `true`/`false` ignore their arguments: stand-ins for a binary with and without it.
        assert!(supports_operator(Path::new("/bin/true")));
        assert!(!supports_operator(Path::new("/bin/false")));
        assert!(!supports_operator(Path::new("/nonexistent/kube-guardian")));
    }

    #[tokio::test]
    async fn an_operator_that_exits_is_reported_once_with_its_log() -> Result<()> {
        let dir = tempfile::tempdir().map_err(crate::Error::TempDir)?;
        // sh takes "operator" as a script to run and fails: an operator that dies at start.
        let mut operator = Operator::start(
            Path::new("/bin/sh"),
            Path::new("/tmp/kubeconfig"),
            "demo-x",
            dir.path(),
        )?;
        assert!(operator.log().ends_with("operator-demo-x.log"));
        let deadline = Instant::now() + Duration::from_secs(20);
        let message = loop {
            if let Some(message) = operator.take_exit() {
                break message;
            }
            assert!(Instant::now() < deadline, "still running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(message.contains("operator for demo-x exited"), "{message}");
        // The log's tail: the command line the harness wrote, with every flag.
        assert!(
            message.contains("--context demo-x --health-addr 127.0.0.1:"),
            "{message}"
        );
        assert_eq!(operator.take_exit(), None);
        assert!(!operator.wait_healthy(Duration::from_millis(300)).await);
        operator.stop()
    }
}
