//! The terminal's lifecycle: raw mode and the alternate screen while the console runs, restored
//! on exit, on error (drop) and in the panic hook before the panic prints; and a suspend/resume
//! pair that hands the terminal to another program (the next issue's `$EDITOR`).

use std::io::{Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableFocusChange, EnableFocusChange, Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::Notify;

use crate::error::Error;

pub type Backend = CrosstermBackend<Stdout>;

/// The console's terminal; restores the user's terminal when dropped.
#[derive(Debug)]
pub struct Tui {
    pub terminal: Terminal<Backend>,
    active: bool,
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Terminal { what, source }
}

impl Tui {
    /// Takes over the terminal (raw mode, alternate screen, hidden cursor).
    pub fn enter() -> Result<Tui, Error> {
        install_panic_hook();
        let terminal =
            Terminal::new(CrosstermBackend::new(stdout())).map_err(io("opening the terminal"))?;
        let mut tui = Tui {
            terminal,
            active: false,
        };
        tui.resume()?;
        Ok(tui)
    }

    /// Takes the terminal back after [`Tui::suspend`] and forces a full redraw.
    pub fn resume(&mut self) -> Result<(), Error> {
        // After a panic the screen holds its message: the console is on its way out.
        if panicked() {
            return Err(Error::Panicked);
        }
        TAKEN.store(true, Ordering::SeqCst);
        enable_raw_mode().map_err(io("entering raw mode"))?;
        // Focus reports let an unfocused console slow its clock (see `app::data::tick`).
        execute!(stdout(), EnterAlternateScreen, Hide, EnableFocusChange)
            .map_err(io("entering the alternate screen"))?;
        self.active = true;
        // The screen may hold anything now: the next draw repaints every cell. Not
        // `Terminal::clear`, which asks the terminal where its cursor is: after an editor ran,
        // that answer can be lost to the paused input's reader and the resume fails.
        let size = self.terminal.size().map_err(io("reading its size"))?;
        self.terminal
            .resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
            .map_err(io("clearing the screen"))
    }

    /// Gives the terminal back to the user (cooked mode, main screen, cursor shown).
    pub fn suspend(&mut self) -> Result<(), Error> {
        self.active = false;
        restore().map_err(io("restoring the terminal"))
    }

    /// Hands the terminal to `run` (an editor): the caller stops its input task first, so the
    /// program gets every key; the terminal is taken back afterwards, even if `run` failed.
    pub fn with_suspended<T>(&mut self, run: impl FnOnce() -> T) -> Result<T, Error> {
        self.suspend()?;
        let result = run();
        self.resume()?;
        Ok(result)
    }
}

/// Terminal input, paused (its reader dropped) while another program owns the terminal, so
/// that program gets every key.
#[derive(Debug, Default)]
pub struct Input {
    stream: Option<EventStream>,
}

impl Input {
    pub fn new() -> Input {
        Input {
            stream: Some(EventStream::new()),
        }
    }

    /// The next event; never resolves while paused.
    pub async fn next(&mut self) -> Option<std::io::Result<Event>> {
        match &mut self.stream {
            Some(stream) => stream.next().await,
            None => std::future::pending().await,
        }
    }

    pub fn is_paused(&self) -> bool {
        self.stream.is_none()
    }

    pub fn pause(&mut self) {
        self.stream = None;
    }

    pub fn resume(&mut self) {
        if self.stream.is_none() {
            self.stream = Some(EventStream::new());
        }
    }
}

/// Runs `program` (an editor) with the terminal handed over: input paused first, then the
/// terminal restored, taken back and fully redrawn on the next frame, whatever `program` did.
pub fn suspended<T>(
    tui: &mut Tui,
    input: &mut Input,
    program: impl FnOnce() -> T,
) -> Result<T, Error> {
    input.pause();
    let result = tui.with_suspended(program);
    input.resume();
    result
}

impl Drop for Tui {
    fn drop(&mut self) {
        if self.active {
            let _ = restore();
        }
    }
}

/// Whether the terminal is in raw mode on the alternate screen: restoring twice would leave
/// the main screen again, which moves the cursor back over what was printed meanwhile.
static TAKEN: AtomicBool = AtomicBool::new(false);
/// Set by the panic hook for a panic the console does not survive.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen, shows the cursor. Safe to call twice.
pub fn restore() -> std::io::Result<()> {
    if !TAKEN.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let screen = execute!(stdout(), DisableFocusChange, LeaveAlternateScreen, Show);
    disable_raw_mode()?;
    screen
}

/// Whether a panic the console does not survive happened: the loop then draws no more.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

fn panic_wake() -> &'static Notify {
    static WAKE: OnceLock<Notify> = OnceLock::new();
    WAKE.get_or_init(Notify::new)
}

/// Resolves once such a panic happened (at once if one did): the loop returns
/// [`Error::Panicked`], so the log's guard flushes and an editor is waited for on the way out.
pub async fn panic_reported() {
    while !panicked() {
        panic_wake().notified().await;
    }
}

/// A panic restores the terminal before its message prints (else the message is lost in the
/// alternate screen and the shell stays in raw mode), then tells the loop to end the console: a
/// panic in a worker task, which tokio would catch, left the loop drawing into the restored
/// (cooked) screen. Not a panic the code catches and survives (the engine's, see
/// `guardian_cluster::caught`): that one goes to the log only, the console runs on.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if guardian_cluster::caught::is_caught() {
                tracing::error!(%info, "a caught panic: the console runs on");
                return;
            }
            {
                // Held while the message prints: the loop, drawing on another thread, must
                // not paint over it (stdout's lock is reentrant for `restore`).
                let _stdout = stdout().lock();
                PANICKED.store(true, Ordering::SeqCst);
                let _ = restore();
                tracing::error!(%info, "the console panicked");
                previous(info);
            }
            panic_wake().notify_one();
        }));
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    // Resuming needs a terminal (crossterm opens /dev/tty): the tmux end-to-end test has one.
    #[tokio::test]
    async fn paused_input_yields_nothing() {
        let mut input = Input::default();
        assert!(input.is_paused());
        let waited = tokio::time::timeout(Duration::from_millis(20), input.next()).await;
        assert!(waited.is_err(), "a paused input never yields");
    }
}
