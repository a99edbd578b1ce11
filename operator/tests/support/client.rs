//! The webhook tests' client: rustls configurations, TLS and HTTP/1.1 connections, and reviews
//! whose every step is bounded. A review ends as [`Review::Answered`] (any HTTP status) or
//! [`Review::Refused`] (no answer: the connection failed or closed); one that does neither
//! within its deadline fails the test naming the step it stopped at instead of hanging the run.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use guardian_testenv::CertAndKey;

use super::review::{Closed, Review, post_request, review_body};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bounds each network phase of a client (a connection, then one exchange on it): far above
/// loopback's milliseconds, and the two phases of a review stay under `support::DEADLINE`, which
/// bounds the `wait_for` checks made of reviews.
pub const STEP_DEADLINE: Duration = Duration::from_secs(20);

pub const H1: &[&[u8]] = &[b"http/1.1"];
pub const H2: &[&[u8]] = &[b"h2"];

/// A client trusting `ca_pem`, offering `versions` and `alpn`, presenting `identity` if any.
pub fn client_config(
    ca_pem: &str,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&[u8]],
    identity: Option<&CertAndKey>,
) -> ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(pair) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("client cert"),
                PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("client key"),
            )
            .expect("client auth"),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

// ---- connections -------------------------------------------------------------------------------

/// An HTTP/1.1-over-TLS connection and what its handshake negotiated.
#[derive(Debug)]
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    pub version: Option<ProtocolVersion>,
    pub peer_cert: Vec<u8>,
    /// Ends when the connection does (the server closed it, or it failed).
    pub closed: JoinHandle<()>,
    addr: SocketAddr,
    progress: Arc<Progress>,
    deadline: Duration,
}

/// A TLS connection within [`STEP_DEADLINE`]; `Err` when it fails.
pub async fn tls(addr: SocketAddr, config: ClientConfig) -> Result<TlsStream<TcpStream>, BoxError> {
    let progress = Progress::default();
    let connecting = handshake(addr, config, &progress);
    within(
        STEP_DEADLINE,
        "a TLS connection",
        addr,
        &progress,
        connecting,
    )
    .await
}

async fn handshake(
    addr: SocketAddr,
    config: ClientConfig,
    progress: &Progress,
) -> Result<TlsStream<TcpStream>, BoxError> {
    progress.at("TCP connect");
    let tcp = TcpStream::connect(addr).await?;
    progress.at("TLS handshake");
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    Ok(TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?)
}

/// An HTTP/1.1 connection within [`STEP_DEADLINE`]; `Err` when it fails.
pub async fn connect(addr: SocketAddr, config: ClientConfig) -> Result<Connection, BoxError> {
    connect_within(addr, config, STEP_DEADLINE).await
}

/// [`connect`] with `deadline` for the connection and each exchange on it.
pub async fn connect_within(
    addr: SocketAddr,
    config: ClientConfig,
    deadline: Duration,
) -> Result<Connection, BoxError> {
    let progress = Arc::new(Progress::default());
    let connecting = async {
        let stream = handshake(addr, config, &progress).await?;
        let (_, session) = stream.get_ref();
        let version = session.protocol_version();
        let peer_cert = session
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default();
        progress.at("HTTP/1.1 handshake");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        progress.connection(Task::Running);
        let ended = progress.clone();
        let closed = tokio::spawn(async move {
            let result = conn.await;
            ended.connection(Task::Ended {
                result: format!("{result:?}"),
                error: result.err(),
            });
            ended.ended.notify_one();
        });
        Ok(Connection {
            sender,
            version,
            peer_cert,
            closed,
            addr,
            progress: progress.clone(),
            deadline,
        })
    };
    within(
        deadline,
        "an HTTP/1.1 connection",
        addr,
        &progress,
        connecting,
    )
    .await
}

impl Connection {
    /// Posts a Pod's review: its outcome within the connection's deadline.
    pub async fn review(&mut self, privileged: bool) -> Review {
        self.post(review_body(privileged)).await
    }

    /// Posts `body` to `/validate`: its outcome within the connection's deadline.
    pub async fn post(&mut self, body: Vec<u8>) -> Review {
        let progress = self.progress.clone();
        let exchange = async {
            // hyper's HTTP/1 sender takes one request at a time: wait until the previous
            // exchange has fully finished, or a quick second request fails as "not ready".
            progress.at("waiting for the connection to be ready");
            let sent = match self.sender.ready().await {
                Ok(()) => {
                    progress.at("waiting for the response");
                    self.sender.send_request(post_request(body)).await
                }
                Err(error) => Err(error),
            };
            match sent {
                Ok(response) => {
                    progress.at("reading the response body");
                    read(response).await
                }
                // The request only learns that the connection closed; why it did (a TLS
                // alert, a reset) is the connection task's error.
                Err(request) => {
                    progress.at("the connection's end, after its request failed");
                    Review::Refused(match progress.connection_error().await {
                        Some(connection) => Box::new(Closed::new(request, connection)),
                        None => request.into(),
                    })
                }
            }
        };
        within(self.deadline, "a review", self.addr, &progress, exchange).await
    }
}

