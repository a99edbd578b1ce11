//! The classifier on errors kube really returns: each test makes the failure happen.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use super::*;

/// A request of kube's client to `url`, trusting `ca_pem` when given.
async fn request(url: &str, ca_pem: Option<&str>, connect_timeout: Duration) -> kube::Error {
    let mut config = kube::Config::new(url.parse().expect("URL"));
    config.connect_timeout = Some(connect_timeout);
    if let Some(pem) = ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .expect("CA PEM");
        config.root_cert = Some(certs);
    }
    let client = kube::Client::try_from(config).expect("client");
    client
        .apiserver_version()
        .await
        .expect_err("the request must fail")
}

fn reason(failure: Failure) -> UnreachableReason {
    match failure {
        Failure::Unreachable { reason, .. } => reason,
        other => panic!("not unreachable: {other:?}"),
    }
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let error = request(
        &format!("https://127.0.0.1:{port}"),
        None,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        reason(classify(&error)),
        UnreachableReason::Refused,
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unresolvable_host_is_dns() {
    // `.invalid` never resolves (RFC 2606).
    let error = request(
        "https://guardian-test.invalid:6443",
        None,
        Duration::from_secs(20),
    )
    .await;
    let failure = classify(&error);
    assert!(
        matches!(&failure, Failure::Unreachable { detail, .. } if detail.contains("dns")),
        "{failure:?}"
    );
    assert_eq!(reason(failure), UnreachableReason::Dns, "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts TCP connections but never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let error = request(
        &format!("https://127.0.0.1:{port}"),
        None,
        Duration::from_millis(500),
    )
    .await;
    held.abort();
    assert_eq!(
        reason(classify(&error)),
        UnreachableReason::Timeout,
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_certificate_of_another_ca_is_tls() {
    let server_ca = guardian_testenv::Ca::new("server CA").expect("CA");
    let other_ca = guardian_testenv::Ca::new("another CA").expect("CA");
    let serving = server_ca.server_cert("server", &[]).expect("cert");
    let certs = CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("cert PEM");
    let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes()).expect("key PEM");
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            // The handshake fails on the client's side; the server has nothing to add.
            let _ = acceptor.accept(socket).await;
        }
    });
    let error = request(
        &format!("https://127.0.0.1:{port}"),
        Some(&other_ca.pem()),
        Duration::from_secs(10),
    )
    .await;
    server.abort();
    assert_eq!(
        reason(classify(&error)),
        UnreachableReason::Tls,
        "{error:?}"
    );
}

#[test]
fn status_codes_name_credentials_rights_and_missing_resources() {
    let status = |code: u16| {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: "cronjobs.batch is forbidden: User \"viewer\" cannot list resource \"cronjobs\" in API group \"batch\" at the cluster scope".into(),
            ..kube::core::Status::default()
        }))
    };
    assert!(matches!(
        classify(&status(401)),
        Failure::Unauthorized { .. }
    ));
    assert!(classify(&status(401)).is_connection());
    assert!(
        matches!(classify(&status(403)), Failure::Forbidden { verb: Some(verb), detail } if verb == "list" && detail.contains("forbidden"))
    );
    assert_eq!(classify(&status(404)), Failure::NotFound);
    assert!(matches!(classify(&status(500)), Failure::Other { .. }));
    let watch = watcher::Error::InitialListFailed(status(403));
    assert!(matches!(classify_watch(&watch), Failure::Forbidden { .. }));
    assert!(!classify_watch(&watch).is_connection());
    // A denial without the usual message is named after the request.
    let bare = watcher::Error::WatchStartFailed(kube::Error::Api(Box::new(kube::core::Status {
        code: 403,
        ..kube::core::Status::default()
    })));
    assert!(
        matches!(classify_watch(&bare), Failure::Forbidden { verb: Some(v), .. } if v == "watch")
    );
}
