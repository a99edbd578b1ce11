//! A fake API server for unit tests: a handler reads each request (its first bytes, the request
//! line and headers) and says how to answer it.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::context::Context;

/// How the fake API server answers one request.
pub(crate) enum Reply {
    /// This status line (`"200 OK"`) and JSON body, closing the connection.
    Answer(&'static str, String),
    /// Nothing, ever: the request is taken and never answered.
    Hold,
    /// A watch's answer begun without an event, held until the client closes it; then runs the
    /// closure.
    Watch(Option<Box<dyn FnOnce() + Send>>),
}

/// [`Reply::Answer`] with a borrowed body.
pub(crate) fn answer(status: &'static str, body: &str) -> Reply {
    Reply::Answer(status, body.to_owned())
}

/// A context served by a fake API server answering each request as `handler` says; it leads
/// while the returned sender says so (`leading` at first).
pub(crate) async fn context<F, Fut>(
    leading: bool,
    handler: F,
) -> (Arc<Context>, watch::Sender<bool>)
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                match handler(request).await {
                    Reply::Answer(status, body) => {
                        let response = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    Reply::Hold => {
                        // Held open until the client closes it.
                        while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                    }
                    Reply::Watch(closed) => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                        let _ = socket.write_all(head.as_bytes()).await;
                        while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                        if let Some(closed) = closed {
                            closed();
                        }
                    }
                }
            });
        }
    });
    let client =
        kube::Client::try_from(kube::Config::new(url.parse().expect("url"))).expect("client");
    let (leader, rx) = watch::channel(leading);
    (Context::offline(client, rx), leader)
}
