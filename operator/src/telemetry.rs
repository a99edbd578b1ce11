//! The operator's logging flags: JSON (or text) lines on stdout, optionally also daily-rotated
//! files. The writing itself is guardian-cluster's (`logging`), shared with the console.

use std::path::PathBuf;

pub use guardian_cluster::logging::LogGuard;
use guardian_cluster::logging::{self, LogSettings};

use crate::Error;

/// The `--log-format` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors); the operator's default.
    #[default]
    Json,
    /// Human-readable lines, coloured on a terminal.
    Text,
}

/// Logging flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogConfig {
    /// Level or filter directives (e.g. `debug`, `info,kube=warn`); overrides RUST_LOG.
    /// Default: RUST_LOG, else info.
    #[arg(long = "log-level", value_name = "FILTER")]
    pub level: Option<String>,
    /// Format of log lines.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Json)]
    pub format: LogFormat,
    /// Also write logs to daily-rotated files in this directory.
    #[arg(long = "log-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl LogConfig {
    /// The operator always logs to stdout (its pod's log), and to files with `--log-dir`.
    pub fn settings(&self) -> LogSettings {
        LogSettings {
            filter: self.level.clone(),
            format: match self.format {
                LogFormat::Json => logging::LogFormat::Json,
                LogFormat::Text => logging::LogFormat::Text,
            },
            stdout: true,
            dir: self.dir.clone(),
            file: None,
        }
    }
}

/// Installs the global subscriber (once per process; a second call fails).
pub fn init(config: &LogConfig) -> Result<LogGuard, Error> {
    Ok(logging::init(&config.settings())?)
}
