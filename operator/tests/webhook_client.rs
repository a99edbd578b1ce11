//! The webhook tests' own client (`support::client`) can fail: a review that stalls fails the
//! test naming its step instead of hanging the run, and only a refusal by the server counts as
//! one, never an HTTP error answer nor a client-side error. Guards of the tests, not
//! reproductions of a webhook fault.

pub mod support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use hyper::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{AlertDescription, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use guardian_testenv::Ca;
use support::client::{H1, client_config, review_http1_within};
use support::review::Review;

/// Each step's deadline in the stall tests below. The steps before the stall (a TCP connect, and
/// in one a TLS handshake with a server task on the same runtime) must finish within it, or the
/// test fails naming the wrong step: a loaded machine can take a second for a handshake, so
/// it is generous (each test waits it out once, at its stall).
const STEP: Duration = Duration::from_secs(10);

/// A loopback listener that accepts connections and holds them, doing `then` with each.
async fn holding<F, Fut>(then: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(then(stream));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "stopped at: TLS handshake (no connection task yet)")]
async fn a_review_stalled_in_the_handshake_fails_naming_its_step() {
    let ca = Ca::new("test CA").expect("a test CA");
    // Accepts, then never says a word: the TLS handshake never completes.
    let addr = holding(|stream| async move {
        std::future::pending::<()>().await;
        drop(stream);
    })
    .await;
    let config = client_config(&ca.pem(), rustls::DEFAULT_VERSIONS, H1, None);
    let _ = review_http1_within(addr, config, STEP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(
    expected = "stopped at: waiting for the response (its connection task still running)"
)]
async fn a_review_never_answered_fails_naming_its_step() {
    guardian_cluster::crypto::install_crypto_provider();
    let ca = Ca::new("test CA").expect("a test CA");
    let pair = ca
        .server_cert("silent", &[])
        .expect("a serving certificate");
    let server =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("cert"),
                PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key"),
            )
            .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(server));
    // Completes the TLS handshake, then never answers the request.
    let addr = holding(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let tls = acceptor.accept(stream).await;
            std::future::pending::<()>().await;
            drop(tls);
        }
    })
    .await;
    let config = client_config(&ca.pem(), rustls::DEFAULT_VERSIONS, H1, None);
    let _ = review_http1_within(addr, config, STEP).await;
}

/// An io::Error carrying rustls' "received fatal alert", as tokio-rustls reports it.
fn alert(description: AlertDescription) -> Review {
    Review::Refused(Box::new(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::AlertReceived(description),
    )))
}

#[test]
fn only_the_server_refusing_counts_as_a_refusal() {
    for refusal in [
        alert(AlertDescription::UnknownCA),
        alert(AlertDescription::CertificateRequired),
        alert(AlertDescription::AccessDenied),
        Review::Refused(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))),
    ] {
        assert!(refusal.is_refused(), "{refusal}");
    }
    for not_a_refusal in [
        Review::Answered {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Bytes::from_static(b"{\"code\":503}"),
        },
        Review::Answered {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: Bytes::new(),
        },
        alert(AlertDescription::InternalError),
        Review::Refused(Box::new(std::io::Error::other("a client-side failure"))),
        Review::Refused("no allowed field".into()),
    ] {
        assert!(!not_a_refusal.is_refused(), "{not_a_refusal}");
        assert_eq!(not_a_refusal.allowed(), None, "{not_a_refusal}");
    }
}

#[test]
#[should_panic(expected = "a client without a certificate: expected a refusal, got answered 503")]
fn an_error_answer_fails_a_refusal_check() {
    Review::Answered {
        status: StatusCode::SERVICE_UNAVAILABLE,
        body: Bytes::from_static(b"overloaded"),
    }
    .assert_refused("a client without a certificate");
}
