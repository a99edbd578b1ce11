//! The writer's coalescing, in-flight bound, fingerprint skip, retries and shutdown, with a fake
//! write function.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Semaphore, watch};

use super::*;

/// A fake API: records each write, holds it until the test releases a permit, and answers with
/// the scripted outcomes (`Ok(true)` once they run out).
#[derive(Debug)]
struct Fake {
    /// `(namespace, the body's "v", when it started)`.
    calls: Mutex<Vec<(String, u64, Instant)>>,
    in_flight: Mutex<HashMap<String, usize>>,
    most_in_flight: Mutex<usize>,
    gate: Semaphore,
    outcomes: Mutex<VecDeque<Option<bool>>>,
}

impl Fake {
    fn new(gated: bool, outcomes: impl IntoIterator<Item = Option<bool>>) -> Arc<Self> {
        Arc::new(Fake {
            calls: Mutex::default(),
            in_flight: Mutex::default(),
            most_in_flight: Mutex::new(0),
            gate: Semaphore::new(if gated { 0 } else { Semaphore::MAX_PERMITS }),
            outcomes: Mutex::new(outcomes.into_iter().collect()),
        })
    }

    fn write_fn(self: &Arc<Self>) -> WriteFn {
        let fake = self.clone();
        Arc::new(move |ns, body, _empty| {
            let fake = fake.clone();
            Box::pin(async move { fake.write(ns, &body).await })
        })
    }

    async fn write(&self, ns: String, body: &Value) -> Result<bool, kube::Error> {
        let v = body["v"].as_u64().unwrap_or_default();
        self.calls
            .lock()
            .expect("calls")
            .push((ns.clone(), v, Instant::now()));
        {
            let mut in_flight = self.in_flight.lock().expect("in flight");
            let n = in_flight.entry(ns.clone()).or_default();
            *n += 1;
            let mut most = self.most_in_flight.lock().expect("most");
            *most = (*most).max(*n);
        }
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        *self
            .in_flight
            .lock()
            .expect("in flight")
            .entry(ns.clone())
            .or_default() -= 1;
        match self.outcomes.lock().expect("outcomes").pop_front() {
            Some(None) => Err(kube::Error::Api(
                kube::core::Status::failure("refused", "Forbidden")
                    .with_code(403)
                    .boxed(),
            )),
            Some(Some(written)) => Ok(written),
            None => Ok(true),
        }
    }

    fn written(&self, ns: &str) -> Vec<u64> {
        let calls = self.calls.lock().expect("calls");
        calls.iter().filter(|c| c.0 == ns).map(|c| c.1).collect()
    }

    fn count(&self) -> usize {
        self.calls.lock().expect("calls").len()
    }
}

fn report(ns: &str, v: u64, seq: u64) -> ReportBody {
    let body = json!({ "v": v });
    ReportBody {
        namespace: ns.to_owned(),
        body,
        empty: false,
        seq,
    }
}

fn writer(fake: &Arc<Fake>, leader: watch::Receiver<bool>, retry: Duration) -> ReportWriter {
    let metrics = Metrics::new().expect("metrics");
    ReportWriter::new(fake.write_fn(), leader, metrics, (retry, retry * 4))
}

/// Polls `done` until it holds, for up to 60 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn settled(writer: &ReportWriter, namespaces: &[&str]) -> Settled {
    let namespaces: Vec<String> = namespaces.iter().map(|s| (*s).to_owned()).collect();
    tokio::time::timeout(Duration::from_secs(60), writer.settled(&namespaces))
        .await
        .expect("settled within 60 s")
}

#[tokio::test]
async fn one_write_in_flight_per_namespace_and_only_the_latest_body_is_written() {
    let fake = Fake::new(true, []);
    let (_leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_millis(10));
    writer.submit(report("a", 1, 1));
    until("a's first write in flight", || fake.count() == 1).await;
    writer.submit(report("a", 2, 2));
    writer.submit(report("a", 3, 3));
    writer.submit(report("b", 1, 4));
    until("b's write in flight beside a's", || fake.count() == 2).await;
    fake.gate.add_permits(10);
    assert!(matches!(settled(&writer, &["a", "b"]).await, Settled::Idle));
    assert_eq!(
        fake.written("a"),
        [1, 3],
        "2 was replaced by 3 while 1 was in flight"
    );
    assert_eq!(fake.written("b"), [1]);
    assert_eq!(*fake.most_in_flight.lock().expect("most"), 1);
    assert!(writer.is_written(&report("a", 3, 0)));
    assert_eq!(writer.serving(), 0, "no task left once nothing is pending");
}

