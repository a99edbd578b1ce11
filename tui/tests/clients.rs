//! The console's kube clients: one per cluster, shared by every read (the detail pane's GET),
//! so a second read reuses the first one's connection instead of making a client again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use guardian_cluster::Target;
use guardian_core::model::ResourceRef;
use guardian_tui::action::Action;
use guardian_tui::clients::Clients;
use guardian_tui::fetch::Fetcher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const DEPLOYMENT: &str =
    r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"}}"#;

/// An HTTP/1.1 server answering every request with the Deployment, keeping connections open;
/// returns its address and how many connections it accepted.
async fn server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    // One answer per request head received (GETs carry no body).
                    while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        request.drain(..end + 4);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{DEPLOYMENT}",
                            DEPLOYMENT.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (address, accepted)
}

#[tokio::test]
async fn reads_of_one_cluster_share_its_client_and_connection() {
    let (address, accepted) = server().await;
    let config = kube::Config::new(address.parse().expect("url"));
    let clients = Clients::new(vec![Target::from_config("fake", config)]);
    assert_eq!(clients.context(0), Some("fake"));
    let (results, mut answers) = mpsc::channel(4);
    let fetcher = Fetcher::new(clients.clone(), results);
    let web = Arc::new(ResourceRef {
        api_version: "apps/v1".to_owned(),
        kind: "Deployment".to_owned(),
        namespace: Some("shop".to_owned()),
        name: "web".to_owned(),
    });
    for read in 1..=3 {
        fetcher.request(0, web.clone());
        let answer = tokio::time::timeout(Duration::from_secs(60), answers.recv())
            .await
            .expect("an answer within 60 s")
            .expect("the fetcher answers");
        let Action::Object(object) = answer else {
            panic!("an object answer, got {answer:?}");
        };
        let text = object.text.expect("the object reads");
        assert!(text.contains("name: web"), "read {read}: {text}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "three reads over the one client's kept-alive connection"
    );

    let Err(err) = clients.get(5).await else {
        panic!("no cluster 5");
    };
    assert!(err.to_string().contains("follows 1"), "{err}");
}