/// The outcome of `response`, its body read within [`STEP_DEADLINE`].
pub async fn answer(response: hyper::Response<hyper::body::Incoming>) -> Review {
    let progress = Progress::default();
    progress.at("reading the response body");
    let reading = read(response);
    within(
        STEP_DEADLINE,
        "an answer",
        "the webhook",
        &progress,
        reading,
    )
    .await
}

async fn read(response: hyper::Response<hyper::body::Incoming>) -> Review {
    let status = response.status();
    match response.into_body().collect().await {
        Ok(body) => Review::Answered {
            status,
            body: body.to_bytes(),
        },
        Err(error) => Review::Refused(error.into()),
    }
}

/// A review of a privileged Pod over a new HTTP/1.1 connection, each phase within
/// [`STEP_DEADLINE`]: a failed connection is a refusal.
pub async fn review_http1(addr: SocketAddr, config: ClientConfig) -> Review {
    review_http1_within(addr, config, STEP_DEADLINE).await
}

/// [`review_http1`] with `deadline` for each phase.
pub async fn review_http1_within(
    addr: SocketAddr,
    config: ClientConfig,
    deadline: Duration,
) -> Review {
    match connect_within(addr, config, deadline).await {
        Ok(mut connection) => connection.review(true).await,
        Err(error) => Review::Refused(error),
    }
}

// ---- stalls --------------------------------------------------------------------------------------

/// Awaits `step`, failing the test after `deadline` with `what`, `peer` and where `progress`
/// stopped: a server must answer or refuse, and a stall must neither hang the run nor pass as
/// a refusal.
async fn within<T>(
    deadline: Duration,
    what: &str,
    peer: impl fmt::Display,
    progress: &Progress,
    step: impl std::future::Future<Output = T>,
) -> T {
    let mut timed = std::pin::pin!(tokio::time::timeout(deadline, step));
    let elapsed = std::future::poll_fn(|cx| match timed.as_mut().poll(cx) {
        std::task::Poll::Ready(Ok(done)) => std::task::Poll::Ready(Ok(done)),
        // Read while the step still lives: once it is dropped, its abandoned request makes
        // the connection task end, and the report would blame a closed connection.
        std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(Err(progress.report())),
        std::task::Poll::Pending => std::task::Poll::Pending,
    })
    .await;
    match elapsed {
        Ok(done) => done,
        Err(report) => panic!(
            "{what} to {peer} neither completed nor failed within {deadline:?}; stopped at: \
             {report}"
        ),
    }
}

/// Where a client is, and its connection task's state, for the message when it stalls.
#[derive(Debug, Default)]
struct Progress {
    step: Mutex<&'static str>,
    connection: Mutex<Task>,
    /// Notified once the connection task has ended.
    ended: tokio::sync::Notify,
}

/// The task that drives an HTTP/1.1 connection.
#[derive(Debug, Default)]
enum Task {
    #[default]
    NotStarted,
    Running,
    Ended {
        result: String,
        /// Its error, until a failed request takes it as its cause.
        error: Option<hyper::Error>,
    },
}

impl Progress {
    fn at(&self, step: &'static str) {
        if let Ok(mut current) = self.step.lock() {
            *current = step;
        }
    }

    fn connection(&self, task: Task) {
        if let Ok(mut current) = self.connection.lock() {
            *current = task;
        }
    }

    /// Waits for the connection task to end; its error, if it failed.
    async fn connection_error(&self) -> Option<hyper::Error> {
        loop {
            if let Ok(mut task) = self.connection.lock()
                && let Task::Ended { error, .. } = &mut *task
            {
                return error.take();
            }
            // `notify_one` keeps a permit when nobody waits yet: no end is missed.
            self.ended.notified().await;
        }
    }

    fn report(&self) -> String {
        let step = self.step.lock().map(|s| *s).unwrap_or("unknown");
        match self.connection.lock().as_deref() {
            Ok(Task::NotStarted) => format!("{step} (no connection task yet)"),
            Ok(Task::Running) => format!("{step} (its connection task still running)"),
            Ok(Task::Ended { result, .. }) => {
                format!("{step} (its connection task had ended: {result})")
            }
            Err(_) => format!("{step} (its connection task's state unknown)"),
        }
    }
}
