//! A program in a real terminal, for end-to-end tests of the console: a detached tmux session
//! of a fixed size on its own server socket, driven by keys and read back as plain text.
//!
//! ```no_run
//! # async fn demo() -> Result<(), guardian_testenv::Error> {
//! use std::time::Duration;
//! use guardian_testenv::tmux::Tmux;
//! let term = Tmux::builder("cat").size(80, 24).env("NO_COLOR", "1").start()?;
//! term.send_text("hello")?;
//! term.wait_for_text("hello", Duration::from_secs(60)).await?;
//! term.send_keys(&["C-d"])?;
//! assert_eq!(term.wait_for_exit(Duration::from_secs(60)).await?, guardian_testenv::tmux::Exit::Code(0));
//! # Ok(())
//! # }
//! ```
//!
//! The server runs with its own configuration (the user's `~/.tmux.conf` is not read): no status
//! line, so the program gets the whole size, and `remain-on-exit`, so the pane keeps its last
//! screen and its exit status after the program ends. Dropping [`Tmux`] kills the server.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::command::output_within;
use crate::error::{Error, Result};

mod exit_report;
pub use exit_report::ExitReport;

/// How often [`Tmux::wait_for`] reads the screen.
const POLL: Duration = Duration::from_millis(100);
/// One tmux command returns in milliseconds; generous for a loaded 2-core machine.
const TMUX_DEADLINE: Duration = Duration::from_secs(30);
/// How long the last output of a program that exited may take to show: a loaded machine may
/// schedule the tmux server seconds late. Waited out only when the screen never shows it.
const SETTLE: Duration = Duration::from_secs(10);
/// Runs the program and writes its exit status to a file (`$1`). tmux's own `pane_dead_status`
/// is not enough: with several servers starting at once it sometimes never learns the status of
/// a dead pane. The traps keep the shell alive when Ctrl-C or Ctrl-\ reaches both it and the
/// program (a handler, unlike an ignored signal, is not inherited by the program); a hangup
/// (the server killed) still ends the shell, and with it the program.
const WRAPPER: &str =
    r#"f=$1; shift; trap : INT QUIT; "$@"; s=$?; echo $s > "$f.new" && mv "$f.new" "$f"; exit $s"#;
/// The session's name on its private server.
const SESSION: &str = "main";
/// Read before the session starts, so even a program that exits at once leaves its status.
/// An empty `remain-on-exit-format` keeps tmux from writing "Pane is dead" (and scrolling the
/// last screen up to make room for it).
const CONFIG: &str = "set -g remain-on-exit on\nset -g remain-on-exit-format ''\n\
                      set -g status off\nset -g history-limit 2000\n";

/// How the program in the pane ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// Options of a session; see [`Tmux::builder`].
#[derive(Debug)]
pub struct TmuxBuilder {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    size: (u16, u16),
    cwd: Option<PathBuf>,
}

impl TmuxBuilder {
    /// One argument of the program.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Arguments of the program.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable of the program (on top of this process's environment).
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Columns and rows of the terminal; 160x48 unless set.
    #[must_use]
    pub fn size(mut self, columns: u16, rows: u16) -> Self {
        self.size = (columns, rows);
        self
    }

    /// The program's working directory; this process's unless set.
    #[must_use]
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    /// Starts the server and the session running the program (no shell between them but
    /// [`WRAPPER`], which records its exit status).
    pub fn start(self) -> Result<Tmux> {
        let dir = tempfile::Builder::new()
            .prefix("kg-tmux-")
            .tempdir()
            .map_err(Error::TempDir)?;
        let config = dir.path().join("tmux.conf");
        std::fs::write(&config, CONFIG).map_err(|source| Error::WriteFile {
            path: config.clone(),
            source,
        })?;
        let term = Tmux {
            socket: dir.path().join("socket"),
            status: dir.path().join("status"),
            config,
            _dir: dir,
        };
        let (columns, rows) = self.size;
        let mut args: Vec<OsString> = ["new-session", "-d", "-s", SESSION, "-x"]
            .into_iter()
            .map(OsString::from)
            .collect();
        args.push(columns.to_string().into());
        args.push("-y".into());
        args.push(rows.to_string().into());
        if let Some(cwd) = &self.cwd {
            args.push("-c".into());
            args.push(cwd.into());
        }
        for (key, value) in &self.env {
            args.push("-e".into());
            args.push(format!("{key}={value}").into());
        }
        args.extend(["sh", "-c", WRAPPER, "sh"].map(OsString::from));
        args.push(term.status.clone().into());
        args.push(self.program);
        args.extend(self.args);
        term.run("start the session", &args)?;
        Ok(term)
    }
}

/// A running tmux server with one session; killed on drop.
#[derive(Debug)]
pub struct Tmux {
    socket: PathBuf,
    /// Written by [`WRAPPER`] when the program ends.
    status: PathBuf,
    config: PathBuf,
    // Holds the socket and the configuration; removed after the server is killed.
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// A session running `program`, 160x48 unless [`TmuxBuilder::size`] says otherwise.
    pub fn builder(program: impl Into<OsString>) -> TmuxBuilder {
        TmuxBuilder {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            size: (160, 48),
            cwd: None,
        }
    }

