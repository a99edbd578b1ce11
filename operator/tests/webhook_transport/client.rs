//! The clients of the transport tests: rustls client configurations, TLS and HTTP/1.1
//! connections to the webhook, and reviews whose every step is bounded, so that a webhook that
//! neither answers nor refuses fails the test naming where it stopped instead of hanging the run.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use guardian_testenv::CertAndKey;

use crate::support::bounded;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn client_config(ca_pem: &str, alpn: &[&[u8]], identity: Option<&CertAndKey>) -> ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
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

pub const H1: &[&[u8]] = &[b"http/1.1"];
pub const H2: &[&[u8]] = &[b"h2"];

pub async fn tls(addr: SocketAddr, config: ClientConfig) -> Result<TlsStream<TcpStream>, BoxError> {
    bounded("a TLS connection to the webhook", async {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        Ok(TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?)
    })
    .await
}

pub fn review_request(privileged: bool) -> hyper::Request<Full<Bytes>> {
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "transport-test",
            "kind": { "group": "", "version": "v1", "kind": "Pod" },
            "namespace": "shop",
            "operation": "CREATE",
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": { "name": "web", "namespace": "shop" },
                "spec": { "containers": [{ "name": "app", "image": "nginx:1.27",
                                           "securityContext": { "privileged": privileged } }] }
            }
        }
    });
    hyper::Request::post("https://127.0.0.1/validate")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request")
}

pub async fn allowed(response: hyper::Response<hyper::body::Incoming>) -> Result<bool, BoxError> {
    let status = response.status();
    let bytes = bounded(
        "reading the webhook's answer",
        response.into_body().collect(),
    )
    .await?
    .to_bytes();
    answer(status, &bytes)
}

/// `response.allowed` of a 200 answer; any other status is an error with the body.
pub fn answer(status: hyper::StatusCode, bytes: &[u8]) -> Result<bool, BoxError> {
    if status != hyper::StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(bytes)).into());
    }
    let body: Value = serde_json::from_slice(bytes)?;
    body["response"]["allowed"]
        .as_bool()
        .ok_or_else(|| "no allowed field".into())
}

/// An HTTP/1.1 connection: the sender and the task that ends when the server closes it.
pub async fn http1(
    addr: SocketAddr,
    config: ClientConfig,
) -> Result<(SendRequest<Full<Bytes>>, tokio::task::JoinHandle<()>), BoxError> {
    let stream = tls(addr, config).await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    Ok((
        sender,
        tokio::spawn(async move {
            let _ = conn.await;
        }),
    ))
}

/// Posts a privileged Pod's review on `sender`'s connection; whether it was allowed.
pub async fn review_on(sender: &mut SendRequest<Full<Bytes>>) -> Result<bool, BoxError> {
    bounded("the HTTP/1.1 connection becoming ready", sender.ready()).await?;
    let response = bounded(
        "the webhook's response to a review",
        sender.send_request(review_request(true)),
    )
    .await?;
    allowed(response).await
}

/// A review over a new HTTP/1.1 connection: `Ok(allowed)` when answered, `Err` when the server
/// refused it (a TLS alert, a closed connection). Neither within [`REVIEW_DEADLINE`] fails the
/// test naming the step it stopped at: a webhook must answer or refuse, and a stall hidden as
/// a refusal would let `is_err()` checks pass without the webhook having refused anything.
pub async fn review_http1(addr: SocketAddr, config: ClientConfig) -> Result<bool, BoxError> {
    review_http1_within(addr, config, REVIEW_DEADLINE).await
}

pub async fn review_http1_within(
    addr: SocketAddr,
    config: ClientConfig,
    deadline: Duration,
) -> Result<bool, BoxError> {
    let progress = Arc::new(Progress::default());
    let review = async {
        progress.at("TCP connect");
        let tcp = TcpStream::connect(addr).await?;
        progress.at("TLS handshake");
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let stream = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        progress.at("HTTP/1.1 handshake");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let ended = progress.clone();
        tokio::spawn(async move { ended.ended(conn.await) });
        progress.at("waiting for the connection to be ready");
        sender.ready().await?;
        progress.at("waiting for the response");
        let response = sender.send_request(review_request(true)).await?;
        progress.at("reading the response body");
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        answer(status, &bytes)
    };
    match tokio::time::timeout(deadline, review).await {
        Ok(result) => result,
        Err(_) => panic!(
            "a review over HTTP/1.1 to {addr} was neither answered nor refused within \
             {deadline:?}; stopped at: {}",
            progress.report()
        ),
    }
}

/// Far above a loopback review's milliseconds, under the test's [`DEADLINE`].
pub const REVIEW_DEADLINE: Duration = Duration::from_secs(30);

/// Where a review is, and how its connection task ended, for the message when it stalls.
#[derive(Debug, Default)]
pub struct Progress {
    step: Mutex<&'static str>,
    connection: Mutex<Option<String>>,
}

impl Progress {
    fn at(&self, step: &'static str) {
        if let Ok(mut current) = self.step.lock() {
            *current = step;
        }
    }

    fn ended(&self, result: Result<(), hyper::Error>) {
        if let Ok(mut connection) = self.connection.lock() {
            *connection = Some(format!("{result:?}"));
        }
    }

    fn report(&self) -> String {
        let step = self.step.lock().map(|s| *s).unwrap_or("unknown");
        match self.connection.lock().ok().and_then(|c| c.clone()) {
            Some(ended) => format!("{step} (the connection task had ended: {ended})"),
            None => format!("{step} (the connection task was still running)"),
        }
    }
}
