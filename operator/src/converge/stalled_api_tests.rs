//! The report pass against an API server that answers nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc as chan, watch};

use super::finish;
use crate::context::Context;
use crate::fake_api::{self, Reply};

/// A leader's context whose API server takes every request and answers none; the first
/// bytes of each request (its request line) go to the receiver.
async fn stalled_api() -> (
    Arc<Context>,
    chan::UnboundedReceiver<String>,
    watch::Sender<bool>,
) {
    let (tx, rx) = chan::unbounded_channel();
    let (ctx, leader) = fake_api::context(true, move |request| {
        let _ = tx.send(request);
        async { Reply::Hold }
    })
    .await;
    (ctx, rx, leader)
}

#[tokio::test]
async fn the_sweep_lists_owned_reports_without_holding_the_report_lock() {
    let (ctx, mut requests, _leader) = stalled_api().await;
    // No live policy: the pass is complete and the sweep lists the reports it owns.
    let finishing = tokio::spawn({
        let ctx = ctx.clone();
        async move { finish(&ctx, false).await }
    });
    let request = tokio::time::timeout(Duration::from_secs(60), requests.recv())
        .await
        .expect("a request within 60 s")
        .expect("a request");
    assert!(request.contains("policyreports"), "{request}");
    assert!(
        ctx.reports.try_lock().is_ok(),
        "reconciles record their results while the API server is slow"
    );
    finishing.abort();
}
