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
    /// No kubeconfig file exists where kubectl would look.
    #[error(
        "no kubeconfig found (looked at {looked_at}): pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config"
    )]
    NoKubeconfig { looked_at: String },
    /// A context was asked for that no kubeconfig file defines.
    #[error(
        "context {name:?} is not in the kubeconfig; available contexts: {}",
        list(available)
    )]
    UnknownContext {
        name: String,
        available: Vec<String>,
    },
    /// No context was named and the kubeconfig sets no current-context.
    #[error(
        "the kubeconfig ({files}) sets no current-context: name contexts with --contexts a,b or pass --all-contexts; available contexts: {}",
        list(available)
    )]
    NoCurrentContext {
        files: String,
        available: Vec<String>,
    },
    /// `--all-contexts` on kubeconfig files that define no context: nothing to follow is a
    /// usage error, not an empty (clean) report.
    #[error(
        "the kubeconfig ({files}) defines no context: add one, or pass other --kubeconfig files"
    )]
    NoContexts { files: String },
    /// A context's cluster or user entry cannot be turned into a client configuration.
    #[error(
        "context {context:?} of {files} cannot be used: fix its cluster or user entry (kubectl --context {context} config view --minify)"
    )]
    ContextConfig {
        context: String,
        files: String,
        #[source]
        source: kube::config::KubeconfigError,
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

    /// A write was refused because the object changed on the server since it was read (409).
    #[error(
        "{object} changed on the server since it was read (conflict): re-read it and apply the edit again"
    )]
    Conflict {
        object: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// The object to create exists already (its name is taken).
    #[error("{object} exists already: edit or revoke that one, or create it under another name")]
    AlreadyExists {
        object: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// The object is not there (deleted meanwhile, or never made).
    #[error(
        "{object} does not exist (deleted meanwhile?): nothing to change; the list updates shortly"
    )]
    NotFound {
        object: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server refused a write: its schema, a CEL validation, an admission webhook or
    /// RBAC spoke (`dry_run`: during the server-side dry run, so nothing was changed).
    #[error("the API server rejects {object}{}: {message}", if *dry_run { " (dry run, nothing changed)" } else { "" })]
    Rejected {
        object: String,
        dry_run: bool,
        message: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// A read or write did not reach a verdict (network, timeout, unexpected answer).
    #[error("{what} {object}: check the cluster's connection and try again")]
    Write {
        what: &'static str,
        object: String,
        #[source]
        source: Box<kube::Error>,
    },

    /// Logging could not be set up.
    #[error("cannot set up logging: {what}")]
    Logging {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
