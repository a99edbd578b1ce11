//! What every webhook request shares: the policies, the metrics, the namespace labels and the
//! bound on concurrent evaluations.

use std::sync::Arc;
use std::time::Duration;

use guardian_core::engine::{NamespaceLabels, UnknownNamespaces};
use tokio::sync::Semaphore;

use super::config::{DEFAULT_BODY_LIMIT, DEFAULT_REQUEST_TIMEOUT};
use crate::metrics::Metrics;
use crate::store::PolicyStore;

/// Namespace labels for `namespaceSelector` matching; shared with the caller's namespace cache.
pub type SharedNamespaces = Arc<dyn NamespaceLabels + Send + Sync>;

/// The router's state. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct WebhookState {
    pub(crate) store: Arc<PolicyStore>,
    pub(crate) metrics: Metrics,
    pub(crate) namespaces: SharedNamespaces,
    /// Evaluation is CPU-bound: at most this many run at once (one per core), on the blocking
    /// pool, so a flood of reviews queues here instead of starving the async workers.
    pub(crate) evaluations: Arc<Semaphore>,
    pub(crate) body_limit: usize,
    pub(crate) request_timeout: Duration,
}

impl std::fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookState")
            .field("evaluation_slots", &self.evaluations.available_permits())
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookState {
    /// Unknown namespace labels (only `kubernetes.io/metadata.name` is assumed), one evaluation
    /// slot per core, the default body limit and request timeout.
    pub fn new(store: Arc<PolicyStore>, metrics: Metrics) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        WebhookState {
            store,
            metrics,
            namespaces: Arc::new(UnknownNamespaces),
            evaluations: Arc::new(Semaphore::new(cores)),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Where `namespaceSelector` reads namespace labels from (the operator's namespace cache).
    pub fn with_namespaces(mut self, namespaces: SharedNamespaces) -> Self {
        self.namespaces = namespaces;
        self
    }

    /// The largest accepted body (413 above it) and the deadline for a whole request (503 after it).
    pub fn with_limits(mut self, body_limit: usize, request_timeout: Duration) -> Self {
        self.body_limit = body_limit;
        self.request_timeout = request_timeout;
        self
    }

    /// How many evaluations may run at once (at least one).
    pub fn with_evaluation_slots(mut self, slots: usize) -> Self {
        self.evaluations = Arc::new(Semaphore::new(slots.max(1)));
        self
    }
}
