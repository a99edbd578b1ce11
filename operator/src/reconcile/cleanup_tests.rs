//! A deleted policy's cleanup gives its worker back while its report writes are in flight, and
//! lets the finalizer go once they landed: against an API server that answers each report write
//! only when the test says so.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use super::{PendingCleanups, WARN_AFTER, cleanup};
use crate::Error;
use crate::context::Context;
use crate::fake_api::{self, answer};
use crate::reconcile::{hand_over, update_reports};
use crate::reports::Settled;
use crate::reports::tests::{results, row};

/// A leading context whose API server answers each request (as a written report) once `gate`
/// gives a permit, holding it until then; `requests` counts the requests it received.
async fn gated_api(
    gate: Arc<Semaphore>,
    requests: Arc<AtomicUsize>,
) -> (Arc<Context>, watch::Sender<bool>) {
    fake_api::context(true, move |_| {
        requests.fetch_add(1, Ordering::SeqCst);
        let gate = gate.clone();
        async move {
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            answer(
                "200 OK",
                r#"{"apiVersion":"wgpolicyk8s.io/v1alpha2","kind":"PolicyReport","metadata":{"name":"kube-guardian","namespace":"a"}}"#,
            )
        }
    })
    .await
}

/// Runs the cleanup, which must give its worker back within 60 s.
async fn cleanup_once(ctx: &Context) -> Result<(), Error> {
    tokio::time::timeout(Duration::from_secs(60), cleanup("p", ctx))
        .await
        .expect("the cleanup gives its worker back")
        .map(|_| ())
}

#[tokio::test]
async fn a_cleanup_does_not_hold_its_worker_on_a_write_in_flight_and_keeps_the_finalizer() {
    let gate = Arc::new(Semaphore::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (ctx, _leader) = gated_api(gate.clone(), requests.clone()).await;
    ctx.reports.lock().await.pass.finish();
    let due = update_reports("p", results("a", vec![row("p", "x", "r")]), &ctx).await;
    hand_over(due, &ctx);
    gate.add_permits(1);
    let settled = ctx.writer.settled(&["a".to_owned()]).await;
    assert!(matches!(settled, Settled::Idle), "{settled:?}");

    // The policy is deleted while the API server holds every answer: its rows' removal from
    // a's report is in flight, and stays so.
    let pending = cleanup_once(&ctx).await;
    assert!(
        pending.as_ref().is_err_and(Error::reports_pending),
        "{pending:?}"
    );
    assert_eq!(
        ctx.reports.lock().await.leaving("p"),
        ["a"],
        "the finalizer stays while the rows are in the report"
    );
    // Checked again: still in flight, nothing written twice, the worker given back again.
    let pending = cleanup_once(&ctx).await;
    assert!(
        pending.as_ref().is_err_and(Error::reports_pending),
        "{pending:?}"
    );

    // The write lands: the next check lets the finalizer go.
    gate.add_permits(1);
    let settled = ctx.writer.settled(&["a".to_owned()]).await;
    assert!(matches!(settled, Settled::Idle), "{settled:?}");
    cleanup_once(&ctx).await.expect("the rows left the report");
    assert!(ctx.reports.lock().await.leaving("p").is_empty());
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "the report written, then its rows removed: nothing written twice"
    );
    ctx.writer.stop();
}

#[test]
fn a_cleanup_waiting_on_its_writes_is_said_once_after_a_minute() {
    let pending = PendingCleanups::default();
    let start = Instant::now();
    assert_eq!(pending.pending("p", start), None);
    assert_eq!(
        pending.pending("p", start + WARN_AFTER / 2),
        None,
        "not yet"
    );
    assert_eq!(
        pending.pending("q", start + WARN_AFTER),
        None,
        "q just began"
    );
    let waited = WARN_AFTER + Duration::from_secs(3);
    assert_eq!(
        pending.pending("p", start + waited),
        Some(waited),
        "said, with the real wait"
    );
    assert_eq!(
        pending.pending("p", start + WARN_AFTER * 2),
        None,
        "said once"
    );
    // A cleanup done and the policy deleted again: its own minute.
    pending.forget("p");
    let again = start + WARN_AFTER * 3;
    assert_eq!(pending.pending("p", again), None);
    assert_eq!(pending.pending("p", again + WARN_AFTER), Some(WARN_AFTER));
}

#[test]
fn a_cleanup_pending_in_a_new_term_gets_its_own_minute() {
    let pending = PendingCleanups::default();
    let start = Instant::now();
    assert_eq!(pending.pending("p", start), None);
    // Leadership lost and taken again later: the wait counts from the new term.
    pending.new_term();
    let later = start + WARN_AFTER * 2;
    assert_eq!(pending.pending("p", later), None, "not said at once");
    assert_eq!(pending.pending("p", later + WARN_AFTER), Some(WARN_AFTER));
}

#[test]
fn a_cleanup_waiting_on_its_writes_is_counted_but_not_timed() {
    let metrics = crate::metrics::Metrics::new().expect("metrics");
    let pending: Result<kube::runtime::controller::Action, Error> = Err(Error::ReportsPending {
        policy: "p".to_owned(),
        namespaces: 1,
    });
    crate::reconcile::record(
        &metrics,
        "reports_pending",
        &pending,
        Duration::from_secs(1),
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"reconciles_total{result="reports_pending"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("reconcile_duration_seconds_count 1"),
        "{text}"
    );
}
