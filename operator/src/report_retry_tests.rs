//! A namespace whose PolicyReport write keeps failing holds up no other policy's reconcile, and
//! is retried by the writer without waiting for a reconcile.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use super::{hand_over, update_reports};
use crate::context::Context;
use crate::converge::{Finished, finish};
use crate::fake_api::{self, answer};
use crate::reports::Settled;
use crate::reports::tests::{results, row};

/// When the API server refused each request.
type Refusals = Arc<Mutex<Vec<Instant>>>;

/// What the fake API server saw.
#[derive(Clone, Default)]
struct Seen {
    /// When each request about namespace `stuck` was refused.
    stuck_refusals: Refusals,
    /// How many requests about namespace `ending` came.
    ending_requests: Arc<AtomicUsize>,
    /// How many requests about namespace `gone` came.
    gone_requests: Arc<AtomicUsize>,
}

/// An API server that forbids every request about namespace `stuck` (a plain 403, as RBAC or an
/// admission policy answers), noting when; answers the second request about namespace `ending`
/// as for a namespace being deleted, and the others as for a namespace there (before its
/// deletion, and created again after it), counting them; answers every request about namespace
/// `gone` as for a namespace being deleted, counting them; and accepts every other report write.
/// The context leads while the returned sender lives.
async fn forbidding_stuck() -> (Arc<Context>, Seen, watch::Sender<bool>) {
    forbidding_stuck_gated(Arc::new(Semaphore::new(Semaphore::MAX_PERMITS))).await
}

/// As [`forbidding_stuck`], each refusal answered only once `gate` gives a permit.
async fn forbidding_stuck_gated(gate: Arc<Semaphore>) -> (Arc<Context>, Seen, watch::Sender<bool>) {
    let seen = Seen::default();
    let counted = seen.clone();
    let (ctx, leader) = fake_api::context(true, move |request| {
        let seen = counted.clone();
        let gate = gate.clone();
        async move {
            let (status, body) = if request
                .starts_with("GET /apis/wgpolicyk8s.io/v1alpha2/policyreports")
            {
                // The sweep's list of owned reports: none.
                (
                    "200 OK",
                    r#"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{},"items":[]}"#,
                )
            } else if request.contains("/namespaces/ending/")
                || request.contains("/namespaces/gone/")
            {
                let nth = if request.contains("/namespaces/gone/") {
                    seen.gone_requests.fetch_add(1, Ordering::SeqCst);
                    2
                } else {
                    seen.ending_requests.fetch_add(1, Ordering::SeqCst) + 1
                };
                if nth != 2 {
                    ("200 OK", "{}")
                } else {
                    // As the API server's NamespaceLifecycle admission answers.
                    (
                        "403 Forbidden",
                        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"policyreports.wgpolicyk8s.io \"kube-guardian\" is forbidden: unable to create new content in namespace ending because it is being terminated","reason":"Forbidden","details":{"name":"kube-guardian","group":"wgpolicyk8s.io","kind":"policyreports","causes":[{"reason":"NamespaceTerminating","message":"namespace ending is being terminated","field":"metadata.namespace"}]},"code":403}"#,
                    )
                }
            } else if request.contains("/namespaces/stuck/") {
                seen.stuck_refusals
                    .lock()
                    .expect("refusals")
                    .push(Instant::now());
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
                (
                    "403 Forbidden",
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"namespace stuck is being terminated","reason":"Forbidden","code":403}"#,
                )
            } else {
                (
                    "200 OK",
                    r#"{"apiVersion":"wgpolicyk8s.io/v1alpha2","kind":"PolicyReport","metadata":{"name":"kube-guardian","namespace":"b"}}"#,
                )
            };
            answer(status, body)
        }
    })
    .await;
    (ctx, seen, leader)
}

