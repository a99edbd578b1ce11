//! The health port: liveness, readiness before and after the caches sync, and the metrics text.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guardian_operator::health::{self, HealthServer, Readiness};
use guardian_operator::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn get(
    router: &axum::Router,
    path: &str,
) -> Result<(StatusCode, String, String), Box<dyn std::error::Error>> {
    let request = Request::get(path).body(Body::empty())?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    Ok((status, content_type, String::from_utf8(body.to_vec())?))
}

#[tokio::test]
async fn healthz_answers_while_running() -> TestResult {
    let router = health::router(Readiness::new(), Metrics::new()?);
    let (status, _, body) = get(&router, "/healthz").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok");
    Ok(())
}

#[tokio::test]
async fn readyz_is_503_until_caches_sync() -> TestResult {
    let readiness = Readiness::new();
    let router = health::router(readiness.clone(), Metrics::new()?);

    let (status, content_type, body) = get(&router, "/readyz").await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("caches")),
        "{body}"
    );

    readiness.set_ready();
    let (status, _, _) = get(&router, "/readyz").await?;
    assert_eq!(status, StatusCode::OK);

    readiness.set_not_ready();
    let (status, _, _) = get(&router, "/readyz").await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_leader_gauge() -> TestResult {
    let metrics = Metrics::new()?;
    metrics.set_leader(true);
    metrics.reconcile("success", Duration::from_millis(3));
    let router = health::router(Readiness::new(), metrics);

    let (status, content_type, body) = get(&router, "/metrics").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4");
    assert!(body.contains("kube_guardian_leader 1"), "{body}");
    for line in body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(is_sample(line), "not a Prometheus sample line: {line:?}");
    }
    Ok(())
}

/// `name{label="value",...} value`, the labels optional.
fn is_sample(line: &str) -> bool {
    let (series, value) = match line.rsplit_once(' ') {
        Some(parts) => parts,
        None => return false,
    };
    let value_ok = value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value);
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => match rest.strip_suffix('}') {
            Some(labels) => (name, Some(labels)),
            None => return false,
        },
        None => (series, None),
    };
    let name_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let labels_ok = labels.is_none_or(|labels| {
        labels.split(',').filter(|l| !l.is_empty()).all(|pair| {
            pair.split_once('=').is_some_and(|(k, v)| {
                !k.is_empty() && v.len() >= 2 && v.starts_with('"') && v.ends_with('"')
            })
        })
    });
    value_ok && name_ok && labels_ok
}

/// A raw HTTP/1.1 GET, enough to exercise the real listener without an HTTP client dependency;
/// bounded by a generous 60 s, so a server that never answers fails the test instead of hanging.
async fn raw_get(addr: SocketAddr, path: &str) -> Result<String, Box<dyn std::error::Error>> {
    let deadline = std::time::Duration::from_secs(60);
    let get = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    tokio::time::timeout(deadline, get)
        .await
        .map_err(|_| format!("GET {path} on {addr}: no complete answer within {deadline:?}"))?
        .map_err(Into::into)
}

#[tokio::test]
async fn serves_on_a_bound_port_and_shuts_down_gracefully() -> TestResult {
    let server = HealthServer::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = health::router(Readiness::new(), Metrics::new()?);
    let serving = tokio::spawn(server.serve(router, async {
        let _ = stopped.await;
    }));

    let response = raw_get(addr, "/healthz").await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = raw_get(addr, "/readyz").await?;
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(60), serving).await???;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
    Ok(())
}
