//! The election Lease as tests judge a takeover: by the Lease's own fields (holder, transitions,
//! acquireTime against the previous renewTime plus the duration), never by the wall clock.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;

use crate::operator_process::{self, OperatorProcess};

/// How often [`wait_for_takeover`] reads the Lease.
const TAKEOVER_POLL: Duration = Duration::from_millis(100);

/// The Lease `name`'s spec as it is now; `None` when it cannot be read or has none.
pub async fn spec(leases: &Api<Lease>, name: &str) -> Option<LeaseSpec> {
    leases.get_opt(name).await.ok()??.spec
}

/// The Lease `name`'s holder as it is now; `None` when it cannot be read or none holds it.
pub async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    spec(leases, name)
        .await?
        .holder_identity
        .filter(|h| !h.is_empty())
}

/// The Lease's spec once a holder whose identity starts with `holder` took it over from `before`:
/// one more transition than `before` (counted in a second write, just after the Lease is taken).
/// `None` while it has not: poll it with a bounded wait (e.g. `operator_process::wait_for`).
pub async fn taken_over(
    leases: &Api<Lease>,
    name: &str,
    before: &LeaseSpec,
    holder: &str,
) -> Option<LeaseSpec> {
    let spec = spec(leases, name).await?;
    let transitions = before.lease_transitions.unwrap_or(0) + 1;
    (spec.holder_identity.as_deref()?.starts_with(holder)
        && spec.lease_transitions == Some(transitions))
    .then_some(spec)
}

/// Waits until a holder whose identity starts with `holder` took the Lease `name` over from
/// `before` ([`taken_over`]), polling for up to [`operator_process::DEADLINE`]; its spec then.
/// `context` says what the test did to the old holder (e.g. "after SIGTERM"), for the timeout's
/// message.
///
/// # Panics
///
/// On timeout, as a test assertion, with the logs of `operators`.
pub async fn wait_for_takeover(
    leases: &Api<Lease>,
    name: &str,
    before: &LeaseSpec,
    holder: &str,
    context: &str,
    operators: &[&OperatorProcess],
) -> LeaseSpec {
    let what = format!(
        "{holder} to take the Lease {name} over from {:?} (transitions {:?}) {context}",
        before.holder_identity, before.lease_transitions
    );
    operator_process::wait_for(&what, TAKEOVER_POLL, operators, async || {
        taken_over(leases, name, before, holder).await
    })
    .await
}

/// How long after `before` would have expired (its renewTime plus `duration`) `after` was
/// acquired, in microseconds (negative: acquired before it would have expired); `None` when a
/// time is missing. The holder of `before` renewed at its renewTime or later, so a negative
/// value shows a released Lease taken at once, and a value of 0 or more that an unreleased one
/// was not taken before it expired.
pub fn acquired_past_expiry(
    before: &LeaseSpec,
    after: &LeaseSpec,
    duration: Duration,
) -> Option<i64> {
    let micros = |time: Option<&MicroTime>| time.map(|t| t.0.as_microsecond());
    let duration = i64::try_from(duration.as_micros()).ok()?;
    let expiry = micros(before.renew_time.as_ref())?.checked_add(duration)?;
    Some(micros(after.acquire_time.as_ref())? - expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(renew: &str, acquire: &str) -> LeaseSpec {
        let time = |text: &str| text.parse().map(MicroTime).ok();
        LeaseSpec {
            renew_time: time(renew),
            acquire_time: time(acquire),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn acquired_past_expiry_counts_from_the_previous_renewal_plus_the_duration() {
        let before = spec("2026-01-01T00:00:10Z", "2026-01-01T00:00:00Z");
        let duration = Duration::from_secs(4);
        let early = spec("2026-01-01T00:00:11Z", "2026-01-01T00:00:11Z");
        let late = spec("2026-01-01T00:00:15.5Z", "2026-01-01T00:00:15.5Z");
        assert_eq!(
            acquired_past_expiry(&before, &early, duration),
            Some(-3_000_000)
        );
        assert_eq!(
            acquired_past_expiry(&before, &late, duration),
            Some(1_500_000)
        );
        assert_eq!(
            acquired_past_expiry(&before, &LeaseSpec::default(), duration),
            None
        );
    }
}
