//! Logging whose outputs the caller chooses: stdout (the operator), daily-rotated files in a
//! directory, or files only (the console, whose terminal is its screen).
//!
//! Level precedence: the settings' filter when given, else `RUST_LOG`, else `info`. An explicit
//! filter wins because it is what the operator of the process typed (or the Helm values set) for
//! this run; `RUST_LOG` is ambient and may be inherited from somewhere else.

use std::io::IsTerminal;
use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;

use crate::Error;

const DEFAULT_LEVEL: &str = "info";
/// Log files are named `kube-guardian.YYYY-MM-DD.log`.
const FILE_PREFIX: &str = "kube-guardian";
const FILE_SUFFIX: &str = "log";

/// The line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    #[default]
    Json,
    /// Human-readable lines, coloured on a terminal.
    Text,
}

/// Where and how a process logs.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// Level or filter directives (e.g. `debug`, `info,kube=warn`); `None` (or blank): `RUST_LOG`,
    /// else `info`.
    pub filter: Option<String>,
    pub format: LogFormat,
    /// Lines on stdout. A console must leave it off: its terminal is the screen it draws.
    pub stdout: bool,
    /// Daily-rotated files in this directory (created if missing).
    pub dir: Option<PathBuf>,
    /// One file, appended to and never rotated (the console's `--log-file`); its directory is
    /// created if missing.
    pub file: Option<PathBuf>,
}

/// Flushes buffered log lines when dropped. `main` must hold it until the process exits: dropping
/// it early stops the background writers, and later lines are lost.
#[must_use = "dropping the guard stops log output"]
#[derive(Debug)]
pub struct LogGuard {
    _writers: Vec<WorkerGuard>,
}

type Base = Layered<EnvFilter, Registry>;
type BoxedLayer = Box<dyn Layer<Base> + Send + Sync>;

/// Installs the global subscriber (once per process; a second call fails).
pub fn init(settings: &LogSettings) -> Result<LogGuard, Error> {
    let directives = directives(settings.filter.as_deref(), std::env::var("RUST_LOG").ok());
    let filter = EnvFilter::try_new(&directives)
        .map_err(|e| logging(format!("bad log filter {directives:?}"), e))?;

    // Non-blocking writers: a slow stdout consumer or disk must not stall reconciles. They drop
    // lines rather than block when their buffer is full.
    let mut writers = Vec::new();
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if settings.stdout {
        let (stdout, stdout_guard) = tracing_appender::non_blocking(std::io::stdout());
        writers.push(stdout_guard);
        layers.push(layer(
            settings.format,
            stdout,
            std::io::stdout().is_terminal(),
        ));
    }

    if let Some(dir) = &settings.dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| logging(format!("cannot create {}", dir.display()), e))?;
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(FILE_PREFIX)
            .filename_suffix(FILE_SUFFIX)
            .build(dir)
            .map_err(|e| logging(format!("cannot open a log file in {}", dir.display()), e))?;
        let (file, file_guard) = tracing_appender::non_blocking(appender);
        writers.push(file_guard);
        layers.push(layer(settings.format, file, false));
    }

    if let Some(path) = &settings.file {
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => (dir, name),
            _ => {
                let e = std::io::Error::from(std::io::ErrorKind::InvalidInput);
                return Err(logging(format!("{} names no file", path.display()), e));
            }
        };
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| logging(format!("cannot create {}", dir.display()), e))?;
        let (file, file_guard) =
            tracing_appender::non_blocking(tracing_appender::rolling::never(dir, name));
        writers.push(file_guard);
        layers.push(layer(settings.format, file, false));
    }

    tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init()
        .map_err(|e| logging("a global logger is already installed".to_owned(), e))?;
    Ok(LogGuard { _writers: writers })
}

fn layer<W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        // Fields at the top level, so collectors index `message`, `level`, `target` directly.
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Text => fmt.with_ansi(ansi).boxed(),
    }
}

/// The filter directives: the explicit filter, else `RUST_LOG`, else [`DEFAULT_LEVEL`].
fn directives(flag: Option<&str>, env: Option<String>) -> String {
    let pick = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    pick(flag.map(str::to_owned))
        .or_else(|| pick(env))
        .unwrap_or_else(|| DEFAULT_LEVEL.to_owned())
}

fn logging(what: String, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Logging {
        what,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_rust_log_which_wins_over_the_default() {
        assert_eq!(directives(Some("debug"), Some("warn".into())), "debug");
        assert_eq!(directives(None, Some("warn".into())), "warn");
        assert_eq!(directives(Some(" "), Some("warn".into())), "warn");
        assert_eq!(directives(None, None), "info");
        assert_eq!(directives(None, Some(String::new())), "info");
    }
}
