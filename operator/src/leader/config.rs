//! Lease settings, their defaults and the replica's identity.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime};

use crate::Error;

/// How long a lease stays valid without renewal (client-go's default).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long the leader may fail to renew before it stops leading (client-go's default).
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often the leader renews, and the cap of every retry delay (client-go's default).
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// How often a replica renews its candidate record. The record only informs (who stands by), so
/// it is renewed far less often than the election Lease: one etcd write per 10 s per replica.
pub const DEFAULT_CANDIDATE_RENEW: Duration = Duration::from_secs(10);

const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Which Lease to hold, as whom, and its timing.
///
/// `retry_period < renew_deadline < lease_duration`: the leader renews every retry period, stops
/// leading once renewals have failed for the renew deadline, and a standby takes an unrenewed lease
/// only after the lease duration, so the difference absorbs clock skew between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    /// Whole seconds: the Lease stores `leaseDurationSeconds`.
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    /// Whole seconds, at least one.
    pub retry_period: Duration,
    /// The pod this replica runs in: names its candidate record, so a restarted container
    /// overwrites its own record instead of leaving one behind (the identity changes per start).
    pub pod: String,
    /// How often the candidate record is renewed; it counts for three times that, so one late
    /// renewal does not show a live standby as gone. Whole seconds, at least one.
    pub candidate_renew: Duration,
    /// Whether this replica keeps a candidate record at all. Off, it writes only the election
    /// Lease (the chart then grants no more than that) and a watcher sees the holder alone.
    pub candidates: bool,
}

impl LeaseConfig {
    /// A config with the default timings.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        let identity = identity.into();
        LeaseConfig {
            name: name.into(),
            namespace: namespace.into(),
            pod: identity.clone(),
            identity,
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
            candidate_renew: DEFAULT_CANDIDATE_RENEW,
            candidates: true,
        }
    }

    /// Checks the names and the timing invariants (the crate would panic on some bad values).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::LeaseConfig { reason });
        for (what, value) in [
            ("lease name", &self.name),
            ("lease namespace", &self.namespace),
            ("identity", &self.identity),
        ] {
            if value.trim().is_empty() {
                return invalid(format!("the {what} is empty"));
            }
        }
        if let Some(problem) = guardian_cluster::lease::lease_name_problem(&self.name) {
            return invalid(format!("{problem}; choose another --lease-name"));
        }
        for (what, value) in [
            ("lease duration", self.lease_duration),
            ("retry period", self.retry_period),
        ] {
            if value.subsec_nanos() != 0 || value.is_zero() {
                return invalid(format!(
                    "the {what} must be a whole number of seconds, got {value:?}"
                ));
            }
        }
        if !(self.retry_period < self.renew_deadline && self.renew_deadline < self.lease_duration) {
            return invalid(format!(
                "need retry period ({:?}) < renew deadline ({:?}) < lease duration ({:?})",
                self.retry_period, self.renew_deadline, self.lease_duration
            ));
        }
        Ok(())
    }

    /// How long a renewal of the candidate record counts: three renewals.
    pub(super) fn candidate_seconds(&self) -> u64 {
        self.candidate_renew.as_secs().max(1) * 3
    }

    pub(super) fn lease_seconds(&self) -> u64 {
        self.lease_duration.as_secs()
    }

    /// The crate's grace: the holder renews this long before its lease would expire.
    pub(super) fn grace_seconds(&self) -> u64 {
        self.lease_duration.as_secs() - self.retry_period.as_secs()
    }
}

/// The pod's namespace: `POD_NAMESPACE` (downward API), else the service account's namespace file,
/// else `default`.
pub fn default_namespace() -> String {
    non_empty(std::env::var("POD_NAMESPACE").ok())
        .or_else(|| non_empty(std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE).ok()))
        .unwrap_or_else(|| "default".to_owned())
}

/// `POD_NAME` (downward API), else the hostname, plus a random suffix. The suffix keeps two
/// processes under one name (a restarted container, two local runs) from both believing they hold
/// the lease; a crashed replica's successor therefore waits for the old lease to expire.
pub fn default_identity() -> String {
    format!("{}-{}", pod_name(), random_suffix())
}

/// `POD_NAME` (downward API), else the hostname (the pod's name in a pod), else `kube-guardian`.
pub fn pod_name() -> String {
    non_empty(std::env::var("POD_NAME").ok())
        .or_else(|| non_empty(std::env::var("HOSTNAME").ok()))
        .or_else(|| non_empty(std::fs::read_to_string("/proc/sys/kernel/hostname").ok()))
        .unwrap_or_else(|| "kube-guardian".to_owned())
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Eight lowercase hex digits from std's randomly keyed hasher (no RNG dependency needed).
fn random_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = RandomState::new().hash_one((std::process::id(), nanos));
    format!("{:08x}", hash & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LeaseConfig {
        LeaseConfig::new("lease", "ns", "me")
    }

    #[test]
    fn defaults_are_valid_and_renew_every_retry_period() {
        let config = config();
        config.validate().expect("defaults are valid");
        assert_eq!(config.lease_seconds(), 15);
        assert_eq!(config.grace_seconds(), 13);
    }

    #[test]
    fn bad_timings_and_names_are_rejected() {
        let mut c = config();
        c.renew_deadline = c.lease_duration;
        assert!(c.validate().is_err());
        let mut c = config();
        c.retry_period = c.renew_deadline;
        assert!(c.validate().is_err());
        let mut c = config();
        c.lease_duration = Duration::from_millis(15_500);
        assert!(c.validate().is_err());
        let mut c = config();
        c.retry_period = Duration::from_millis(500);
        assert!(c.validate().is_err());
        let mut c = config();
        c.identity = " ".into();
        assert!(c.validate().is_err());
        // Names the API server refuses, or too long for a candidate record to keep its prefix.
        for name in [
            "Lease",
            "a_b",
            &"a".repeat(guardian_cluster::lease::MAX_LEASE_NAME + 1),
        ] {
            let mut c = config();
            c.name = name.to_owned();
            assert!(c.validate().is_err(), "{name:?}");
        }
        let mut c = config();
        c.name = "a".repeat(guardian_cluster::lease::MAX_LEASE_NAME);
        c.validate().expect("the longest lease name");
    }

    #[test]
    fn identities_differ_between_calls() {
        let (a, b) = (default_identity(), default_identity());
        assert_ne!(a, b);
        assert!(!default_namespace().is_empty());
    }
}