#[tokio::test]
async fn a_body_written_as_it_is_is_skipped_and_an_older_one_is_ignored() {
    let fake = Fake::new(true, []);
    let (_leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_millis(10));
    fake.gate.add_permits(1);
    writer.submit(report("a", 1, 1));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    // The same content built again: nothing to write, no task.
    writer.submit(report("a", 1, 2));
    assert_eq!(writer.serving(), 0);
    // A change undone while its write is in flight: the undoing body differs from what that
    // write leaves, so it is written too.
    writer.submit(report("a", 2, 3));
    until("2 in flight", || fake.count() == 2).await;
    writer.submit(report("a", 1, 4));
    // Built before the last one handed over: ignored.
    writer.submit(report("a", 7, 3));
    fake.gate.add_permits(10);
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert_eq!(fake.written("a"), [1, 2, 1]);
    assert!(writer.is_written(&report("a", 1, 0)));
}

#[tokio::test]
async fn a_failed_write_is_retried_with_backoff_and_the_latest_body_wins() {
    let fake = Fake::new(true, [None, None]);
    let (_leader, rx) = watch::channel(true);
    let first = Duration::from_millis(50);
    let writer = writer(&fake, rx, first);
    writer.submit(report("a", 1, 1));
    until("1 in flight", || fake.count() == 1).await;
    // Handed over while 1 is in flight, which then fails: 2 is retried, not 1.
    writer.submit(report("a", 2, 2));
    fake.gate.add_permits(1);
    let failed = settled(&writer, &["a"]).await;
    assert!(
        matches!(&failed, Settled::Failed { namespace, error } if namespace == "a" && error.to_string().contains("refused")),
        "{failed:?}"
    );
    // No further hand-over: the writer retries on its own until a write succeeds.
    fake.gate.add_permits(10);
    until("written after two failures", || {
        writer.is_written(&report("a", 2, 0))
    })
    .await;
    assert_eq!(fake.written("a"), [1, 2, 2]);
    let calls = fake.calls.lock().expect("calls").clone();
    // Waits of at least the first delay, then twice it (the gate held only the first call).
    assert!(calls[2].2 - calls[1].2 >= first * 2, "{calls:?}");
    let metrics = writer.inner.metrics.render();
    assert!(
        metrics.contains(r#"kube_guardian_errors_total{kind="report_write"} 2"#),
        "{metrics}"
    );
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
}

#[tokio::test]
async fn losing_leadership_drops_pending_writes_and_ends_the_tasks() {
    let fake = Fake::new(true, []);
    let (leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_millis(10));
    writer.submit(report("a", 1, 1));
    until("1 in flight", || fake.count() == 1).await;
    writer.submit(report("a", 2, 2));
    leader.send_replace(false);
    fake.gate.add_permits(10);
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert_eq!(fake.written("a"), [1], "2 was dropped");
    assert_eq!(writer.serving(), 0);
}

#[tokio::test]
async fn stopping_ends_a_task_waiting_to_retry() {
    let fake = Fake::new(false, [None]);
    let (_leader, rx) = watch::channel(true);
    // An hour's wait: only the stop ends it within the test.
    let writer = writer(&fake, rx, Duration::from_secs(3600));
    writer.submit(report("a", 1, 1));
    until("the failed write", || {
        fake.count() == 1 && writer.inner.lock().by_namespace["a"].failed.is_some()
    })
    .await;
    assert_eq!(writer.serving(), 1, "waiting to retry");
    writer.stop();
    until("the task to end", || writer.serving() == 0).await;
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn a_missing_crd_drops_the_write_and_a_new_term_forgets_what_was_written() {
    let fake = Fake::new(true, [Some(false)]);
    let (_leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_millis(10));
    fake.gate.add_permits(1);
    writer.submit(report("a", 1, 1));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert!(writer.crd_missing());
    assert!(!writer.is_written(&report("a", 1, 0)));
    assert_eq!(fake.count(), 1, "not retried");
    // Installed since: the next body is written.
    fake.gate.add_permits(1);
    writer.submit(report("a", 1, 2));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert!(writer.is_written(&report("a", 1, 0)) && !writer.crd_missing());
    // A write in flight as a new term starts is not recorded in it.
    writer.submit(report("a", 2, 3));
    until("2 in flight", || fake.count() == 3).await;
    writer.reset(3);
    assert!(!writer.is_written(&report("a", 1, 0)), "forgotten");
    fake.gate.add_permits(10);
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert!(!writer.is_written(&report("a", 2, 0)));
    // The new term writes the bodies built in it.
    writer.submit(report("a", 2, 4));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert!(writer.is_written(&report("a", 2, 0)));
}

#[tokio::test]
async fn a_body_built_before_a_new_term_is_not_written_in_it() {
    let fake = Fake::new(false, []);
    let (_leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_millis(10));
    let mut state = crate::reports::ReportState::default();
    state.pass.finish();
    // A reconcile builds its body under the report lock, then writes its status first...
    let old = state.set_policy(
        "p",
        crate::reports::tests::results("a", vec![crate::reports::tests::row("p", "x", "r")]),
    );
    // ...meanwhile leadership moved and the new term's pass started holding reports back.
    state.start_pass();
    writer.reset(state.seq());
    for report in old {
        writer.submit(report);
    }
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert_eq!(
        fake.count(),
        0,
        "the last term's body was written during the pass"
    );
}

#[tokio::test]
async fn a_closed_leader_channel_still_waits_out_the_backoff() {
    let fake = Fake::new(false, [None]);
    // The sender gone while leading (as in a test context): the value stays true.
    let rx = watch::channel(true).1;
    let first = Duration::from_millis(200);
    let writer = writer(&fake, rx, first);
    writer.submit(report("a", 1, 1));
    until("the retry", || fake.count() == 2).await;
    let calls = fake.calls.lock().expect("calls").clone();
    assert!(
        calls[1].2 - calls[0].2 >= first,
        "retried at once: {calls:?}"
    );
}

#[tokio::test]
async fn a_different_body_ends_the_backoff_of_a_failed_write() {
    let fake = Fake::new(false, [None]);
    let (_leader, rx) = watch::channel(true);
    // An hour's wait: only the newer body ends it within the test.
    let writer = writer(&fake, rx, Duration::from_secs(3600));
    writer.submit(report("a", 1, 1));
    until("the failed write", || {
        writer
            .inner
            .lock()
            .by_namespace
            .get("a")
            .is_some_and(|s| s.failed.is_some())
    })
    .await;
    writer.submit(report("a", 2, 2));
    until("the newer body written", || {
        writer.is_written(&report("a", 2, 0))
    })
    .await;
    assert_eq!(fake.written("a"), [1, 2]);
}

#[tokio::test]
async fn after_a_failed_write_the_content_before_it_is_written_again() {
    // The failed write may have reached the server (its answer lost): putting back the content
    // written before it must not count as written as it is.
    let fake = Fake::new(false, [Some(true), None]);
    let (_leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_secs(3600));
    writer.submit(report("a", 1, 1));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    writer.submit(report("a", 2, 2));
    assert!(matches!(
        settled(&writer, &["a"]).await,
        Settled::Failed { .. }
    ));
    writer.submit(report("a", 1, 3));
    until("1 written again", || fake.written("a") == [1, 2, 1]).await;
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
}

#[tokio::test]
async fn a_report_deleted_by_someone_else_is_written_again_with_the_same_content() {
    let fake = Fake::new(true, []);
    let (_leader, rx) = watch::channel(true);
    let writer = writer(&fake, rx, Duration::from_millis(10));
    fake.gate.add_permits(1);
    writer.submit(report("a", 1, 1));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    // Deleted: the same content is written again, not skipped as written.
    writer.forget("a");
    assert!(!writer.is_written(&report("a", 1, 0)));
    fake.gate.add_permits(1);
    writer.submit(report("a", 1, 2));
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert_eq!(fake.written("a"), [1, 1]);
    // Deleted while a write is in flight: that write may have landed before the deletion, so
    // the same body handed over again is written once more.
    writer.submit(report("a", 2, 3));
    until("2 in flight", || fake.count() == 3).await;
    writer.forget("a");
    writer.submit(report("a", 2, 4));
    fake.gate.add_permits(10);
    assert!(matches!(settled(&writer, &["a"]).await, Settled::Idle));
    assert_eq!(fake.written("a"), [1, 1, 2, 2]);
    assert!(writer.is_written(&report("a", 2, 0)));
    // Nothing deleted: the same body is skipped again.
    writer.submit(report("a", 2, 5));
    assert_eq!(writer.serving(), 0);
    assert_eq!(fake.count(), 4);
}
