//! Child processes (etcd, kube-apiserver) with their output in a log file, stopped gracefully
//! with an escalation to SIGKILL, and tied to the test process's life so none outlives it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// How many trailing log lines an error message quotes.
const TAIL_LINES: usize = 25;

/// A running child process whose stdout and stderr go to `log`.
#[derive(Debug)]
pub(crate) struct ManagedProcess {
    pub name: &'static str,
    pub log: PathBuf,
    child: Child,
}

impl ManagedProcess {
    /// Starts `binary args…`, appending its output to `log` (kept across restarts).
    pub fn spawn(name: &'static str, binary: &Path, args: &[String], log: &Path) -> Result<Self> {
        Self::spawn_with_env(name, binary, args, &[], log)
    }

    /// [`ManagedProcess::spawn`] with extra environment variables.
    pub fn spawn_with_env(
        name: &'static str,
        binary: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Self> {
        let spawn_err = |source| Error::Spawn {
            name,
            binary: binary.to_owned(),
            log: log.to_owned(),
            source,
        };
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(spawn_err)?;
        writeln!(
            out,
            "--- testenv: starting {} {}",
            binary.display(),
            args.join(" ")
        )
        .map_err(spawn_err)?;
        let err = out.try_clone().map_err(spawn_err)?;

        let mut cmd = Command::new(binary);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        die_with_parent(&mut cmd);
        let child = spawn_from_long_lived_thread(cmd).map_err(spawn_err)?;
        Ok(Self {
            name,
            log: log.to_owned(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited (and reaps it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        // An error here means the child was already reaped: treat it as gone.
        self.child
            .try_wait()
            .unwrap_or_else(|_| Some(ExitStatus::default()))
    }

    /// An error for a process that exited while it should have been starting.
    pub fn exited_error(&self, status: ExitStatus) -> Error {
        Error::Exited {
            name: self.name,
            status: status.to_string(),
            log: self.log.clone(),
            tail: log_tail(&self.log),
        }
    }

    /// SIGKILL at once, as a crash would; blocks until the process is gone.
    pub fn kill(&mut self) -> Result<()> {
        if self.exited().is_some() {
            return Ok(());
        }
        self.child.kill().map_err(|e| self.stop_error(e))?;
        self.child.wait().map(drop).map_err(|e| self.stop_error(e))
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`. Blocks the calling thread.
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        if self.exited().is_some() {
            return Ok(());
        }
        let pid =
            i32::try_from(self.child.id()).map_err(|e| self.stop_error(io::Error::other(e)))?;
        // ESRCH means it exited between the check and the signal: fine.
        match signal::kill(Pid::from_raw(pid), Signal::SIGTERM) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(errno) => return Err(self.stop_error(errno.into())),
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill()
    }

    fn stop_error(&self, source: io::Error) -> Error {
        Error::Stop {
            name: self.name,
            pid: self.child.id(),
            log: self.log.clone(),
            source,
        }
    }
}

/// Arranges for the kernel to SIGKILL the child when the thread that spawned it dies, so a test
/// process that panics, is killed or exits with a shared control plane leaves no orphans.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe syscalls
    // (prctl, getppid); it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
            // The parent may have died before prctl took effect; then nobody would signal us.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::other(
                    "the test process exited before the child started",
                ));
            }
            Ok(())
        });
    }
}

/// A child request for the spawner thread.
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Test
/// threads and tokio's blocking threads come and go (and a control plane may be shared between
/// tests), so every child is forked by one thread that lives as long as the process.
fn spawn_from_long_lived_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    // The requester may have gone away; nothing to do then.
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok()
            .map(|_| tx)
    });
    let spawner = spawner
        .as_ref()
        .ok_or_else(|| io::Error::other("cannot start the testenv spawner thread"))?;
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("the testenv spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("the testenv spawner thread dropped the request"))?
}

/// The last lines of a log file, for error messages. Reads at most the final 64 KiB.
pub(crate) fn log_tail(path: &Path) -> String {
    const MAX: u64 = 64 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_goes_to_the_log_and_stop_ends_the_process() -> Result<()> {
        let dir = tempfile::tempdir().map_err(Error::TempDir)?;
        let log = dir.path().join("sleeper.log");
        let args = [
            "-c".to_owned(),
            "echo hello from child; exec sleep 60".to_owned(),
        ];
        let mut p = ManagedProcess::spawn("sleeper", Path::new("/bin/sh"), &args, &log)?;
        assert!(p.pid() > 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !log_tail(&log).contains("hello from child") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            log_tail(&log).contains("hello from child"),
            "{}",
            log_tail(&log)
        );
        assert!(p.exited().is_none());
        p.stop(Duration::from_secs(10))?;
        assert!(p.exited().is_some());
        Ok(())
    }

    #[test]
    fn tail_reports_an_unreadable_log() {
        assert!(log_tail(Path::new("/nonexistent/x.log")).contains("cannot read"));
    }
}
