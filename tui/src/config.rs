//! The console's config file (TOML in the XDG config dir) and where its log goes.
//!
//! ```toml
//! readonly = false            # every context read-only
//! max_exception_days = 30     # exceptions made here last at most this long (default 90)
//! [keys]                      # rebind a command by name (the Help screen lists them)
//! quit = ["q", "ctrl-c"]
//! [contexts.prod]
//! readonly = true             # writes absent while prod is in scope
//! [contexts.staging]
//! protected = true            # writes need the context's name typed to confirm
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use directories::ProjectDirs;
use serde::Deserialize;

use crate::error::Error;

/// The longest an exception created from the console may last unless the config says otherwise.
pub const MAX_EXCEPTION_DAYS: u32 = 90;
/// The largest `max_exception_days` the config accepts (ten years).
pub const MAX_EXCEPTION_DAYS_LIMIT: u32 = 3650;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub readonly: bool,
    /// The longest an exception created from the console may last, in days (default 90).
    #[serde(default)]
    pub max_exception_days: Option<u32>,
    #[serde(default)]
    pub keys: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub contexts: BTreeMap<String, ContextConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    #[serde(default)]
    pub readonly: bool,
    #[serde(default)]
    pub protected: bool,
}

impl Config {
    /// Reads `path`; a missing file is the defaults.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(Error::ConfigRead {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| {
            let at = e.span().map_or(0, |span| span.start).min(text.len());
            Error::ConfigParse {
                path: path.to_owned(),
                line: text
                    .get(..at)
                    .map_or(1, |before| before.matches('\n').count() + 1),
                message: e.message().to_owned(),
            }
        })?;
        // 0 would make exceptions impossible; a huge value overflows the expiry's arithmetic.
        if let Some(days) = config.max_exception_days
            && !(1..=MAX_EXCEPTION_DAYS_LIMIT).contains(&days)
        {
            return Err(Error::Config {
                what: format!(
                    "{}: max_exception_days = {days}: between 1 and {MAX_EXCEPTION_DAYS_LIMIT} \
                     days (fix or remove the line)",
                    path.display()
                ),
            });
        }
        Ok(config)
    }

    /// The contexts whose writes need their name typed to confirm.
    pub fn protected_contexts(&self) -> Vec<String> {
        self.contexts
            .iter()
            .filter(|(_, c)| c.protected)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The contexts the config makes read-only.
    pub fn readonly_contexts(&self) -> Vec<String> {
        self.contexts
            .iter()
            .filter(|(_, c)| c.readonly)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Where the console reads its config and writes its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config: PathBuf,
    pub log: PathBuf,
    /// Temp files of edits (kept when an edit fails, so it is never lost).
    pub edits: PathBuf,
}

impl Paths {
    /// `$XDG_CONFIG_HOME/kube-guardian/tui.toml` and `$XDG_STATE_HOME/kube-guardian/tui.log`
    /// (or the platform's equivalents); `log_file` overrides the log.
    pub fn resolve(log_file: Option<&Path>) -> Result<Paths, Error> {
        let dirs =
            ProjectDirs::from("dev", "kube-guardian", "kube-guardian").ok_or(Error::NoHome)?;
        let state = dirs
            .state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_owned();
        Ok(Paths {
            config: dirs.config_dir().join("tui.toml"),
            log: log_file.map_or_else(|| state.join("tui.log"), Path::to_owned),
            edits: state.join("edits"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, Error> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tui.toml");
        std::fs::write(&path, text).expect("write");
        Config::load(&path)
    }

    /// The README's sample, as a user copies it.
    #[test]
    fn the_readme_sample_loads() {
        let readme = include_str!("../../README.md");
        let start = readme.find("**Config**").expect("the Config paragraph");
        let sample: String = readme[start..]
            .lines()
            .skip_while(|l| !l.starts_with("    "))
            .take_while(|l| l.starts_with("    "))
            .map(|l| format!("{}\n", &l[4..]))
            .collect();
        let config = load(&sample).unwrap_or_else(|e| panic!("{e}\n{sample}"));
        assert_eq!(config.max_exception_days, Some(90));
        assert_eq!(config.protected_contexts(), ["staging"]);
    }

    #[test]
    fn max_exception_days_outside_one_to_ten_years_is_refused() {
        for bad in ["0", "3651", "4294967295"] {
            let e = load(&format!("max_exception_days = {bad}\n")).expect_err(bad);
            assert!(e.to_string().contains("between 1 and 3650"), "{e}");
        }
        let ok = load("max_exception_days = 3650\n").expect("ten years");
        assert_eq!(ok.max_exception_days, Some(3650));
    }
}
