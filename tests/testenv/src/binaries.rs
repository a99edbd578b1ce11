//! Where the control-plane binaries live: the same per-version cache directory that
//! `tests/control-plane/build.sh` builds into.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Overrides the binary directory (same variable as build.sh).
pub const DIR_ENV: &str = "KUBE_GUARDIAN_CONTROL_PLANE_DIR";

// The single source of the pinned versions, shared with build.sh so both compute the same directory.
const VERSIONS_ENV: &str = include_str!("../../control-plane/versions.env");

/// The pinned Kubernetes and etcd versions, as in `tests/control-plane/versions.env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// e.g. `v1.37.2`
    pub kubernetes: String,
    /// e.g. `v3.7.3`
    pub etcd: String,
}

impl Versions {
    /// The versions this crate was compiled with.
    pub fn pinned() -> Result<Self> {
        Self::parse(VERSIONS_ENV)
    }

    fn parse(text: &str) -> Result<Self> {
        let value = |key: &'static str| {
            text.lines()
                .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().to_owned())
                .find(|v| !v.is_empty())
                .ok_or(Error::Versions { key })
        };
        Ok(Self {
            kubernetes: value("KUBERNETES_VERSION")?,
            etcd: value("ETCD_VERSION")?,
        })
    }

    /// The cache sub-directory name, e.g. `v1.37.2-etcd3.7.3`.
    pub fn dir_name(&self) -> String {
        format!(
            "{}-etcd{}",
            self.kubernetes,
            self.etcd.trim_start_matches('v')
        )
    }
}

/// The directory build.sh puts binaries in:
/// `$KUBE_GUARDIAN_CONTROL_PLANE_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/kube-guardian/control-plane/<versions>`.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(dir) = non_empty_env(DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let cache = match non_empty_env("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty_env("HOME").ok_or(Error::NoCacheDir)?).join(".cache"),
    };
    Ok(cache
        .join("kube-guardian")
        .join("control-plane")
        .join(Versions::pinned()?.dir_name()))
}

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// Paths of the binaries a control plane runs.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub etcd: PathBuf,
    pub apiserver: PathBuf,
    pub controller_manager: Option<PathBuf>,
}

impl Binaries {
    /// Finds the binaries in `dir` (kube-controller-manager only if wanted), or says how to
    /// build them.
    pub fn locate(dir: &Path, controller_manager: bool) -> Result<Self> {
        let find = |name: &'static str, build_args: &'static str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::BinaryMissing {
                    name,
                    path,
                    dir: dir.to_owned(),
                    build_args,
                })
            }
        };
        Ok(Self {
            etcd: find("etcd", "")?,
            apiserver: find("kube-apiserver", "")?,
            controller_manager: match controller_manager {
                true => Some(find(
                    "kube-controller-manager",
                    " --with-controller-manager",
                )?),
                false => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_versions_parse_and_name_the_cache_dir() -> Result<()> {
        let v = Versions::pinned()?;
        assert!(v.kubernetes.starts_with("v1."), "{v:?}");
        assert!(v.etcd.starts_with("v3."), "{v:?}");
        assert_eq!(
            v.dir_name(),
            format!("{}-etcd{}", v.kubernetes, v.etcd.trim_start_matches('v'))
        );
        Ok(())
    }

    #[test]
    fn a_missing_key_is_an_error_naming_it() {
        let err = Versions::parse("# nothing\nETCD_VERSION=v3.7.3\n");
        assert!(matches!(
            err,
            Err(Error::Versions {
                key: "KUBERNETES_VERSION"
            })
        ));
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let dir = Path::new("/nonexistent/kube-guardian-testenv");
        let message = match Binaries::locate(dir, false) {
            Err(e) => e.to_string(),
            Ok(b) => format!("unexpectedly found {b:?}"),
        };
        assert!(
            message.contains("tests/control-plane/build.sh"),
            "{message}"
        );
        assert!(
            message.contains("/nonexistent/kube-guardian-testenv/etcd"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_controller_manager_names_the_build_flag() -> Result<()> {
        let dir = tempfile::tempdir().map_err(Error::TempDir)?;
        for name in ["etcd", "kube-apiserver"] {
            std::fs::write(dir.path().join(name), b"").map_err(Error::TempDir)?;
        }
        let message = match Binaries::locate(dir.path(), true) {
            Err(e) => e.to_string(),
            Ok(b) => format!("unexpectedly found {b:?}"),
        };
        let want = "run tests/control-plane/build.sh --with-controller-manager";
        assert!(message.contains(want), "{message}");
        Ok(())
    }
}