    /// Presses keys, in tmux's names: `q`, `Enter`, `Escape`, `C-c`, `Down`, `/`.
    pub fn send_keys(&self, keys: &[&str]) -> Result<()> {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.run(&format!("send keys {keys:?}"), &args).map(drop)
    }

    /// Types `text` literally, character by character.
    pub fn send_text(&self, text: &str) -> Result<()> {
        self.run(
            &format!("type {text:?}"),
            &["send-keys", "-t", SESSION, "-l", text],
        )
        .map(drop)
    }

    /// The visible screen as plain text, one line per row.
    pub fn capture(&self) -> Result<String> {
        let out = self.run("capture the pane", &["capture-pane", "-p", "-t", SESSION])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The visible screen with its styles, as the escape sequences (SGR) that draw them: what
    /// colours and attributes the program gave each cell.
    pub fn capture_styled(&self) -> Result<String> {
        let out = self.run(
            "capture the pane with its styles",
            &["capture-pane", "-p", "-e", "-t", SESSION],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// How the program ended, or `None` while it runs.
    pub fn exit(&self) -> Result<Option<Exit>> {
        let Ok(text) = std::fs::read_to_string(&self.status) else {
            return Ok(None);
        };
        let code: i32 = text.trim().parse().map_err(|_| Error::Tmux {
            action: "read the program's exit status".to_owned(),
            status: "ok".to_owned(),
            stderr: format!("{} holds {text:?}", self.status.display()),
        })?;
        // The shell's rule: 128 + n is death by signal n.
        Ok(Some(match code {
            129..=192 => Exit::Signal(code - 128),
            code => Exit::Code(code),
        }))
    }

    /// The pid of the program (a child of the pane's shell, [`WRAPPER`]), once it runs.
    pub fn pid(&self) -> Result<Option<u32>> {
        let out = self.display("#{pane_pid}")?;
        let shell = out.trim();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap_or_default();
        Ok(children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok()))
    }

    /// Whether the pane shows the alternate screen (a full-screen program's).
    pub fn alternate_screen(&self) -> Result<bool> {
        Ok(self.display("#{alternate_on}")?.trim() == "1")
    }

    /// Whether the pane's cursor is visible (tmux reports a dead pane's as hidden: ask while the
    /// program runs).
    pub fn cursor_visible(&self) -> Result<bool> {
        Ok(self.display("#{cursor_flag}")?.trim() == "1")
    }

    /// Polls the screen until `ready` accepts it, and returns that screen. Fails after
    /// `deadline`, or as soon as the program has exited without `ready` accepting its last screen;
    /// the error quotes the last screen.
    pub async fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        mut ready: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let start = Instant::now();
        loop {
            // Exit first: once tmux knows the status it has read all the output, so the screen
            // captured after it is the last one.
            let exit = self.exit()?;
            let screen = self.capture()?;
            if ready(&screen) {
                return Ok(screen);
            }
            if let Some(exit) = exit {
                // tmux may learn the exit before it has drawn the last output: look again for
                // a moment before calling it a failure.
                if let Some(screen) = self.settle(&mut ready)? {
                    return Ok(screen);
                }
                return Err(Error::TerminalExited {
                    what: what.to_owned(),
                    exit: format!("{exit:?}"),
                    screen,
                });
            }
            if start.elapsed() > deadline {
                return Err(Error::TerminalTimeout {
                    what: what.to_owned(),
                    waited: deadline,
                    screen,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// After the program exited: the screen once `ready` accepts it within [`SETTLE`].
    fn settle(&self, ready: &mut impl FnMut(&str) -> bool) -> Result<Option<String>> {
        let start = Instant::now();
        while start.elapsed() < SETTLE {
            std::thread::sleep(POLL);
            let screen = self.capture()?;
            if ready(&screen) {
                return Ok(Some(screen));
            }
        }
        Ok(None)
    }

    /// [`Tmux::wait_for`] the screen to contain `text`.
    pub async fn wait_for_text(&self, text: &str, deadline: Duration) -> Result<String> {
        self.wait_for(&format!("{text:?} on the screen"), deadline, |s| {
            s.contains(text)
        })
        .await
    }

    /// Waits for the program to exit and returns how it ended.
    pub async fn wait_for_exit(&self, deadline: Duration) -> Result<Exit> {
        let start = Instant::now();
        loop {
            if let Some(exit) = self.exit()? {
                return Ok(exit);
            }
            if start.elapsed() > deadline {
                return Err(Error::TerminalTimeout {
                    what: "the program to exit".to_owned(),
                    waited: deadline,
                    screen: self.capture()?,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn display(&self, format: &str) -> Result<String> {
        let out = self.run(
            &format!("read {format}"),
            &["display-message", "-p", "-t", SESSION, format],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `tmux -S <socket> -f <config> args…`, failing with tmux's stderr when it fails, and
    /// killed after [`TMUX_DEADLINE`] (a tmux client that never returns must not hang a test).
    fn run<S: AsRef<std::ffi::OsStr>>(&self, action: &str, args: &[S]) -> Result<Output> {
        let mut tmux = Command::new("tmux");
        tmux.arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg(&self.config)
            .args(args);
        let what = format!("tmux to {action}");
        let out = match output_within(&mut tmux, &what, None, TMUX_DEADLINE) {
            Err(Error::Run { source, .. }) => Err(Error::TmuxMissing {
                action: action.to_owned(),
                source,
            }),
            other => other,
        }?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(Error::Tmux {
                action: action.to_owned(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Also ends the program (SIGHUP); an error means the server is already gone.
        let _ = self.run("kill the server", &["kill-server"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(60);

    fn sh(script: &str) -> TmuxBuilder {
        Tmux::builder("sh").args(["-c", script])
    }

    #[tokio::test]
    async fn keys_reach_the_program_and_its_output_is_captured() -> Result<()> {
        let term = Tmux::builder("cat").start()?;
        term.send_text("hello tmux")?;
        term.send_keys(&["Enter"])?;
        // The tty echoes the line, then cat prints it: twice.
        let screen = term
            .wait_for("the line twice", DEADLINE, |s| {
                s.matches("hello tmux").count() == 2
            })
            .await?;
        assert_eq!(screen.lines().next(), Some("hello tmux"));
        assert_eq!(term.exit()?, None);
        term.send_keys(&["C-d"])?;
        assert_eq!(term.wait_for_exit(DEADLINE).await?, Exit::Code(0));
        Ok(())
    }

    #[tokio::test]
    async fn the_size_and_environment_are_the_programs() -> Result<()> {
        let term = sh("echo \"size $(stty size) var $KG_TMUX_TEST\"; read x; exit 3")
            .size(100, 30)
            .env("KG_TMUX_TEST", "set here")
            .start()?;
        // remain-on-exit: the last screen stays readable after the program ended.
        term.wait_for_text("size 30 100 var set here", DEADLINE)
            .await?;
        term.send_keys(&["Enter"])?;
        assert_eq!(term.wait_for_exit(DEADLINE).await?, Exit::Code(3));
        assert!(term.capture()?.contains("size 30 100 var set here"));
        Ok(())
    }

    #[tokio::test]
    async fn a_signal_ends_the_program_and_is_reported_as_such() -> Result<()> {
        let term = sh("echo ready; read x; kill -TERM $$").start()?;
        term.wait_for_text("ready", DEADLINE).await?;
        term.send_keys(&["Enter"])?;
        assert_eq!(term.wait_for_exit(DEADLINE).await?, Exit::Signal(15));
        Ok(())
    }

    #[tokio::test]
    async fn waiting_fails_with_the_screen_on_timeout_and_on_exit() -> Result<()> {
        let term = sh("echo waiting; exec cat").start()?;
        // On the screen first: a loaded machine may not have run `echo` within the short wait.
        term.wait_for_text("waiting", DEADLINE).await?;
        let err = term
            .wait_for_text("never shown", Duration::from_millis(300))
            .await
            .expect_err("a timeout");
        let message = err.to_string();
        assert!(
            message.contains("never shown") && message.contains("waiting"),
            "{message}"
        );

        let term = sh("echo bye; read x; exit 1").start()?;
        term.wait_for_text("bye", DEADLINE).await?;
        term.send_keys(&["Enter"])?;
        let err = term
            .wait_for_text("never shown", DEADLINE)
            .await
            .expect_err("an early exit");
        let message = err.to_string();
        assert!(
            message.contains("exited (Code(1))") && message.contains("bye"),
            "{message}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn the_alternate_screen_and_cursor_are_visible_to_the_test() -> Result<()> {
        // What a full-screen program does: alternate screen and hidden cursor, then back.
        let term = sh("printf '\\033[?1049h\\033[?25lfull screen'; read x; \
             printf '\\033[?1049l\\033[?25hnormal again'; exec cat")
        .start()?;
        term.wait_for_text("full screen", DEADLINE).await?;
        assert!(term.alternate_screen()?);
        assert!(!term.cursor_visible()?);
        term.send_keys(&["Enter"])?;
        let screen = term.wait_for_text("normal again", DEADLINE).await?;
        assert!(!screen.contains("full screen"), "{screen}");
        assert!(!term.alternate_screen()?);
        assert!(term.cursor_visible()?);
        Ok(())
    }

    #[tokio::test]
    async fn dropping_the_session_kills_its_server_and_program() -> Result<()> {
        let term = sh("echo $$; exec sleep 600").start()?;
        let screen = term
            .wait_for("the pid", DEADLINE, |s| s.trim().parse::<u32>().is_ok())
            .await?;
        let pid = screen.trim().to_owned();
        assert_eq!(term.pid()?.map(|p| p.to_string()), Some(pid.clone()));
        let socket = term.socket.clone();
        drop(term);
        assert!(!socket.exists());
        let start = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(start.elapsed() < DEADLINE, "sleep {pid} still runs");
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }
}
