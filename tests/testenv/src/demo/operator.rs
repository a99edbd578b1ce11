//! `kube-guardian operator` child processes, one per demo cluster, when the binary has that
//! subcommand. Started like the control plane's processes: output to a log file, tied to the
//! demo's life, stopped with SIGTERM and then SIGKILL.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
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
    super::has_subcommand(binary, "operator")
}

/// One leader-elected replica: its pod name and the namespace of its Lease.
#[derive(Debug, Clone)]
pub struct Replica {
    pub name: String,
    pub lease_namespace: String,
}

/// A running `kube-guardian operator` for one kubeconfig context.
#[derive(Debug)]
pub struct Operator {
    context: String,
    name: String,
    health_addr: SocketAddr,
    log: PathBuf,
    process: Option<ManagedProcess>,
}

impl Operator {
    /// Starts `binary operator --kubeconfig … --context … --health-addr 127.0.0.1:<free port>`
    /// with its output in `log_dir/operator-<context>.log`. Does not wait for it to be healthy.
    pub fn start(binary: &Path, kubeconfig: &Path, context: &str, log_dir: &Path) -> Result<Self> {
        Self::spawn(binary, kubeconfig, context, None, log_dir)
    }

    /// [`Operator::start`] for one of several replicas: with `--leader-elect` on the default
    /// Lease in `replica.lease_namespace`, `POD_NAME` set to `replica.name` (the Lease holder's
    /// identity starts with it) and the log in `log_dir/operator-<replica name>.log`.
    pub fn start_replica(
        binary: &Path,
        kubeconfig: &Path,
        context: &str,
        replica: &Replica,
        log_dir: &Path,
    ) -> Result<Self> {
        Self::spawn(binary, kubeconfig, context, Some(replica), log_dir)
    }

    fn spawn(
        binary: &Path,
        kubeconfig: &Path,
        context: &str,
        replica: Option<&Replica>,
        log_dir: &Path,
    ) -> Result<Self> {
        let [port] = free_ports::<1>()?;
        let health_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut args = vec![
            "operator".to_owned(),
            "--kubeconfig".to_owned(),
            kubeconfig.display().to_string(),
            "--context".to_owned(),
            context.to_owned(),
            "--health-addr".to_owned(),
            health_addr.to_string(),
        ];
        let mut env = Vec::new();
        if let Some(replica) = replica {
            args.extend([
                "--leader-elect".to_owned(),
                "--lease-namespace".to_owned(),
                replica.lease_namespace.clone(),
            ]);
            env.push(("POD_NAME", replica.name.as_str()));
        }
        let name = replica.map_or(context, |r| r.name.as_str()).to_owned();
        let log = log_dir.join(format!("operator-{name}.log"));
        let process =
            ManagedProcess::spawn_with_env("kube-guardian operator", binary, &args, &env, &log)?;
        Ok(Self {
            context: context.to_owned(),
            name,
            health_addr,
            log,
            process: Some(process),
        })
    }

    /// The replica's name, or the context for a single operator.
    pub fn name(&self) -> &str {
        &self.name
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
            "operator {} ({}) exited ({status}); last lines of {}:\n{}",
            self.name,
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
        let deadline = Instant::now() + Duration::from_secs(60);
        let message = loop {
            if let Some(message) = operator.take_exit() {
                break message;
            }
            assert!(Instant::now() < deadline, "still running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            message.contains("operator demo-x (demo-x) exited"),
            "{message}"
        );
        // The log's tail: the command line the harness wrote, with every flag.
        assert!(
            message.contains("--context demo-x --health-addr 127.0.0.1:"),
            "{message}"
        );
        assert_eq!(operator.take_exit(), None);
        assert!(!operator.wait_healthy(Duration::from_millis(300)).await);
        operator.stop()
    }

    #[tokio::test]
    async fn a_replica_runs_for_the_lease_under_its_pod_name() -> Result<()> {
        let dir = tempfile::tempdir().map_err(crate::Error::TempDir)?;
        // A stand-in binary that prints what a replica is started with.
        let binary = dir.path().join("fake-operator");
        let write = |source| crate::Error::WriteFile {
            path: binary.clone(),
            source,
        };
        std::fs::write(&binary, "#!/bin/sh\necho \"pod=$POD_NAME args=$*\"\n").map_err(write)?;
        std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(write)?;
        let replica = Replica {
            name: "demo-a-2".into(),
            lease_namespace: "kube-system".into(),
        };
        let mut operator = Operator::start_replica(
            &binary,
            Path::new("/tmp/kubeconfig"),
            "demo-a",
            &replica,
            dir.path(),
        )?;
        assert_eq!(
            (operator.name(), operator.context()),
            ("demo-a-2", "demo-a")
        );
        assert!(operator.log().ends_with("operator-demo-a-2.log"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let message = loop {
            if let Some(message) = operator.take_exit() {
                break message;
            }
            assert!(Instant::now() < deadline, "still running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(message.contains("pod=demo-a-2 args=operator"), "{message}");
        assert!(
            message.contains("--context demo-a --health-addr 127.0.0.1:")
                && message.contains(" --leader-elect --lease-namespace kube-system"),
            "{message}"
        );
        Ok(())
    }
}
