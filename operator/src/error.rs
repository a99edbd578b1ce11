//! The operator crate's one error type.

use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("Kubernetes API call failed: {context}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },

    #[error(
        "the CRD {crd} is not installed; install it with `kube-guardian crd | kubectl apply -f -` (or the Helm chart)"
    )]
    CrdMissing { crd: &'static str },

    /// The cluster layer's errors (connecting, logging), as they are.
    #[error(transparent)]
    Cluster(#[from] guardian_cluster::Error),

    #[error("failed to register metric {name}")]
    Metrics {
        name: &'static str,
        #[source]
        source: prometheus::Error,
    },

    #[error("reconcile failed")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),

    /// A deleted policy's rows are still on their way out of some reports: its finalizer stays,
    /// and the cleanup is checked again shortly (not an error: nothing failed).
    #[error(
        "deleted GuardianPolicy {policy}'s rows are still being removed from the PolicyReports of {namespaces} namespace(s); its finalizer stays until they are written"
    )]
    ReportsPending { policy: String, namespaces: usize },

    /// A PolicyReport write failed; the report writer retries it with backoff on its own.
    #[error(
        "writing PolicyReport {namespace}/kube-guardian failed; retried with backoff (check the operator's RBAC on policyreports and admission policies on them)"
    )]
    ReportWrite {
        namespace: String,
        /// Shared: the writer keeps it for whoever waits on the namespace.
        #[source]
        source: Arc<kube::Error>,
    },

    #[error("an evaluation task failed: {0}")]
    Join(String),

    #[error("cannot read the TLS file {path}")]
    TlsRead {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the TLS file {path} holds no usable PEM")]
    TlsPem {
        path: std::path::PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },

    #[error("the certificate or key in {path} is unusable")]
    TlsCertificate {
        path: std::path::PathBuf,
        #[source]
        source: rustls::Error,
    },

    #[error("cannot build the TLS configuration: {what}")]
    TlsConfig {
        what: &'static str,
        #[source]
        source: rustls::Error,
    },

    #[error("cannot use the client CA {path} to verify client certificates")]
    ClientCa {
        path: std::path::PathBuf,
        #[source]
        source: rustls::server::VerifierBuilderError,
    },

    #[error("cannot listen on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("leader election: {context}")]
    LeaderElection {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// This replica's candidate record (see `leader::candidate`); leading does not depend on it.
    #[error(
        "cannot write, prune or delete the candidate record Lease {name} (leading is unaffected); check that the RBAC allows create, list, patch and delete on leases and the chart's lease admission policy is installed"
    )]
    LeaseCandidate {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("invalid leader-election settings: {reason}")]
    LeaseConfig { reason: String },

    #[error("{what} did not finish within {after:?}")]
    Timeout {
        what: &'static str,
        after: std::time::Duration,
    },

    #[error("the {what} task stopped abnormally")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },

    #[error("the HTTP server on {addr} failed")]
    Serve {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this is a cleanup still waiting for its report writes (see
    /// [`Error::ReportsPending`]), however the finalizer wrapped it.
    pub fn reports_pending(&self) -> bool {
        match self {
            Error::ReportsPending { .. } => true,
            Error::Finalizer(inner) => matches!(
                inner.as_ref(),
                kube::runtime::finalizer::Error::CleanupFailed(e) if e.reports_pending()
            ),
            _ => false,
        }
    }

    /// A bounded label for metrics: one static string per error kind, never the error text.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::CrdMissing { .. } => "crd_missing",
            Error::Cluster(_) => "cluster",
            Error::Metrics { .. } => "metrics",
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "finalizer",
            },
            Error::ReportWrite { .. } => "report_write",
            Error::ReportsPending { .. } => "reports_pending",
            Error::Join(_) => "join",
            Error::TlsRead { .. } => "tls_read",
            Error::TlsPem { .. } => "tls_pem",
            Error::TlsCertificate { .. } => "tls_certificate",
            Error::TlsConfig { .. } => "tls_config",
            Error::ClientCa { .. } => "client_ca",
            Error::Bind { .. } => "bind",
            Error::LeaderElection { .. } => "leader_election",
            Error::LeaseCandidate { .. } => "lease_candidate",
            Error::LeaseConfig { .. } => "lease_config",
            Error::Timeout { .. } => "timeout",
            Error::Task { .. } => "task",
            Error::Serve { .. } => "serve",
        }
    }
}

/// The error and its sources, `: `-joined, for logs (Display alone hides the cause).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        // Wrappers such as kube's finalizer error already print their source.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}
