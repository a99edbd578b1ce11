//! The console's errors: each says what failed, on which file or cluster, and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("console config: {what}")]
    Config { what: String },
    #[error("cannot read the console config {}: {source}", path.display())]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the console config {} is not valid TOML (fix or remove it): {source}", path.display())]
    ConfigParse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("no home directory to keep the console's config and log in; pass --log-file")]
    NoHome,
    #[error("setting up the console's log file: {0}")]
    Logging(#[source] guardian_cluster::Error),
    #[error("choosing the clusters: {0}")]
    Clusters(#[source] guardian_cluster::Error),
    #[error("terminal: {what}: {source}")]
    Terminal {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
