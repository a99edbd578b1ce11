//! The console in the demo's foreground: `kube-guardian tui --contexts demo-a,demo-b` on the
//! demo's kubeconfig, owning the terminal until the user quits it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};

use super::error::{Error, Result};
use super::has_subcommand;

/// Whether `binary tui --help` succeeds, i.e. this build has the console.
pub fn supports_console(binary: &Path) -> bool {
    has_subcommand(binary, "tui")
}

/// The console's command line, as the README tells a user to type it.
#[derive(Debug, Clone)]
pub struct Console {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    pub contexts: Vec<String>,
    /// `--log-file`: next to the operators' logs rather than in the user's state dir.
    pub log_file: PathBuf,
}

impl Console {
    /// `binary tui --kubeconfig K --contexts a,b --log-file L`.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("tui")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--contexts")
            .arg(self.contexts.join(","))
            .arg("--log-file")
            .arg(&self.log_file);
        command
    }

    /// Starts the console on this process's terminal (stdin, stdout and stderr inherited).
    pub fn spawn(&self) -> Result<RunningConsole> {
        let child = self.command().spawn().map_err(|source| Error::Io {
            what: format!("start the console {}", self.binary.display()),
            source,
        })?;
        Ok(RunningConsole { child })
    }
}

/// The console while it runs.
#[derive(Debug)]
pub struct RunningConsole {
    child: Child,
}

impl RunningConsole {
    /// Waits for the user to quit it, on a blocking thread so signals are still handled.
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        let pid = self.child.id();
        // try_wait on an interval: Child::wait would hold the child in a blocking task that a
        // signal could not interrupt, and the console must be killable on SIGTERM.
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                Err(source) => {
                    return Err(Error::Io {
                        what: format!("wait for the console (pid {pid})"),
                        source,
                    });
                }
            }
        }
    }

    /// Ends it (SIGKILL) and reaps it: the demo was told to stop by a signal.
    pub fn kill(&mut self) {
        // An error means it has already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_the_readme_one() {
        let console = Console {
            binary: "/bin/kg".into(),
            kubeconfig: "/d/kubeconfig".into(),
            contexts: vec!["demo-a".into(), "demo-b".into()],
            log_file: "/d/console.log".into(),
        };
        let command = console.command();
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(command.get_program(), "/bin/kg");
        assert_eq!(
            args,
            [
                "tui",
                "--kubeconfig",
                "/d/kubeconfig",
                "--contexts",
                "demo-a,demo-b",
                "--log-file",
                "/d/console.log"
            ]
        );
    }

    /// A console stand-in: a script that runs `body` whatever its arguments.
    fn fake(dir: &Path, body: &str) -> Result<Console> {
        let binary = dir.join("fake-console");
        let write = |source| Error::Io {
            what: format!("write {}", binary.display()),
            source,
        };
        std::fs::write(&binary, format!("#!/bin/sh\n{body}\n")).map_err(write)?;
        std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(write)?;
        Ok(Console {
            binary,
            kubeconfig: "/d/kubeconfig".into(),
            contexts: vec!["demo-a".into()],
            log_file: "/dev/null".into(),
        })
    }

    #[tokio::test]
    async fn waiting_returns_the_exit_status_and_kill_ends_it() -> Result<()> {
        let dir = tempfile::tempdir().map_err(crate::Error::TempDir)?;
        let status = fake(dir.path(), "exit 3")?.spawn()?.wait().await?;
        assert_eq!(status.code(), Some(3));

        let mut running = fake(dir.path(), "exec sleep 600")?.spawn()?;
        running.kill();
        // Killed by a signal: no exit code.
        assert_eq!(running.wait().await?.code(), None);
        Ok(())
    }

    #[test]
    fn the_console_subcommand_is_probed_by_exit_status() {
        assert!(supports_console(Path::new("/bin/true")));
        assert!(!supports_console(Path::new("/bin/false")));
    }
}
