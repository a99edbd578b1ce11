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
}
