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

/// Open connections at most; more wait in the kernel's accept queue until one closes. The API
/// server multiplexes reviews over a few HTTP/2 connections (or pools HTTP/1.1 ones), so this
/// only bites a client that opens connections and holds them.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// A connection with no request in flight for this long is closed (HTTP/1 and HTTP/2). Longer
/// than the 90 s idle timeout of Go's HTTP transport, so the API server normally closes first
/// and never sends into a connection being closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// HTTP/2: a PING after this long without frames from the client ...
pub const DEFAULT_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// ... and the connection closed when its answer takes longer than this.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how the webhook serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The HTTPS address, e.g. `0.0.0.0:8443`; port 0 picks a free one (tests).
    pub listen: SocketAddr,
    /// Holds `tls.crt` and `tls.key`, as a mounted `kubernetes.io/tls` Secret does.
    pub cert_dir: PathBuf,
    /// PEM CA bundle; when set, clients must present a certificate it signed (mTLS). Reloaded
    /// like the serving certificate.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: when not empty, only client certificates naming one of these (a SAN DNS
    /// name or the subject's common name) complete the handshake.
    pub client_names: Vec<String>,
    /// Open connections at most.
    pub max_connections: usize,
    /// A connection without a request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 PING interval and how long its answer may take.
    pub keep_alive_interval: Duration,
    pub keep_alive_timeout: Duration,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub body_limit: usize,
    /// Deadline for reading, evaluating and answering one request; 503 after it.
    pub request_timeout: Duration,
    /// How often `cert_dir` is checked for a rotated certificate.
    pub reload_interval: Duration,
}

impl WebhookConfig {
    /// The given address and certificate directory, no client CA, default limits and timeouts.
    pub fn new(listen: SocketAddr, cert_dir: impl Into<PathBuf>) -> Self {
        WebhookConfig {
            listen,
            cert_dir: cert_dir.into(),
            client_ca: None,
            client_names: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive_interval: DEFAULT_KEEP_ALIVE_INTERVAL,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}
