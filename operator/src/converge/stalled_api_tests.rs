//! The report pass against an API server that answers nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc as chan, watch};

use super::finish;
use crate::context::Context;

/// A leader's context whose API server takes every request and answers none; the first
/// bytes of each request (its request line) go to the receiver.
async fn stalled_api() -> (
    Arc<Context>,
    chan::UnboundedReceiver<String>,
    watch::Sender<bool>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = chan::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            loop {
                let _ = socket.readable().await;
                match socket.try_read(&mut buf) {
                    Ok(n) => {
                        let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            held.push(socket);
        }
    });
    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    let (leader_tx, leader) = watch::channel(true);
    (Context::offline(client, leader), rx, leader_tx)
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
