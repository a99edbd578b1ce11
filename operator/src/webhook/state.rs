//! What every webhook request shares: the policies, the metrics, the namespace labels and the
//! bound on concurrent evaluations.

use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::store::PolicyStore;
use guardian_core::engine::{NamespaceLabels, UnknownNamespaces};
use tokio::sync::Semaphore;

use super::config::{DEFAULT_BODY_LIMIT, DEFAULT_REQUEST_TIMEOUT};
use super::namespaces::NAMESPACE_WAIT;
use crate::health::Readiness;
use crate::metrics::Metrics;

/// Namespace labels for `namespaceSelector` matching; shared with the caller's namespace cache.
pub type SharedNamespaces = Arc<dyn NamespaceLabels + Send + Sync>;

/// The router's state. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct WebhookState {
    pub(crate) store: Arc<PolicyStore>,
    pub(crate) metrics: Metrics,
    pub(crate) namespaces: SharedNamespaces,
    /// `None`: a namespace `namespaces` does not know is judged by its name label only.
    /// `Some(wait)`: it is waited for (before the evaluation slot), then matches every selector.
    pub(crate) namespace_wait: Option<Duration>,
    /// Set once the store holds the policies built from synced caches. Until then every review
    /// is answered with a 503, so the API server applies the webhook's `failurePolicy`: an
    /// empty policy set must never admit what the real one would deny.
    pub(crate) policies_loaded: Readiness,
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
            .field("policies_loaded", &self.policies_loaded.is_ready())
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("namespace_wait", &self.namespace_wait)
            .finish_non_exhaustive()
    }
}

impl WebhookState {
    /// Serves `store` as it is (its policies count as loaded), with unknown namespace labels
    /// (only `kubernetes.io/metadata.name` is assumed), one evaluation slot per core, the default
    /// body limit and request timeout. The operator adds its namespace cache and its
    /// policies-loaded flag ([`WebhookState::with_namespaces`], [`WebhookState::with_loaded`]).
    pub fn new(store: Arc<PolicyStore>, metrics: Metrics) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let loaded = Readiness::new();
        loaded.set_ready();
        WebhookState {
            store,
            metrics,
            namespaces: Arc::new(UnknownNamespaces),
            namespace_wait: None,
            policies_loaded: loaded,
            evaluations: Arc::new(Semaphore::new(cores)),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Where `namespaceSelector` reads namespace labels from (the operator's namespace cache),
    /// failing closed: a namespace it does not know is waited for up to [`NAMESPACE_WAIT`], then
    /// matches every selector (see [`super::namespaces`]).
    pub fn with_namespaces(mut self, namespaces: SharedNamespaces) -> Self {
        self.namespaces = namespaces;
        self.namespace_wait = Some(NAMESPACE_WAIT);
        self
    }

    /// How long a namespace the cache does not know is waited for (after [`Self::with_namespaces`]).
    pub fn with_namespace_wait(mut self, wait: Duration) -> Self {
        self.namespace_wait = Some(wait);
        self
    }

    /// Admits nothing (503) until `loaded` is set: the operator sets it once the store was built
    /// from the synced policies and exceptions.
    pub fn with_loaded(mut self, loaded: Readiness) -> Self {
        self.policies_loaded = loaded;
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
