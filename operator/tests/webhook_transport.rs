//! The webhook's transport limits over real TLS on loopback: the bound on open connections, idle
//! connections closed over HTTP/1 and HTTP/2, HTTP/2 keep-alive PINGs, the client CA reloaded
//! while serving, accepted client identities, and what a refused request leaves in the logs.

pub mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use guardian_operator::webhook::{self, WebhookConfig};
use guardian_testenv::{Ca, CertAndKey};
use support::client::{self, H1, H2, answer, connect, review_http1, tls};
use support::review::{Review, post_request, review_body};
use support::{DEADLINE, Server, bounded, capture_logs, log_lines, wait_for};

// ---- the server --------------------------------------------------------------------------

fn certs_dir(ca: &Ca) -> tempfile::TempDir {
    let pair = ca
        .server_cert("kube-guardian-webhook", &[])
        .expect("a serving certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(webhook::CERT_FILE), &pair.cert_pem).expect("tls.crt");
    std::fs::write(dir.path().join(webhook::KEY_FILE), &pair.key_pem).expect("tls.key");
    dir
}

/// A webhook with one Deny policy serving a fresh pair from `ca`, configured by `tune`; the
/// certificate directory lives as long as the returned guard.
async fn start(ca: &Ca, tune: impl FnOnce(&mut WebhookConfig)) -> (Server, tempfile::TempDir) {
    let certs = certs_dir(ca);
    (Server::start(certs.path(), tune).await, certs)
}

/// A client trusting `ca_pem` over the default TLS versions, offering `alpn`.
fn client_config(ca_pem: &str, alpn: &[&[u8]], identity: Option<&CertAndKey>) -> ClientConfig {
    client::client_config(ca_pem, rustls::DEFAULT_VERSIONS, alpn, identity)
}

// ---- tests -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let ca = Ca::new("test CA").expect("a test CA");
    let (server, _certs) = start(&ca, |c| c.max_connections = 2).await;
    let mut first = connect(server.addr, client_config(&ca.pem(), H1, None))
        .await
        .expect("first connection");
    let _second = connect(server.addr, client_config(&ca.pem(), H1, None))
        .await
        .expect("second connection");
    assert!(!first.review(true).await.expect_allowed("a review"));

    // A third connection is not served while two are open: its handshake stays unanswered.
    let addr = server.addr;
    let config = client_config(&ca.pem(), H1, None);
    let mut third = tokio::spawn(review_http1(addr, config));
    let early = tokio::time::timeout(Duration::from_secs(1), &mut third).await;
    assert!(
        early.is_err(),
        "a third connection was served at a limit of 2: {early:?}"
    );

    // Closing one lets it in.
    first.closed.abort();
    drop(first);
    let review = tokio::time::timeout(DEADLINE, third)
        .await
        .expect("the third connection is served once one closes")
        .expect("no panic");
    assert_eq!(
        review.allowed(),
        Some(false),
        "the privileged Pod is denied: {review}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_over_http1_and_http2() {
    let ca = Ca::new("test CA").expect("a test CA");
    // Long enough that a loaded machine sends the first request before the new connection
    // counts as idle.
    let idle = Duration::from_secs(3);
    // The request timeout bounds HTTP/1 header reads on its own: far beyond `closed_within`,
    // so a close within that is the idle timeout's.
    let (server, _certs) = start(&ca, |c| {
        c.idle_timeout = idle;
        c.request_timeout = Duration::from_secs(600);
    })
    .await;
    let closed_within = Duration::from_secs(60);

    // The server's idle clock starts after this instant (at its handshake, then at the end of
    // the review), so the close comes at least `idle` after it, however slow the client is.
    let started = Instant::now();
    let mut conn = connect(server.addr, client_config(&ca.pem(), H1, None))
        .await
        .expect("HTTP/1.1");
    assert!(!conn.review(true).await.expect_allowed("a review"));
    tokio::time::timeout(closed_within, conn.closed)
        .await
        .expect("the idle HTTP/1.1 connection is closed")
        .expect("no panic");
    assert!(started.elapsed() >= idle, "closed before it was idle");

    let stream = tls(server.addr, client_config(&ca.pem(), H2, None))
        .await
        .expect("TLS");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = bounded(
        "an HTTP/2 handshake with the webhook",
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)),
    )
    .await
    .expect("HTTP/2");
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    bounded("the HTTP/2 connection becoming ready", sender.ready())
        .await
        .expect("ready");
    let response = bounded(
        "the webhook's response over HTTP/2",
        sender.send_request(post_request(review_body(true))),
    )
    .await
    .expect("review");
    assert!(
        !answer(response)
            .await
            .expect_allowed("a review over HTTP/2")
    );
    tokio::time::timeout(closed_within, conn)
        .await
        .expect("the idle HTTP/2 connection is closed")
        .expect("no panic");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_peer_that_stops_answering_pings_is_dropped() {
    let ca = Ca::new("test CA").expect("a test CA");
    let (server, _certs) = start(&ca, |c| {
        c.idle_timeout = Duration::from_secs(3600);
        c.keep_alive_interval = Duration::from_millis(200);
        c.keep_alive_timeout = Duration::from_millis(200);
    })
    .await;
    // An HTTP/2 client that sends its preface and SETTINGS, then never answers anything.
    let mut stream = tls(server.addr, client_config(&ca.pem(), H2, None))
        .await
        .expect("TLS");
    bounded(
        "sending the HTTP/2 preface",
        stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
    )
    .await
    .expect("preface");
    let mut everything = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut everything)).await;
    assert!(read.is_ok(), "the server kept a peer that answers no PING");
    // It did ask: a PING frame (type 6) is among what the server sent.
    assert!(
        everything
            .windows(4)
            .any(|w| w[3] == 0x06 && w[..3] == [0, 0, 8]),
        "no PING in {everything:02x?}"
    );
    server.stop().await;
}

