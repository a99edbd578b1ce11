//! When the task wakes for an exception's expiry: read from the evaluation it published, so a
//! loop that comes around after the expiry without evaluating (a health probe, a failed watch,
//! an evaluation that ran across it) still wakes, and one that evaluated does not spin.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::*;

const T: i64 = 1_900_000_000;

fn at(second: i64, millis: i64) -> Timestamp {
    Timestamp::from_second(second).expect("a time") + SignedDuration::from_millis(millis)
}

fn exception(name: &str, expires: Timestamp) -> Arc<GuardianException> {
    Arc::new(
        serde_json::from_value(serde_json::json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianException",
            "metadata": {"name": name, "namespace": "team-a"},
            "spec": {
                "policy": "baseline", "rules": ["pss-privileged"],
                "resources": {"kinds": ["Pod"], "names": ["agent"]},
                "owner": "team-a", "justification": "migrating",
                "expiresAt": expires.to_string()
            }
        }))
        .expect("an exception"),
    )
}

/// The cluster's data with these exceptions, evaluated at `now`.
async fn evaluated(exceptions: &[Arc<GuardianException>], now: Timestamp) -> Data {
    let mut data = Data::new(&ClusterOptions::default());
    if let Ok(mut map) = data.exceptions.write() {
        for e in exceptions {
            map.insert(e.metadata.name.clone().unwrap_or_default(), Arc::clone(e));
        }
    }
    data.refresh(&mut ClusterSnapshot::connecting("test", now), now)
        .await;
    data
}

/// What the task's loop sleeps until for the next expiry, as of `now` (`instant` on its clock).
fn wake(data: &Data, now: Timestamp, instant: Instant) -> Option<Instant> {
    data.expiry_due()
        .and_then(|at| crate::task::deadline(at, now, instant))
}

#[tokio::test]
async fn the_loop_wakes_a_margin_after_the_expiry() {
    let data = evaluated(&[exception("soon", at(T, 0))], at(T - 10, 0)).await;
    let instant = Instant::now();
    assert_eq!(
        wake(&data, at(T - 10, 0), instant),
        Some(instant + std::time::Duration::from_millis(10_100))
    );
}

#[tokio::test]
async fn an_expiry_passed_before_the_loop_came_around_still_wakes_it() {
    // Evaluated (waived) a second before the expiry; the loop next comes around only after it,
    // say when a health probe or a watch's failure was handled, with no evaluation since.
    let data = evaluated(&[exception("soon", at(T, 0))], at(T - 1, 0)).await;
    let instant = Instant::now();
    assert_eq!(
        wake(&data, at(T, 50), instant),
        Some(instant + std::time::Duration::from_millis(50)),
        "within the margin: at the margin"
    );
    assert_eq!(
        wake(&data, at(T + 2, 0), instant),
        Some(instant),
        "past it: at once"
    );
}

#[tokio::test]
async fn once_an_evaluation_is_due_or_done_past_the_expiry_the_next_one_wakes_the_loop() {
    // Another exception (another team's, another test's) expires a minute later.
    let exceptions = [
        exception("soon", at(T, 0)),
        exception("later", at(T + 60, 0)),
    ];
    let mut data = evaluated(&exceptions, at(T - 1, 0)).await;
    let instant = Instant::now();
    data.changed();
    assert_eq!(
        wake(&data, at(T, 100), instant),
        None,
        "an evaluation is due: no wake-up (the loop would spin on a passed one)"
    );
    data.refresh(
        &mut ClusterSnapshot::connecting("test", at(T, 100)),
        at(T, 100),
    )
    .await;
    assert_eq!(
        wake(&data, at(T, 100), instant),
        Some(instant + std::time::Duration::from_secs(60)),
        "the later exception's expiry, a margin after it"
    );
    let alone = evaluated(&exceptions[..1], at(T, 100)).await;
    assert_eq!(
        wake(&alone, at(T, 100), instant),
        None,
        "nothing expires any more"
    );
}
