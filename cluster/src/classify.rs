//! What a failed request says about the cluster: unreachable (and why), credentials rejected,
//! a right missing, a resource not served, or something else.
//!
//! kube wraps transport errors several layers deep (hyper-util's connect error around an
//! `io::Error`, around rustls's error), so the chain of sources is walked; the layers name what
//! happened in their types (`io::ErrorKind`, `rustls::Error`) and hyper-util only in its
//! message ("dns error"), which is matched as text.

use std::error::Error as StdError;
use std::io;

use kube::runtime::watcher;

use crate::state::UnreachableReason;

/// What one failed request means for the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing answered: connection refused, name not resolved, timed out, TLS failed, or other
    /// transport trouble (`Other`, e.g. an exec credential plugin that fails).
    Unreachable {
        reason: UnreachableReason,
        detail: String,
    },
    /// 401: the credentials are rejected (expired certificate, bad token).
    Unauthorized { detail: String },
    /// 403: the credentials lack the right for this request: `verb` as the API server names it
    /// (`list`, `watch`), when it does.
    Forbidden {
        verb: Option<String>,
        detail: String,
    },
    /// 404: the resource is not served (its CRD is not installed).
    NotFound,
    /// The server answered with another error (5xx, 410 handled by the watcher, …).
    Other { detail: String },
}

impl Failure {
    /// Whether the failure concerns the whole connection rather than one resource.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            Failure::Unreachable { .. } | Failure::Unauthorized { .. }
        )
    }
}

/// Classifies a failed request of kube's client.
pub fn classify(error: &kube::Error) -> Failure {
    match error {
        kube::Error::Api(status) => from_status(status.code, &status.message),
        kube::Error::Auth(_) => Failure::Unreachable {
            reason: UnreachableReason::Other,
            detail: chain(error),
        },
        _ => transport(error),
    }
}

/// Classifies a failure of a watch (its list, its watch request, or an error event). A denial
/// whose message names no verb is named after the request that failed.
pub fn classify_watch(error: &watcher::Error) -> Failure {
    let (failure, verb) = match error {
        watcher::Error::InitialListFailed(e) => (classify(e), "list"),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            (classify(e), "watch")
        }
        watcher::Error::WatchError(status) => (from_status(status.code, &status.message), "watch"),
        watcher::Error::NoResourceVersion => {
            return Failure::Other {
                detail: error.to_string(),
            };
        }
    };
    match failure {
        Failure::Forbidden { verb: None, detail } => Failure::Forbidden {
            verb: Some(verb.to_owned()),
            detail,
        },
        other => other,
    }
}

fn from_status(code: u16, message: &str) -> Failure {
    let detail = format!("{code}: {message}");
    match code {
        401 => Failure::Unauthorized { detail },
        403 => Failure::Forbidden {
            verb: denied_verb(message),
            detail,
        },
        404 => Failure::NotFound,
        _ => Failure::Other { detail },
    }
}

/// The verb of an RBAC denial: `… User "u" cannot list resource "cronjobs" in API group …`.
fn denied_verb(message: &str) -> Option<String> {
    let rest = &message[message.find(" cannot ")? + " cannot ".len()..];
    let verb = rest.split_whitespace().next()?;
    (!verb.is_empty() && verb.chars().all(|c| c.is_ascii_lowercase())).then(|| verb.to_owned())
}

/// An error below the HTTP layer: find the first source that says what happened.
fn transport(error: &kube::Error) -> Failure {
    let detail = chain(error);
    let mut reason = UnreachableReason::Other;
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = source {
        if current.downcast_ref::<rustls::Error>().is_some() {
            reason = UnreachableReason::Tls;
            break;
        }
        if let Some(io) = current.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => {
                    reason = UnreachableReason::Refused;
                    break;
                }
                io::ErrorKind::TimedOut => {
                    reason = UnreachableReason::Timeout;
                    break;
                }
                _ => {}
            }
        }
        // hyper-util names a failed lookup only in its message.
        if current.to_string().starts_with("dns error") {
            reason = UnreachableReason::Dns;
            break;
        }
        source = below(current);
    }
    Failure::Unreachable { reason, detail }
}

/// The error and its sources, `: `-joined, without repeating a message a wrapper already shows.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = below(error);
    while let Some(current) = source {
        let next = current.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = below(current);
    }
    text
}

/// The error below `error`. An `io::Error` wrapping another error reports that one's source as
/// its own, skipping the wrapped error (rustls's, for a failed handshake): step into it instead.
fn below<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = error
        .downcast_ref::<io::Error>()
        .and_then(io::Error::get_ref)
    {
        return Some(inner);
    }
    error.source()
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
