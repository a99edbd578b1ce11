//! A namespace whose PolicyReport write keeps failing holds up no other policy's reconcile.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::write_reports;
use crate::context::Context;
use crate::reports::tests::{results, row};

/// An API server that forbids every request about namespace `stuck` (as for a namespace being
/// deleted) and accepts every other report write.
async fn forbidding_stuck() -> Arc<Context> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                let request = String::from_utf8_lossy(&buf[..n]);
                let (status, body) = if request.contains("/namespaces/stuck/") {
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
    Context::offline(client, watch::channel(true).1)
}

#[tokio::test]
async fn a_namespace_whose_write_keeps_failing_fails_only_its_own_policys_reconcile() {
    let ctx = forbidding_stuck().await;
    // The pass is over: reconciles write their reports themselves.
    ctx.reports.lock().await.pass.finish();
    let stuck = write_reports("p", results("stuck", vec![row("p", "x", "r")]), &ctx).await;
    assert!(stuck.is_err(), "p's own namespace failed: {stuck:?}");
    // q changes namespace "b" only: written, and "stuck" retried besides without failing q.
    write_reports("q", results("b", vec![row("q", "y", "r")]), &ctx)
        .await
        .expect("q's reconcile does not fail on p's namespace");
    let state = ctx.reports.lock().await;
    assert!(state.is_written("b"));
    assert!(!state.is_written("stuck"));
    assert_eq!(state.retries(&[]), ["stuck"], "still due");
    drop(state);
    let metrics = ctx.metrics.render();
    assert!(
        metrics.contains(r#"kube_guardian_errors_total{kind="report_write"} 1"#),
        "{metrics}"
    );
}