/// Writes `pem` to `path` in one rename, as a ConfigMap or Secret volume update does.
fn replace(path: &Path, pem: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, pem).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn client_ca_file(ca: &Ca) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("client-ca.crt");
    replace(&path, &ca.pem());
    (dir, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_ca_is_reloaded_and_a_broken_one_keeps_the_current() {
    capture_logs(tracing::Level::DEBUG);
    let ca = Ca::new("serving CA").expect("a test CA");
    let old_ca = Ca::new("old client CA").expect("a test CA");
    let new_ca = Ca::new("new client CA").expect("a test CA");
    let old_client = old_ca.client_cert("kube-apiserver", &[]).expect("cert");
    let new_client = new_ca.client_cert("kube-apiserver", &[]).expect("cert");
    let (_dir, ca_file) = client_ca_file(&old_ca);
    let (server, _certs) = start(&ca, |c| c.client_ca = Some(ca_file.clone())).await;
    let with = |identity: &CertAndKey| client_config(&ca.pem(), H1, Some(identity));

    assert_eq!(
        review_http1(server.addr, with(&old_client)).await.allowed(),
        Some(false)
    );
    review_http1(server.addr, with(&new_client))
        .await
        .assert_refused("a client of a CA not yet trusted");

    replace(&ca_file, &new_ca.pem());
    wait_for("the new client CA to be trusted", || async {
        review_http1(server.addr, with(&new_client)).await.allowed() == Some(false)
    })
    .await;
    review_http1(server.addr, with(&old_client))
        .await
        .assert_refused("a client of the replaced CA");

    replace(&ca_file, "not a certificate");
    let path = ca_file.display().to_string();
    wait_for("the broken client CA to be refused in the logs", || async {
        log_lines().iter().any(|l| {
            l.contains("the new client CA does not load; keeping the current one")
                && l.contains(&path)
        })
    })
    .await;
    assert_eq!(
        review_http1(server.addr, with(&new_client)).await.allowed(),
        Some(false),
        "the current CA keeps working"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_accepted_client_names_complete_the_handshake() {
    let ca = Ca::new("serving CA").expect("a test CA");
    let client_ca = Ca::new("client CA").expect("a test CA");
    let (_dir, ca_file) = client_ca_file(&client_ca);
    let (server, _certs) = start(&ca, |c| {
        c.client_ca = Some(ca_file.clone());
        c.client_names = vec!["kube-apiserver".into(), "apiserver.example.internal".into()];
    })
    .await;
    let with = |identity: &CertAndKey| client_config(&ca.pem(), H1, Some(identity));

    let by_cn = client_ca.client_cert("kube-apiserver", &[]).expect("cert");
    assert_eq!(
        review_http1(server.addr, with(&by_cn)).await.allowed(),
        Some(false)
    );
    let by_dns = client_ca
        .client_cert_with_dns_names("front-proxy", &["apiserver.example.internal"])
        .expect("cert");
    assert_eq!(
        review_http1(server.addr, with(&by_dns)).await.allowed(),
        Some(false)
    );
    // Signed by the same CA, but nobody the webhook was told to accept.
    let other = client_ca
        .client_cert("system:anonymous", &["system:masters"])
        .expect("cert");
    review_http1(server.addr, with(&other))
        .await
        .assert_refused("an unlisted identity");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_never_logged_verbatim_nor_above_debug() {
    capture_logs(tracing::Level::DEBUG);
    let ca = Ca::new("test CA").expect("a test CA");
    let (server, _certs) = start(&ca, |_| {}).await;
    let marker = format!("LEAKED-{}", "x".repeat(4000));
    let mut bodies = Vec::new();
    let mut review: Value = serde_json::from_slice(&review_body(true)).expect("JSON");
    review["apiVersion"] = json!(marker);
    bodies.push(review.to_string().into_bytes());
    let mut privileged: Value = review.clone();
    privileged["apiVersion"] = json!("admission.k8s.io/v1");
    privileged["request"]["object"]["spec"]["containers"][0]["securityContext"]["privileged"] =
        json!(marker);
    bodies.push(privileged.to_string().into_bytes());

    for body in bodies {
        let mut conn = connect(server.addr, client_config(&ca.pem(), H1, None))
            .await
            .expect("connection");
        let review = conn.post(body).await;
        let Review::Answered { status, body } = &review else {
            panic!("a malformed review is answered, not refused: {review}");
        };
        assert_eq!(*status, hyper::StatusCode::BAD_REQUEST, "{review}");
        assert!(body.len() < 2048, "the answer echoes {} bytes", body.len());
    }
    wait_for("the refusals in the debug log", || async {
        log_lines()
            .iter()
            .filter(|l| l.contains("admission review refused"))
            .count()
            >= 2
    })
    .await;
    for line in log_lines().iter().filter(|l| l.contains("LEAKED-")) {
        assert!(
            line.trim_start().starts_with("DEBUG"),
            "logged above debug: {line:.300}"
        );
        assert!(!line.contains(&marker), "logged verbatim: {line:.300}");
        assert!(
            line.len() < 1000,
            "an excerpt, not the request: {} bytes",
            line.len()
        );
    }
    server.stop().await;
}
