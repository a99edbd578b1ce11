//! The demo's error type: the harness's errors plus what reading and applying example files adds.
//! Kept apart from [`crate::Error`] so the harness's error stays about control planes.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while seeding a cluster or running the demo.
#[derive(thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Harness(#[from] crate::Error),

    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A document that is not YAML as the API server reads it (guardian-core's loader, the one
    /// `check` uses); `line` is 1-based in the file.
    #[error("{path}:{line}: the document is not valid YAML")]
    Parse {
        path: PathBuf,
        line: usize,
        #[source]
        source: Box<guardian_core::Error>,
    },

    #[error("{path}:{line}: the document is not a valid {what}")]
    Decode {
        path: PathBuf,
        line: usize,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    #[error("{path}:{line}: the document {problem}")]
    Invalid {
        path: PathBuf,
        line: usize,
        problem: String,
    },

    #[error("{what} failed")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("{name} was not served within {waited:?}; last state: {last}")]
    NotServed {
        name: String,
        waited: std::time::Duration,
        last: String,
    },

    #[error("cannot {what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Shows the whole cause chain, as the harness's error does, so `{:?}` in a test explains itself.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Shorthand for the demo's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
