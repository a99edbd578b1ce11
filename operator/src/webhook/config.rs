//! The webhook server's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The API server's own limit on a request body: no AdmissionReview it sends is larger.
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;
/// Under the API server's default webhook `timeoutSeconds` (10 s), so that on overload the API
/// server gets this webhook's JSON error rather than its own timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// How often the certificate directory is checked for a new pair. Kubernetes updates Secret
/// volumes within about a minute, so a few seconds adds nothing noticeable.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Where and how the webhook serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The HTTPS address, e.g. `0.0.0.0:8443`; port 0 picks a free one (tests).
    pub listen: SocketAddr,
    /// Holds `tls.crt` and `tls.key`, as a mounted `kubernetes.io/tls` Secret does.
    pub cert_dir: PathBuf,
    /// PEM CA bundle; when set, clients must present a certificate it signed (mTLS).
    pub client_ca: Option<PathBuf>,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub body_limit: usize,
    /// Deadline for reading, evaluating and answering one request; 503 after it.
    pub request_timeout: Duration,
    /// How often `cert_dir` is checked for a rotated certificate.
    pub reload_interval: Duration,
}

impl WebhookConfig {
    /// The given address and certificate directory, no client CA, default limits.
    pub fn new(listen: SocketAddr, cert_dir: impl Into<PathBuf>) -> Self {
        WebhookConfig {
            listen,
            cert_dir: cert_dir.into(),
            client_ca: None,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}
