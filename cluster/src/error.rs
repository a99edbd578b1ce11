//! Errors of the cluster layer: what failed, on which cluster or file, and what to do.

/// Every error of guardian-cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {what}")]
    Kubeconfig {
        path: String,
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// No Kubernetes client could be built for the one context a process runs against.
    #[error(
        "cannot build a Kubernetes client: {what}; check --kubeconfig, --context or the in-cluster service account"
    )]
    Connect {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Logging could not be set up.
    #[error("cannot set up logging: {what}")]
    Logging {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