#[tokio::test]
async fn a_namespace_whose_write_keeps_failing_is_retried_and_holds_up_no_other() {
    let (ctx, seen, _leader) = forbidding_stuck().await;
    // The pass is over: reconciles hand their reports over themselves.
    ctx.reports.lock().await.pass.finish();
    let due = update_reports("p", results("stuck", vec![row("p", "x", "r")]), &ctx).await;
    hand_over(due, &ctx);
    // q changes namespace "b" only: written beside "stuck"'s failing writes.
    let due = update_reports("q", results("b", vec![row("q", "y", "r")]), &ctx).await;
    assert_eq!(due.len(), 1);
    let b = due[0].clone();
    hand_over(due, &ctx);
    let settle = |ns: &str| {
        let (ctx, ns) = (ctx.clone(), vec![ns.to_owned()]);
        async move {
            tokio::time::timeout(Duration::from_secs(60), ctx.writer.settled(&ns))
                .await
                .expect("settled within 60 s")
        }
    };
    assert!(matches!(settle("b").await, Settled::Idle));
    assert!(ctx.writer.is_written(&b));
    let failed = settle("stuck").await;
    assert!(matches!(&failed, Settled::Failed { namespace, .. } if namespace == "stuck"));
    // Named once, with the API server's answer as its source.
    let error = failed.into_result().expect_err("failed");
    let text = crate::error::chain(&error);
    assert_eq!(text.matches("writing PolicyReport").count(), 1, "{text}");
    assert!(
        std::error::Error::source(&error)
            .is_some_and(|s| s.to_string().contains("being terminated")),
        "{text}"
    );
    // No reconcile since: the writer retries "stuck" on its own, with backoff (the offline
    // context's first wait is 20 ms). The server notes a refusal before the writer has its
    // answer, so wait for the writer to have counted three failed writes, not only for three
    // refusals.
    let report_write_errors = || {
        ctx.metrics
            .render()
            .lines()
            .find(|l| l.starts_with(r#"kube_guardian_errors_total{kind="report_write"}"#))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while report_write_errors() < 3.0 {
        assert!(
            Instant::now() < deadline,
            "stuck was not retried: {}",
            ctx.metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let times = seen.stuck_refusals.lock().expect("refusals").clone();
    assert!(times.len() >= 3, "{times:?}");
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(20),
            "retried without backoff: {times:?}"
        );
    }
    ctx.writer.stop();
}

#[tokio::test]
async fn a_namespace_being_deleted_is_not_an_error_and_a_recreated_one_gets_its_report() {
    let (ctx, seen, _leader) = forbidding_stuck().await;
    ctx.reports.lock().await.pass.finish();
    let settle = || async {
        tokio::time::timeout(
            Duration::from_secs(60),
            ctx.writer.settled(&["ending".to_owned()]),
        )
        .await
        .expect("settled within 60 s")
    };
    let due = update_reports("p", results("ending", vec![row("p", "x", "r")]), &ctx).await;
    let first = due[0].clone();
    hand_over(due, &ctx);
    assert!(matches!(settle().await, Settled::Idle));
    assert!(ctx.writer.is_written(&first));
    // The namespace is being deleted: its next write is refused, which is nothing to retry.
    let due = update_reports("p", results("ending", vec![row("p", "y", "r")]), &ctx).await;
    hand_over(due, &ctx);
    assert!(
        matches!(settle().await, Settled::Idle),
        "not failed, not retried"
    );
    assert!(
        !ctx.metrics.render().contains(r#"kind="report_write""#),
        "{}",
        ctx.metrics.render()
    );
    assert_eq!(seen.ending_requests.load(Ordering::SeqCst), 2);
    // Re-created with the first content: written, though that content was written before.
    let due = update_reports("p", results("ending", vec![row("p", "x", "r")]), &ctx).await;
    let recreated = due[0].clone();
    hand_over(due, &ctx);
    assert!(matches!(settle().await, Settled::Idle));
    assert_eq!(seen.ending_requests.load(Ordering::SeqCst), 3);
    assert!(ctx.writer.is_written(&recreated));
    ctx.writer.stop();
}

#[tokio::test]
async fn a_namespace_whose_write_keeps_failing_does_not_hold_the_report_pass_open() {
    let (ctx, seen, _leader) = forbidding_stuck().await;
    // Both namespaces' results recorded during the pass (no live policy is left to evaluate).
    update_reports("p", results("stuck", vec![row("p", "x", "r")]), &ctx).await;
    update_reports("q", results("b", vec![row("q", "y", "r")]), &ctx).await;
    let finished = tokio::time::timeout(Duration::from_secs(60), finish(&ctx, false))
        .await
        .expect("the pass finished within 60 s")
        .expect("the pass finished");
    assert_eq!(finished, Finished::Written);
    assert!(!ctx.reports.lock().await.pass.running(), "the pass is over");
    assert!(!seen.stuck_refusals.lock().expect("refusals").is_empty());
    let b = ctx.reports.lock().await.report("b");
    assert!(
        ctx.writer.is_written(&b),
        "b written beside the failing namespace"
    );
    ctx.writer.stop();
}

#[tokio::test]
async fn a_failing_namespace_whose_content_changes_during_the_pass_still_lets_it_finish() {
    let gate = Arc::new(Semaphore::new(0));
    let (ctx, seen, _leader) = forbidding_stuck_gated(gate.clone()).await;
    update_reports("p", results("stuck", vec![row("p", "x", "r")]), &ctx).await;
    let pass = tokio::spawn({
        let ctx = ctx.clone();
        async move { finish(&ctx, false).await }
    });
    // The first write of "stuck" is at the server: its content changes before it is refused,
    // so the pass finds new content due for a namespace it already counts as failing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.stuck_refusals.lock().expect("refusals").is_empty() {
        assert!(Instant::now() < deadline, "stuck was never written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let changed = vec![row("p", "x", "r"), row("p", "z", "r")];
    update_reports("p", results("stuck", changed), &ctx).await;
    gate.add_permits(Semaphore::MAX_PERMITS / 2);
    let finished = tokio::time::timeout(Duration::from_secs(60), pass)
        .await
        .expect("the pass finished within 60 s (it spun on the failing namespace)")
        .expect("the pass task")
        .expect("the pass finished");
    assert_eq!(finished, Finished::Written);
    ctx.writer.stop();
}

#[tokio::test]
async fn a_namespace_being_deleted_lets_the_report_pass_finish_after_one_write() {
    let (ctx, seen, _leader) = forbidding_stuck().await;
    // Results recorded during the pass for a namespace whose every write is refused as
    // terminating (no live policy is left to evaluate).
    update_reports("p", results("gone", vec![row("p", "x", "r")]), &ctx).await;
    update_reports("q", results("b", vec![row("q", "y", "r")]), &ctx).await;
    let finished = tokio::time::timeout(Duration::from_secs(60), finish(&ctx, false))
        .await
        .expect("the pass finished within 60 s (it spun on the namespace being deleted)")
        .expect("the pass finished");
    assert_eq!(finished, Finished::Written);
    assert!(!ctx.reports.lock().await.pass.running(), "the pass is over");
    assert_eq!(seen.gone_requests.load(Ordering::SeqCst), 1, "written once");
    let b = ctx.reports.lock().await.report("b");
    assert!(ctx.writer.is_written(&b), "b written beside it");
    ctx.writer.stop();
}

#[tokio::test]
async fn a_pass_that_sees_its_leadership_lost_says_so() {
    let (ctx, _seen, leader) = forbidding_stuck().await;
    update_reports("q", results("b", vec![row("q", "y", "r")]), &ctx).await;
    // Lost as the pass writes: the writer drops "b", and the pass must not pass for one over
    // while leading (the converge loop would then wait for the end of a term it no longer holds).
    leader.send(false).expect("leader");
    let finished = tokio::time::timeout(Duration::from_secs(60), finish(&ctx, false))
        .await
        .expect("the pass ended within 60 s")
        .expect("the pass ended");
    assert_eq!(finished, Finished::Lost);
    ctx.writer.stop();
}
