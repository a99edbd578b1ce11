//! The connection state of one cluster, named exactly as the console and `scan` show it.

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

/// Where one cluster stands. The names are part of the interface (README, `scan` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all_fields = "camelCase")]
pub enum ClusterState {
    /// Connecting, or the initial lists are not complete yet.
    Connecting,
    /// Every watch has its initial list and streams.
    Synced,
    /// Connected, but some watches fail (for reasons other than permissions), named here.
    Degraded { failing: Vec<WatchFailure> },
    /// The API server cannot be reached.
    Unreachable {
        reason: UnreachableReason,
        detail: String,
    },
    /// The API server rejects the credentials (401): expired certificate, bad token.
    Unauthorized { detail: String },
    /// The credentials lack rights (403) for these resources; the other kinds still show.
    Forbidden { missing: Vec<Access> },
    /// The GuardianPolicy CRD is not installed.
    #[serde(rename = "NoCRDs")]
    NoCrds,
}

impl ClusterState {
    /// Whether the cluster is connected and its data current: `Synced`, and also `Degraded`,
    /// `Forbidden` and `NoCRDs`, where the watches that work stream.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            ClusterState::Synced
                | ClusterState::Degraded { .. }
                | ClusterState::Forbidden { .. }
                | ClusterState::NoCrds
        )
    }

    /// The state's name, exactly: `Connecting`, `Synced`, `Degraded`, `Unreachable`,
    /// `Unauthorized`, `Forbidden`, `NoCRDs`.
    pub fn name(&self) -> &'static str {
        match self {
            ClusterState::Connecting => "Connecting",
            ClusterState::Synced => "Synced",
            ClusterState::Degraded { .. } => "Degraded",
            ClusterState::Unreachable { .. } => "Unreachable",
            ClusterState::Unauthorized { .. } => "Unauthorized",
            ClusterState::Forbidden { .. } => "Forbidden",
            ClusterState::NoCrds => "NoCRDs",
        }
    }
}

/// Why a cluster could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnreachableReason {
    /// Connection refused: nothing listens on the address.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// Connecting or the request timed out.
    Timeout,
    /// The TLS handshake failed (unknown CA, wrong host name, bad certificate).
    Tls,
    /// Anything else on the way (proxy, reset connection, exec plugin failure).
    Other,
}

/// A right the credentials lack, as `kubectl auth can-i` would name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Access {
    /// `list`, `watch`, `get`.
    pub verb: String,
    /// `plural.group`, or the plural alone for the core group: `pods`, `deployments.apps`.
    pub resource: String,
}

/// A watch that keeps failing, with the last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchFailure {
    /// `plural.group`, as in [`Access::resource`].
    pub resource: String,
    pub error: String,
}

/// A cluster's state with its timing: when it entered the state, the last time its data was
/// current (connected, see [`ClusterState::is_live`]; stale from then on), and the next retry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    #[serde(flatten)]
    pub state: ClusterState,
    pub since: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_synced: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<Timestamp>,
}

impl Connection {
    /// How old the data is at `now`, when the cluster is not connected (see
    /// [`ClusterState::is_live`]) but was once.
    pub fn stale_for(&self, now: Timestamp) -> Option<std::time::Duration> {
        if self.state.is_live() {
            return None;
        }
        let since = self.last_synced?;
        let seconds = now.as_second().saturating_sub(since.as_second());
        Some(std::time::Duration::from_secs(
            seconds.max(0).unsigned_abs(),
        ))
    }
}
