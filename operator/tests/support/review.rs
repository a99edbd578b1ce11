//! A review as the webhook tests send it, and what became of it: answered (any HTTP status) or
//! refused, and which failures count as the server refusing.

use std::fmt;

use axum::body::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use rustls::AlertDescription;
use serde_json::{Value, json};

use super::client::BoxError;

const UID: &str = "webhook-test";

/// An AdmissionReview of a Pod, privileged or not.
pub fn review_body(privileged: bool) -> Vec<u8> {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": UID,
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
    })
    .to_string()
    .into_bytes()
}

/// `POST /validate` with `body`.
pub fn post_request(body: Vec<u8>) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post("https://127.0.0.1/validate")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

// ---- what became of a review -----------------------------------------------------------------

/// What the webhook did with a request.
#[derive(Debug)]
pub enum Review {
    /// An HTTP answer, whatever its status.
    Answered { status: StatusCode, body: Bytes },
    /// No answer: the connection failed or was closed, for this reason.
    Refused(BoxError),
}

impl Review {
    /// `response.allowed` of a 200 answer to [`review_body`]; `None` for anything else.
    pub fn allowed(&self) -> Option<bool> {
        let Review::Answered { status, body } = self else {
            return None;
        };
        let body: Value = serde_json::from_slice(body)
            .ok()
            .filter(|_| *status == 200)?;
        (body["response"]["uid"] == UID)
            .then(|| body["response"]["allowed"].as_bool())
            .flatten()
    }

    /// `response.allowed`, failing the test with `what` and the outcome if there is none.
    pub fn expect_allowed(&self, what: &str) -> bool {
        self.allowed()
            .unwrap_or_else(|| panic!("{what}: no admission decision: {self}"))
    }

    /// Fails the test with `what` unless the server refused: a TLS alert refusing the client's
    /// certificate, or the connection closed without an answer. An HTTP answer of any status is
    /// not a refusal, and neither is an error of the client's own.
    pub fn assert_refused(&self, what: &str) {
        assert!(self.is_refused(), "{what}: expected a refusal, got {self}");
    }

    /// Whether the server refused (see [`Review::assert_refused`]).
    pub fn is_refused(&self) -> bool {
        matches!(self, Review::Refused(error) if is_refusal(error.as_ref()))
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Review::Answered { status, body } => {
                let text = String::from_utf8_lossy(body);
                write!(f, "answered {status}: {:.300}", text)
            }
            Review::Refused(error) => {
                write!(f, "refused: {error}")?;
                let mut source = error.source();
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
        }
    }
}

/// The alerts a TLS server refuses a client certificate (or its absence) with.
const REFUSAL_ALERTS: &[AlertDescription] = &[
    AlertDescription::BadCertificate,
    AlertDescription::UnknownCA,
    AlertDescription::CertificateRequired,
    AlertDescription::CertificateUnknown,
    AlertDescription::AccessDenied,
    AlertDescription::HandshakeFailure,
];

/// Whether `error`, or an error it wraps, is the server refusing: a refusal alert, a reset or
/// closed connection, or hyper's "closed before the message completed".
fn is_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(rustls::Error::AlertReceived(alert)) = error.downcast_ref::<rustls::Error>() {
            return REFUSAL_ALERTS.contains(alert);
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
            if matches!(io.kind(), ConnectionReset | UnexpectedEof | BrokenPipe) {
                return true;
            }
            // An io::Error's `source()` skips the error it wraps (rustls' among them).
            if let Some(inner) = io.get_ref() {
                current = Some(inner);
                continue;
            }
        }
        if let Some(hyper) = error.downcast_ref::<hyper::Error>()
            && hyper.is_incomplete_message()
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// A request that failed because its connection had ended with `connection`.
#[derive(Debug)]
pub struct Closed {
    request: hyper::Error,
    connection: hyper::Error,
}

impl Closed {
    pub fn new(request: hyper::Error, connection: hyper::Error) -> Closed {
        Closed {
            request,
            connection,
        }
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; the connection had ended", self.request)
    }
}

impl std::error::Error for Closed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.connection)
    }
}
