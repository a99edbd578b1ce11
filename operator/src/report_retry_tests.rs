//! A namespace whose PolicyReport write keeps failing holds up no other policy's reconcile, and
//! is retried by the writer without waiting for a reconcile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::{hand_over, update_reports};
use crate::context::Context;
use crate::reports::Settled;
use crate::reports::tests::{results, row};

/// An API server that forbids every request about namespace `stuck` (as for a namespace being
/// deleted), counting them, and accepts every other report write.
async fn forbidding_stuck() -> (Arc<Context>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let refused = Arc::new(AtomicUsize::new(0));
    let counted = refused.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let refused = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                let request = String::from_utf8_lossy(&buf[..n]);
                let (status, body) = if request.contains("/namespaces/stuck/") {
                    refused.fetch_add(1, Ordering::SeqCst);
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
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    (Context::offline(client, watch::channel(true).1), refused)
}

#[tokio::test]
async fn a_namespace_whose_write_keeps_failing_is_retried_and_holds_up_no_other() {
    let (ctx, refused) = forbidding_stuck().await;
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
    assert_eq!(settle("b").await, Settled::Idle);
    assert!(ctx.writer.is_written(&b));
    assert!(
        matches!(settle("stuck").await, Settled::Failed { namespace, .. } if namespace == "stuck")
    );
    // No reconcile since: the writer retries "stuck" on its own, with backoff.
    let deadline = Instant::now() + Duration::from_secs(60);
    while refused.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "stuck was not retried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let metrics = ctx.metrics.render();
    let errors = metrics
        .lines()
        .find(|l| l.starts_with(r#"kube_guardian_errors_total{kind="report_write"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or_default();
    assert!(errors >= 3.0, "{metrics}");
    ctx.writer.stop();
}
