//! The webhook over real TLS on loopback: protocol versions (including a raw TLS 1.1
//! ClientHello), certificate rotation by symlink swap, a broken new pair, and mTLS.

pub mod support;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use guardian_cluster::store::PolicyStore;
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{self, Webhook, WebhookConfig, WebhookState};
use guardian_testenv::{Ca, CertAndKey};
use support::client::{self, H1, connect, review_http1};
use support::{Server, bounded, capture_logs, log_lines, wait_for};

// ---- a Secret-volume-like certificate directory -------------------------------------------

/// `tls.crt -> ..data/tls.crt`, `..data -> ..<version>/`: the layout the kubelet writes, whose
/// updates are an atomic rename of `..data`.
struct CertDir {
    dir: tempfile::TempDir,
    version: u32,
}

impl CertDir {
    fn new(pair: &CertAndKey) -> CertDir {
        let mut d = CertDir {
            dir: tempfile::tempdir().expect("temp dir"),
            version: 0,
        };
        d.swap(pair);
        for file in [webhook::CERT_FILE, webhook::KEY_FILE] {
            std::os::unix::fs::symlink(Path::new("..data").join(file), d.path().join(file))
                .expect("file symlink");
        }
        d
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a new version directory and points `..data` at it in one rename.
    fn swap(&mut self, pair: &CertAndKey) {
        self.version += 1;
        let version = format!("..v{}", self.version);
        let target = self.path().join(&version);
        std::fs::create_dir(&target).expect("version dir");
        std::fs::write(target.join(webhook::CERT_FILE), &pair.cert_pem).expect("tls.crt");
        std::fs::write(target.join(webhook::KEY_FILE), &pair.key_pem).expect("tls.key");
        let tmp = self.path().join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).expect("..data_tmp");
        std::fs::rename(&tmp, self.path().join("..data")).expect("atomic swap");
    }
}

// ---- clients -----------------------------------------------------------------------------

/// A client trusting `ca_pem` over `versions` only, offering HTTP/1.1.
fn client_config(
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    identity: Option<&CertAndKey>,
) -> ClientConfig {
    client::client_config(ca_pem, versions, H1, identity)
}

/// A serving certificate for the webhook on 127.0.0.1.
fn serving_cert(ca: &Ca) -> CertAndKey {
    ca.server_cert("kube-guardian-webhook", &[])
        .expect("a serving certificate")
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("cert PEM")
        .to_vec()
}

/// Whether one captured log line contains every needle.
fn logs_contain(needles: &[&str]) -> bool {
    log_lines()
        .iter()
        .any(|line| needles.iter().all(|n| line.contains(n)))
}

// ---- tests -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_1_2_and_1_3() {
    let ca = Ca::new("test CA").expect("a test CA");
    let dir = CertDir::new(&serving_cert(&ca));
    let server = Server::start(dir.path(), |_| {}).await;
    for (version, expected) in [
        (&rustls::version::TLS12, ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, ProtocolVersion::TLSv1_3),
    ] {
        let mut conn = connect(server.addr, client_config(&ca.pem(), &[version], None))
            .await
            .expect("handshake");
        assert_eq!(conn.version, Some(expected));
        assert!(
            !conn.review(true).await.expect_allowed("review"),
            "denied over {expected:?}"
        );
        assert!(
            conn.review(false).await.expect_allowed("review"),
            "allowed over {expected:?}"
        );
    }
    server.stop().await;
}

