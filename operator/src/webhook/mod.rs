//! The validating admission webhook: `POST /validate` over TLS answers `admission.k8s.io/v1`
//! AdmissionReviews for the workload kinds with the same engine and policies as the controller.
//!
//! - [`review`] decides (pure: body + policies + context → response); the fuzz target calls it.
//! - [`router`] is the HTTP surface (body limit, deadline, JSON errors, bounded evaluation).
//! - [`Webhook`] binds and serves it over rustls (ring, TLS 1.2/1.3, optional mTLS with accepted
//!   client names), bounds open connections, closes idle ones, and reloads the certificate and
//!   the client CA when their files change.
//! - The operator gives it its namespace cache ([`FailClosedNamespaces`]) and a policies-loaded
//!   flag: before the policy set is built from synced caches every review is a 503.
//!
//! Health and metrics are served on the operator's plain-HTTP port, not here.

mod admission;
mod api_error;
mod client_auth;
mod config;
mod idle;
mod message;
mod namespaces;
mod reload;
pub mod review;
mod router;
mod server;
mod shape;
mod state;
mod tls;

use std::future::Future;
use std::sync::Arc;

pub use admission::{API_VERSION, AdmissionResponse, KIND, Status};
pub use api_error::ApiError;
pub use config::{
    DEFAULT_BODY_LIMIT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEP_ALIVE_INTERVAL,
    DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_RELOAD_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT, WebhookConfig,
};
use guardian_cluster::store::PolicyStore;
pub use message::WARNING_MAX_CHARS;
pub use namespaces::{FailClosedNamespaces, NAMESPACE_WAIT};
pub use reload::ReloadingCert;
pub use router::{VALIDATE_PATH, router};
pub use server::Webhook;
pub use state::{SharedNamespaces, WebhookState};
pub use tls::{CERT_FILE, KEY_FILE};

use crate::Error;
use crate::metrics::Metrics;

/// Binds `config.listen` and serves until `shutdown` completes, with namespace labels unknown.
/// To plug in a namespace cache, build a [`WebhookState`] and use [`Webhook::bind`].
pub async fn serve(
    config: WebhookConfig,
    store: Arc<PolicyStore>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    Webhook::bind(&config, WebhookState::new(store, metrics))
        .await?
        .serve(shutdown)
        .await
}
