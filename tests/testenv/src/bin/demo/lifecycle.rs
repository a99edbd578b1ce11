//! What the demo's lifetime hangs on: its directory (removed on every way out) and the signals
//! that end it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use guardian_testenv::demo::{Error, Operator, Result, RunningConsole};

/// How often the demo looks for operators that died while it waits for Ctrl-C.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The demo's directory (kubeconfig, operator logs), removed when dropped.
#[derive(Debug)]
pub struct DemoDir(PathBuf);

impl DemoDir {
    pub fn create(path: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            what: format!("create {}", path.display()),
            source,
        })?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("demo: cannot remove {}: {e}", self.0.display());
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, registered once so a signal during start-up is not lost.
#[derive(Debug)]
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let register = |kind| {
            signal(kind).map_err(|source| Error::Io {
                what: "register signal handlers".into(),
                source,
            })
        };
        Ok(Self {
            interrupt: register(SignalKind::interrupt())?,
            terminate: register(SignalKind::terminate())?,
        })
    }

    /// Waits for SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    /// Waits for the console to exit, or for a signal, which ends it. Its exit status is
    /// reported when it is not a success (it printed why on the terminal).
    pub async fn wait_for_console(&mut self, console: &mut RunningConsole) -> Result<()> {
        let exited = tokio::select! {
            status = console.wait() => Some(status?),
            () = self.recv() => None,
        };
        match exited {
            Some(status) if !status.success() => {
                eprintln!("demo: the console exited ({status})");
            }
            Some(_) => {}
            None => {
                console.kill();
                println!("demo: interrupted; closed the console");
            }
        }
        Ok(())
    }

    /// Waits for a signal, reporting operators that die meanwhile (the demo keeps running: the
    /// clusters are still useful without them).
    pub async fn wait(&mut self, operators: &mut [Operator]) {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        loop {
            tokio::select! {
                () = self.recv() => return,
                _ = tick.tick() => {
                    for operator in operators.iter_mut() {
                        if let Some(message) = operator.take_exit() {
                            eprintln!("demo: {message}");
                        }
                    }
                }
            }
        }
    }
}
