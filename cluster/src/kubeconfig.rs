//! Which clusters to connect to: kubeconfig files and contexts chosen the way kubectl chooses them.
//!
//! Files: every `--kubeconfig` given (in order), else the `KUBECONFIG` list (`:`-separated; files
//! that do not exist are skipped, as kubectl does), else `~/.kube/config`. Several files merge
//! with kubectl's rule: the first file to name a cluster, user or context (or to set
//! `current-context`) wins. Contexts: those named, else every one (`--all-contexts`), else the
//! current one. Authentication (client certificates, tokens, exec plugins) stays kube-rs's: a
//! [`Target`] becomes a `kube::Config` through `Config::from_custom_kubeconfig`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::Error;

/// What the user asked for: `--kubeconfig` (repeatable), `--contexts a,b`, `--all-contexts`.
/// The same flags on every face that follows clusters (`scan`, the console), so they are
/// defined here once.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ContextSelection {
    /// Kubeconfig files (repeatable, merged as kubectl merges them). Default: the KUBECONFIG
    /// list, else ~/.kube/config.
    #[arg(long = "kubeconfig", value_name = "FILE")]
    pub kubeconfigs: Vec<PathBuf>,
    /// Contexts, comma-separated. Default: the current context.
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        conflicts_with = "all_contexts"
    )]
    pub contexts: Vec<String>,
    /// Every context of the kubeconfig.
    #[arg(long)]
    pub all_contexts: bool,
}

/// One cluster to connect to: a context and what connecting to it needs.
#[derive(Debug, Clone)]
pub struct Target {
    /// The kubeconfig context name (how the cluster is named everywhere).
    pub context: String,
    /// The API server URL, for display; `None` when the context's cluster names none.
    pub server: Option<String>,
    /// The kubeconfig user the context names, for display; `None` for a ready configuration.
    pub user: Option<String>,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// A context of merged kubeconfig files (named for error messages).
    Kubeconfig {
        kubeconfig: Arc<Kubeconfig>,
        files: Arc<[PathBuf]>,
    },
    /// A ready client configuration (tests, or a caller that built its own).
    Config(Box<kube::Config>),
}

impl Target {
    /// A target from a client configuration built elsewhere.
    pub fn from_config(context: impl Into<String>, config: kube::Config) -> Target {
        Target {
            context: context.into(),
            server: Some(config.cluster_url.to_string()),
            user: None,
            source: Source::Config(Box::new(config)),
        }
    }

    /// The client configuration, as kube-rs builds it from the kubeconfig (certificates and keys
    /// read, exec plugins set up to run on demand).
    pub async fn config(&self) -> Result<kube::Config, Error> {
        match &self.source {
            Source::Config(config) => Ok((**config).clone()),
            Source::Kubeconfig { kubeconfig, files } => {
                let options = KubeConfigOptions {
                    context: Some(self.context.clone()),
                    ..KubeConfigOptions::default()
                };
                kube::Config::from_custom_kubeconfig((**kubeconfig).clone(), &options)
                    .await
                    .map_err(|source| Error::ContextConfig {
                        context: self.context.clone(),
                        files: display_files(files),
                        source,
                    })
            }
        }
    }
}

/// The targets `selection` names, in the order asked (duplicates dropped), or kubeconfig order
/// for `--all-contexts`.
pub fn select(selection: &ContextSelection) -> Result<Vec<Target>, Error> {
    select_with(
        selection,
        std::env::var_os("KUBECONFIG"),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`select`] with the environment passed in, so tests need not change the process's.
fn select_with(
    selection: &ContextSelection,
    kubeconfig_env: Option<OsString>,
    home: Option<PathBuf>,
) -> Result<Vec<Target>, Error> {
    let files = files(selection, kubeconfig_env, home)?;
    let mut merged = Kubeconfig::default();
    for file in &files {
        let next = Kubeconfig::read_from(file).map_err(|source| Error::Kubeconfig {
            path: file.display().to_string(),
            what: "cannot be read as a kubeconfig".into(),
            source: Some(Box::new(source)),
        })?;
        merged = merged.merge(next).map_err(|source| Error::Kubeconfig {
            path: file.display().to_string(),
            what: "cannot be merged with the files before it".into(),
            source: Some(Box::new(source)),
        })?;
    }
    let available: Vec<String> = merged.contexts.iter().map(|c| c.name.clone()).collect();
    let names: Vec<String> = if selection.all_contexts {
        if available.is_empty() {
            return Err(Error::NoContexts {
                files: display_files(&files),
            });
        }
        available.clone()
    } else if selection.contexts.is_empty() {
        match merged.current_context.clone().filter(|c| !c.is_empty()) {
            Some(current) => vec![current],
            None => {
                return Err(Error::NoCurrentContext {
                    files: display_files(&files),
                    available,
                });
            }
        }
    } else {
        let mut names: Vec<String> = Vec::new();
        for name in &selection.contexts {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    };
    if let Some(unknown) = names.iter().find(|n| !available.contains(n)) {
        return Err(Error::UnknownContext {
            name: unknown.clone(),
            available,
        });
    }
    let files: Arc<[PathBuf]> = files.into();
    let kubeconfig = Arc::new(merged);
    Ok(names
        .into_iter()
        .map(|context| Target {
            server: server_of(&kubeconfig, &context),
            user: user_of(&kubeconfig, &context),
            context,
            source: Source::Kubeconfig {
                kubeconfig: Arc::clone(&kubeconfig),
                files: Arc::clone(&files),
            },
        })
        .collect())
}

/// The files to read, by kubectl's precedence.
fn files(
    selection: &ContextSelection,
    kubeconfig_env: Option<OsString>,
    home: Option<PathBuf>,
) -> Result<Vec<PathBuf>, Error> {
    if !selection.kubeconfigs.is_empty() {
        // Named explicitly: a missing one is an error (read_from reports it), not skipped.
        return Ok(selection.kubeconfigs.clone());
    }
    if let Some(list) = kubeconfig_env.filter(|v| !v.is_empty()) {
        let present: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty() && p.exists())
            .collect();
        if present.is_empty() {
            return Err(Error::NoKubeconfig {
                looked_at: format!("KUBECONFIG={}", list.to_string_lossy()),
            });
        }
        return Ok(present);
    }
    let default = home.map(|h| h.join(".kube").join("config"));
    match default {
        Some(path) if path.exists() => Ok(vec![path]),
        Some(path) => Err(Error::NoKubeconfig {
            looked_at: path.display().to_string(),
        }),
        None => Err(Error::NoKubeconfig {
            looked_at: "~/.kube/config (HOME is not set)".into(),
        }),
    }
}

fn server_of(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    let cluster = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster)?
        .cluster
        .as_ref()?
        .server
        .clone()
}

fn user_of(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .user
        .clone()
}

fn display_files(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "kubeconfig_tests.rs"]
mod tests;