/// A ClientHello with the given `legacy_version` and no `supported_versions` extension, offering
/// ECDHE-ECDSA/RSA AES-GCM suites with the extensions a TLS 1.2 server needs.
fn raw_client_hello(version: [u8; 2]) -> Vec<u8> {
    fn ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&u16::try_from(data.len()).expect("small").to_be_bytes());
        out.extend_from_slice(data);
    }
    let mut hello = Vec::new();
    hello.extend_from_slice(&version);
    hello.extend_from_slice(&[7; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]); // two cipher suites
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut extensions = Vec::new();
    ext(
        &mut extensions,
        0x000a,
        &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x17],
    ); // x25519, P-256
    ext(&mut extensions, 0x000b, &[0x01, 0x00]); // uncompressed points
    ext(
        &mut extensions,
        0x000d,
        &[0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    ); // sig algs
    hello.extend_from_slice(
        &u16::try_from(extensions.len())
            .expect("small")
            .to_be_bytes(),
    );
    hello.extend_from_slice(&extensions);

    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend_from_slice(&u32::try_from(hello.len()).expect("small").to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01]; // handshake record, TLS 1.0 record version as usual
    record.extend_from_slice(&u16::try_from(handshake.len()).expect("small").to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends raw bytes and returns the first TLS record the server answers with.
async fn first_record(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = bounded("a TCP connection to the webhook", TcpStream::connect(addr))
        .await
        .expect("connect");
    bounded("sending a ClientHello", tcp.write_all(bytes))
        .await
        .expect("send hello");
    let mut header = [0u8; 5];
    bounded("the server's answer", tcp.read_exact(&mut header))
        .await
        .expect("a record header");
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut payload = vec![0; len];
    bounded(
        "the rest of the server's record",
        tcp.read_exact(&mut payload),
    )
    .await
    .expect("the record");
    let mut record = header.to_vec();
    record.extend_from_slice(&payload);
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_1_1_client_hello_is_refused_with_a_protocol_version_alert() {
    let ca = Ca::new("test CA").expect("a test CA");
    let dir = CertDir::new(&serving_cert(&ca));
    let server = Server::start(dir.path(), |_| {}).await;

    // Control: the very same hello claiming TLS 1.2 gets a ServerHello, so the bytes are sound.
    let answer = first_record(server.addr, &raw_client_hello([0x03, 0x03])).await;
    assert_eq!(answer[0], 0x16, "a handshake record: {answer:02x?}");
    assert_eq!(answer[5], 0x02, "a ServerHello: {answer:02x?}");

    // TLS 1.1: a fatal (2) protocol_version (70) alert record.
    let answer = first_record(server.addr, &raw_client_hello([0x03, 0x02])).await;
    assert_eq!(&answer[..1], &[0x15], "an alert record: {answer:02x?}");
    assert_eq!(
        &answer[5..],
        &[0x02, 0x46],
        "fatal protocol_version: {answer:02x?}"
    );

    // And a rustls client cannot even be configured below 1.2: there is no 1.1 to ask for.
    assert!(
        rustls::ALL_VERSIONS
            .iter()
            .all(|v| v.version != ProtocolVersion::TLSv1_1)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_pair_is_served_without_restart_and_a_broken_one_is_ignored() {
    capture_logs(tracing::Level::INFO);
    let ca = Ca::new("test CA").expect("a test CA");
    let first = serving_cert(&ca);
    let mut dir = CertDir::new(&first);
    let server = Server::start(dir.path(), |_| {}).await;
    let tls = || client_config(&ca.pem(), &[&rustls::version::TLS13], None);

    let mut open = connect(server.addr, tls()).await.expect("connect");
    assert_eq!(open.peer_cert, der(&first.cert_pem));
    assert!(!open.review(true).await.expect_allowed("review"));

    let second = serving_cert(&ca);
    dir.swap(&second);
    wait_for("the rotated certificate to be served", || async {
        connect(server.addr, tls())
            .await
            .is_ok_and(|c| c.peer_cert == der(&second.cert_pem))
    })
    .await;
    // The connection opened before the swap keeps working on the pair it started with.
    assert!(
        !open
            .review(true)
            .await
            .expect_allowed("review on the old connection")
    );

    // A certificate with someone else's key: rejected, logged, the current pair keeps serving.
    let mismatched = CertAndKey {
        cert_pem: serving_cert(&ca).cert_pem,
        key_pem: serving_cert(&ca).key_pem,
    };
    dir.swap(&mismatched);
    let dir_text = dir.path().display().to_string();
    wait_for("the broken pair to be rejected in the logs", || async {
        logs_contain(&["does not load; keeping the current one", &dir_text])
    })
    .await;
    let mut conn = connect(server.addr, tls()).await.expect("still serving");
    assert_eq!(conn.peer_cert, der(&second.cert_pem));
    assert!(conn.review(false).await.expect_allowed("review"));

    // Not PEM at all: same.
    dir.swap(&CertAndKey {
        cert_pem: "garbage".into(),
        key_pem: "garbage".into(),
    });
    wait_for("the garbage pair to be rejected in the logs", || async {
        logs_contain(&["does not load", "holds no usable PEM", &dir_text])
    })
    .await;
    let conn = connect(server.addr, tls()).await.expect("still serving");
    assert_eq!(conn.peer_cert, der(&second.cert_pem));

    // And a good pair after the broken ones is picked up again.
    let third = serving_cert(&ca);
    dir.swap(&third);
    wait_for("the third certificate to be served", || async {
        connect(server.addr, tls())
            .await
            .is_ok_and(|c| c.peer_cert == der(&third.cert_pem))
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_refuses_clients_without_a_certificate_from_the_ca() {
    let ca = Ca::new("serving CA").expect("a test CA");
    let client_ca = Ca::new("client CA").expect("a test CA");
    let dir = CertDir::new(&serving_cert(&ca));
    let ca_file = dir.path().join("client-ca.crt");
    std::fs::File::create(&ca_file)
        .and_then(|mut f| f.write_all(client_ca.pem().as_bytes()))
        .expect("client CA file");
    let server = Server::start(dir.path(), |c| c.client_ca = Some(ca_file)).await;

    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        // No certificate: TLS 1.2 fails the handshake; under TLS 1.3 the client finishes first
        // and learns of the refusal on its first read. Either way no review is answered.
        review_http1(server.addr, client_config(&ca.pem(), &[version], None))
            .await
            .assert_refused(&format!("{version:?}: a client without a certificate"));

        let stranger = Ca::new("another CA")
            .expect("a test CA")
            .client_cert("mallory", &[])
            .expect("a client certificate");
        review_http1(
            server.addr,
            client_config(&ca.pem(), &[version], Some(&stranger)),
        )
        .await
        .assert_refused(&format!("{version:?}: a certificate from another CA"));

        let trusted = client_ca
            .client_cert("kube-apiserver", &[])
            .expect("a client certificate");
        let mut conn = connect(
            server.addr,
            client_config(&ca.pem(), &[version], Some(&trusted)),
        )
        .await
        .expect("handshake with a trusted client certificate");
        assert!(
            !conn.review(true).await.expect_allowed("review"),
            "{version:?}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_fails_clearly_without_a_certificate() {
    guardian_cluster::crypto::install_crypto_provider();
    let empty = tempfile::tempdir().expect("temp dir");
    let config = WebhookConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), empty.path());
    let state = WebhookState::new(
        Arc::new(PolicyStore::new()),
        Metrics::new().expect("metrics"),
    );
    let error = Webhook::bind(&config, state)
        .await
        .expect_err("no certificate");
    assert_eq!(error.metric_label(), "tls_read");
    assert!(error.to_string().contains("tls.crt"), "{error}");
}
