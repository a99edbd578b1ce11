//! Runaway CEL at admission: reviews whose evaluation outlives the request deadline give their
//! evaluation slot back, so a handful of hostile requests cannot starve the reviews behind them.
//! In process through `Router::oneshot`, like `webhook_router.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::GuardianPolicy;
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{WebhookState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

/// As many hostile reviews as there are slots.
const SLOTS: usize = 2;
const DEADLINE: Duration = Duration::from_secs(1);

/// Every iteration scans a 2 MiB annotation for an argument it does not hold: 150,000 scans,
/// seconds of work within the step budget, and one loop, far under the load-time estimate.
const HOSTILE: &str =
    "object.spec.containers[0].args.all(a, !object.metadata.annotations.blob.contains(a))";

fn policy() -> GuardianPolicy {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": "scan" },
        "spec": {
            "enforcement": "Deny",
            "rules": [{ "cel": { "name": "no-y", "expression": HOSTILE, "message": "no y" } }]
        }
    }))
    .expect("test policy")
}

/// A Pod with `args` arguments `y` and a `blob` annotation of `blob` bytes `x`.
fn pod(name: &str, args: usize, blob: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "annotations": { "blob": "x".repeat(blob) }
        },
        "spec": { "containers": [{ "name": "app", "image": "nginx:1.27", "args": vec!["y"; args] }] }
    })
}

fn review(object: Value) -> Vec<u8> {
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": { "group": "", "version": "v1", "kind": "Pod" },
            "resource": { "group": "", "version": "v1", "resource": "pods" },
            "name": object["metadata"]["name"],
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": { "username": "mallory" },
            "object": object
        }
    });
    serde_json::to_vec(&body).expect("a review serialises")
}

/// The normal review's own deadline, sharing the slots: far more than a loaded machine needs to
/// answer it, far less than the hostile evaluations would hold both slots were they not stopped
/// at their deadline (they run to their end 35 s after it in a debug build at load 11).
const NORMAL_DEADLINE: Duration = Duration::from_secs(5);

/// Far above [`DEADLINE`]: the deadline is what is under test, so a review that outlives it
/// must fail the test naming the step instead of hanging the run.
const GENEROUS: Duration = Duration::from_secs(60);

/// Awaits `step`, failing with `what` after [`GENEROUS`].
async fn bounded<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(GENEROUS, step)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done after {GENEROUS:?}"))
}

async fn post(state: WebhookState, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post("/validate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = bounded(
        "the webhook's answer to a review",
        router(state).oneshot(request),
    )
    .await
    .expect("the router is infallible");
    let status = response.status();
    let bytes = bounded(
        "the answer's body",
        axum::body::to_bytes(response.into_body(), usize::MAX),
    )
    .await
    .expect("body");
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

#[tokio::test]
async fn hostile_reviews_past_their_deadline_give_their_slots_back() {
    let store = Arc::new(PolicyStore::new());
    let snapshot = store.rebuild(&[policy()], &[]);
    assert!(
        snapshot.rejected_policies.is_empty(),
        "{:?}",
        snapshot.rejected_policies
    );
    let state = WebhookState::new(store, Metrics::new().expect("metrics"))
        .with_limits(3 * 1024 * 1024, DEADLINE)
        .with_evaluation_slots(SLOTS);

    // Fill every slot with a hostile review; each is answered with a 503 at its deadline.
    let hostile = review(pod("hostile", 150_000, 2 << 20));
    assert!(hostile.len() < 3 * 1024 * 1024, "{} bytes", hostile.len());
    let tasks: Vec<_> = (0..SLOTS)
        .map(|_| tokio::spawn(post(state.clone(), hostile.clone())))
        .collect();
    for task in tasks {
        let (status, body) = bounded("a hostile review's 503", task)
            .await
            .expect("the hostile request task");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }

    // A normal review right behind them gets a slot and its answer within its own deadline:
    // the hostile evaluations stopped when their requests were abandoned. (Its deadline is its
    // own: the hostile reviews' 1 s, which a loaded machine may miss, is not what is tested.)
    let started = Instant::now();
    let normal = state.with_limits(3 * 1024 * 1024, NORMAL_DEADLINE);
    let (status, body) = post(normal, review(pod("normal", 1, 0))).await;
    let waited = started.elapsed();
    assert_eq!(status, StatusCode::OK, "after {waited:?}: {body}");
    assert_eq!(body["response"]["allowed"], json!(true), "{body}");
}
