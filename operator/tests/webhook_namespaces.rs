//! A namespace the cache does not know yet, at admission: waited for once per review, before an
//! evaluation slot is taken, within the request's deadline; then every `namespaceSelector`
//! matches it (fail-closed).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::GuardianPolicy;
use guardian_core::engine::{Labels, NamespaceLabels, NamespaceMap};
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{SharedNamespaces, WebhookState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

/// How long an unknown namespace is waited for in these tests.
const WAIT: Duration = Duration::from_secs(2);
/// The request deadline in these tests: far longer than any wait below, so that half of what
/// is left of it never shortens a wait, and a loaded machine never answers with a 503.
const REQUEST_DEADLINE: Duration = Duration::from_secs(300);

/// A Deny policy on privileged Pods in namespaces labelled `env: prod`.
fn prod_policy(name: &str) -> GuardianPolicy {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": name },
        "spec": {
            "enforcement": "Deny",
            "match": { "namespaceSelector": { "matchLabels": { "env": "prod" } } },
            "rules": [{ "id": "pss-privileged" }]
        }
    }))
    .expect("test policy")
}

fn privileged_pod_review(namespace: &str) -> String {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": { "group": "", "version": "v1", "kind": "Pod" },
            "resource": { "group": "", "version": "v1", "resource": "pods" },
            "name": "web",
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": { "username": "alice" },
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": { "name": "web", "namespace": namespace },
                "spec": { "containers": [{
                    "name": "app",
                    "image": "nginx:1.27",
                    "securityContext": { "privileged": true }
                }]}
            }
        }
    })
    .to_string()
}

/// Knows `prod` (labelled `env: prod`) and `dev`; notes when `ghost` is first asked about.
struct Cache {
    known: NamespaceMap,
    ghost_asked: AtomicBool,
}

impl NamespaceLabels for Cache {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        if namespace == "ghost" {
            self.ghost_asked.store(true, Ordering::SeqCst);
        }
        self.known.with_labels(namespace, check)
    }
}

fn cache() -> Arc<Cache> {
    let label = |env: &str| BTreeMap::from([("env".to_owned(), env.to_owned())]);
    Arc::new(Cache {
        known: NamespaceMap(HashMap::from([
            ("prod".to_owned(), label("prod")),
            ("dev".to_owned(), label("dev")),
        ])),
        ghost_asked: AtomicBool::new(false),
    })
}

fn state(policies: usize, cache: SharedNamespaces) -> WebhookState {
    let store = Arc::new(PolicyStore::new());
    let set: Vec<GuardianPolicy> = (0..policies)
        .map(|i| prod_policy(&format!("prod-{i}")))
        .collect();
    let snapshot = store.rebuild(&set, &[]);
    assert!(snapshot.rejected_policies.is_empty());
    WebhookState::new(store, Metrics::new().expect("metrics"))
        .with_namespaces(cache)
        .with_namespace_wait(WAIT)
        .with_limits(1024 * 1024, REQUEST_DEADLINE)
        .with_evaluation_slots(1)
}

/// Posts a review; the answer's `allowed` (panics on anything but a 200 AdmissionReview).
async fn allowed(state: WebhookState, body: String) -> bool {
    let request = Request::post("/validate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = router(state).oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let review: Value = serde_json::from_slice(&bytes).expect("JSON");
    review["response"]["allowed"]
        .as_bool()
        .expect("an allowed field")
}

#[tokio::test]
async fn an_unknown_namespace_is_waited_for_once_per_review_not_once_per_policy() {
    let state = state(6, cache());
    let started = Instant::now();
    let allowed = allowed(state, privileged_pod_review("ghost")).await;
    let elapsed = started.elapsed();
    assert!(!allowed, "an unknown namespace matches every selector");
    assert!(elapsed >= WAIT, "it was waited for: {elapsed:?}");
    // A wait per policy takes six waits at least (each lasts until its own deadline): 12 s. One
    // wait is 2 s plus the evaluation, which leaves a loaded machine 10 s of slack.
    assert!(
        elapsed < WAIT * 6,
        "waited {elapsed:?} for one unknown namespace under six policies"
    );
}

/// Far longer than a loaded machine needs to answer two reviews: the waiting review is still
/// waiting when they are answered, unless they queued behind it.
const LONG_WAIT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_review_waiting_for_its_namespace_holds_no_evaluation_slot() {
    let cache = cache();
    let state = state(3, cache.clone()).with_namespace_wait(LONG_WAIT);
    let ghost = tokio::spawn(allowed(state.clone(), privileged_pod_review("ghost")));
    let asked_by = Instant::now() + Duration::from_secs(60);
    while !cache.ghost_asked.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < asked_by,
            "the ghost review never looked up its namespace"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The only slot is free: a review of a known namespace is answered while the other waits.
    // Queued behind a slot held through the wait, they would be answered only after it ended,
    // with the ghost review answered first. (Judged by order, not by a time: a loaded machine
    // may take seconds to answer them.)
    assert!(!allowed(state.clone(), privileged_pod_review("prod")).await);
    assert!(allowed(state, privileged_pod_review("dev")).await);
    assert!(!ghost.is_finished(), "served only after the waiting review");
    ghost.abort();
}

#[tokio::test]
async fn the_wait_leaves_the_request_time_to_be_evaluated() {
    // A request deadline shorter than the wait: the review is still answered, not a 503 (what
    // the deadline gives once it passed, so a 200 came within it). The wait takes half of it,
    // which leaves the evaluation 10 s, plenty on a loaded machine.
    let state = state(2, cache())
        .with_namespace_wait(Duration::from_secs(300))
        .with_limits(1024 * 1024, Duration::from_secs(20));
    assert!(!allowed(state, privileged_pod_review("ghost")).await);
}
