//! Every branch of `POST /validate`, in process through `Router::oneshot`: decisions by
//! enforcement, exceptions, updates, dry runs, the fast path and every kind of bad input.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_operator::health::Readiness;
use guardian_operator::metrics::Metrics;
use guardian_operator::webhook::{WARNING_MAX_CHARS, WebhookState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

fn policy(name: &str, enforcement: &str, rules: &[&str]) -> GuardianPolicy {
    let rules: Vec<Value> = rules.iter().map(|id| json!({ "id": id })).collect();
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": name },
        "spec": { "enforcement": enforcement, "rules": rules }
    }))
    .expect("test policy")
}

fn cel_policy(name: &str, enforcement: &str, expression: &str) -> GuardianPolicy {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": name },
        "spec": {
            "enforcement": enforcement,
            "rules": [{ "cel": { "name": "team-label", "expression": expression,
                                  "message": "needs a team label" } }]
        }
    }))
    .expect("test CEL policy")
}

fn exception(policy: &str, pod: &str) -> GuardianException {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianException",
        "metadata": { "name": "legacy", "namespace": "shop" },
        "spec": {
            "policy": policy,
            "resources": { "names": [pod] },
            "owner": "team-shop",
            "justification": "migrating off privileged mode",
            "expiresAt": "2999-01-01T00:00:00Z"
        }
    }))
    .expect("test exception")
}

fn pod(name: &str, privileged: bool, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": "shop", "labels": { "app": name } },
        "spec": { "containers": [{
            "name": "app",
            "image": image,
            "securityContext": { "privileged": privileged }
        }]}
    })
}

fn review(operation: &str, object: Value, old: Option<Value>, dry_run: bool) -> Value {
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let group = match kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps",
        "Job" | "CronJob" => "batch",
        _ => "",
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": { "group": group, "version": "v1", "kind": kind },
            "resource": { "group": group, "version": "v1", "resource": "pods" },
            "name": object["metadata"]["name"],
            "namespace": "shop",
            "operation": operation,
            "userInfo": { "username": "alice" },
            "object": object,
            "oldObject": old,
            "dryRun": dry_run
        }
    })
}

struct Harness {
    metrics: Metrics,
    state: WebhookState,
}

impl Harness {
    fn new(policies: &[GuardianPolicy], exceptions: &[GuardianException]) -> Harness {
        let store = Arc::new(PolicyStore::new());
        let snapshot = store.rebuild(policies, exceptions);
        assert!(
            snapshot.rejected_policies.is_empty(),
            "{:?}",
            snapshot.rejected_policies
        );
        let metrics = Metrics::new().expect("metrics");
        let state = WebhookState::new(store.clone(), metrics.clone());
        Harness { metrics, state }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = router(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(
            content_type, "application/json",
            "every answer is JSON: {bytes:?}"
        );
        (status, serde_json::from_slice(&bytes).expect("a JSON body"))
    }

    async fn post(&self, body: impl Into<Body>) -> (StatusCode, Value) {
        self.send(
            Request::post("/validate")
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.into())
                .expect("request"),
        )
        .await
    }

    /// Reviews the creation of `object` (not a dry run).
    async fn create(&self, object: Value) -> Value {
        self.decide(review("CREATE", object, None, false)).await
    }

    /// Posts a review and returns its `response`, checking the envelope on the way.
    async fn decide(&self, review: Value) -> Value {
        let (status, body) = self.post(review.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
        assert_eq!(
            body["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        body["response"].clone()
    }

    fn metrics_line(&self, decision: &str, enforcement: &str) -> Option<String> {
        let wanted = format!(
            "kube_guardian_admission_requests_total{{decision=\"{decision}\",enforcement=\"{enforcement}\"}}"
        );
        self.metrics
            .render()
            .lines()
            .find(|l| l.starts_with(&wanted))
            .map(str::to_owned)
    }
}

#[tokio::test]
async fn deny_lists_policy_rule_path_and_remediation_of_each_violation() {
    let h = Harness::new(
        &[policy(
            "no-privileged",
            "Deny",
            &["pss-privileged", "image-tag-pinned"],
        )],
        &[],
    );
    let response = h.create(pod("web", true, "nginx:latest")).await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    assert_eq!(response["status"]["reason"], "Forbidden");
    let message = response["status"]["message"].as_str().expect("a message");
    for expected in [
        "kube-guardian: Pod shop/web violates 1 Deny policy (2 violations)",
        "[no-privileged/pss-privileged] spec.containers[0].securityContext.privileged:",
        "Fix: Remove securityContext.privileged or set it to false.",
        "[no-privileged/image-tag-pinned] spec.containers[0].image:",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} not in:\n{message}"
        );
    }
    assert_eq!(
        h.metrics_line("denied", "deny").as_deref(),
        Some("kube_guardian_admission_requests_total{decision=\"denied\",enforcement=\"deny\"} 1")
    );
    // The time in the evaluation slot is recorded apart from the total.
    let text = h.metrics.render();
    for histogram in ["admission_duration_seconds", "admission_evaluation_seconds"] {
        let count = format!("kube_guardian_{histogram}_count 1");
        assert!(
            text.lines().any(|l| l == count),
            "{count:?} not in:\n{text}"
        );
    }
}

#[tokio::test]
async fn warn_allows_with_one_short_warning_per_violation() {
    let h = Harness::new(
        &[policy("limits", "Warn", &["cpu-limits", "memory-limits"])],
        &[],
    );
    let response = h.create(pod("web", false, "nginx:1.27")).await;
    assert_eq!(response["allowed"], true);
    assert!(response.get("status").is_none());
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("[limits/cpu-limits] "),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("[limits/memory-limits] "),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .all(|w| w.chars().count() <= WARNING_MAX_CHARS)
    );
    assert!(h.metrics_line("warned", "warn").is_some());
}

#[tokio::test]
async fn audit_allows_silently_and_is_counted() {
    let h = Harness::new(
        &[policy("audit-privileged", "Audit", &["pss-privileged"])],
        &[],
    );
    let response = h.create(pod("web", true, "nginx:1.27")).await;
    assert_eq!(response["allowed"], true);
    assert!(response.get("warnings").is_none(), "{response}");
    assert!(
        h.metrics_line("allowed", "audit").is_some(),
        "{}",
        h.metrics.render()
    );
}

#[tokio::test]
async fn the_strictest_matched_enforcement_labels_the_metric() {
    let h = Harness::new(
        &[
            policy("audit", "Audit", &["cpu-limits"]),
            policy("deny", "Deny", &["pss-privileged"]),
        ],
        &[],
    );
    let response = h.create(pod("web", false, "nginx:1.27")).await;
    assert_eq!(response["allowed"], true);
    assert!(
        h.metrics_line("allowed", "deny").is_some(),
        "{}",
        h.metrics.render()
    );
}

#[tokio::test]
async fn an_exception_lets_the_resource_in() {
    let h = Harness::new(
        &[policy("no-privileged", "Deny", &["pss-privileged"])],
        &[exception("no-privileged", "legacy-*")],
    );
    let excepted = h.create(pod("legacy-db", true, "nginx:1.27")).await;
    assert_eq!(excepted["allowed"], true, "{excepted}");
    assert!(
        excepted.get("warnings").is_none(),
        "excepted findings do not warn: {excepted}"
    );
    let other = h.create(pod("web", true, "nginx:1.27")).await;
    assert_eq!(
        other["allowed"], false,
        "the exception covers only its resources"
    );
}

#[tokio::test]
async fn update_allows_a_pre_existing_violation_but_denies_a_new_one() {
    let h = Harness::new(
        &[policy(
            "strict",
            "Deny",
            &["pss-privileged", "image-tag-pinned"],
        )],
        &[],
    );
    let old = pod("web", true, "nginx:1.27");

    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("frontend");
    let response = h
        .decide(review("UPDATE", relabelled, Some(old.clone()), false))
        .await;
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = response["warnings"].to_string();
    assert!(
        warnings.contains("[strict/pss-privileged] pre-existing"),
        "{warnings}"
    );

    let retagged = pod("web", true, "nginx:latest");
    let response = h.decide(review("UPDATE", retagged, Some(old), false)).await;
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().expect("message");
    assert!(message.contains("image-tag-pinned"), "{message}");
    assert!(
        !message.contains("pss-privileged"),
        "old violations are not listed: {message}"
    );

    // The same change as a CREATE is judged on everything.
    let response = h.create(pod("web", true, "nginx:1.27")).await;
    assert_eq!(response["allowed"], false);
}

#[tokio::test]
async fn update_judges_a_failure_after_an_error_on_the_old_object_as_new() {
    // Errors on a Pod without a `team` label, fails on one with an empty `team`.
    let h = Harness::new(
        &[cel_policy(
            "team",
            "Deny",
            "object.metadata.labels.team != ''",
        )],
        &[],
    );
    let old = pod("web", false, "nginx:1.27");
    let mut new = old.clone();
    new["metadata"]["labels"]["team"] = json!("");
    let response = h
        .decide(review("UPDATE", new, Some(old.clone()), false))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .to_string()
            .contains("[team/team-label]"),
        "{response}"
    );
    // An error now after an error before is no pre-existing violation either: fail-closed.
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("web");
    let response = h
        .decide(review("UPDATE", relabelled, Some(old), false))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    // A failure before still vouches for the same failure now.
    let mut failing = pod("web", false, "nginx:1.27");
    failing["metadata"]["labels"]["team"] = json!("");
    let mut failing_relabelled = failing.clone();
    failing_relabelled["metadata"]["labels"]["tier"] = json!("web");
    let response = h
        .decide(review("UPDATE", failing_relabelled, Some(failing), false))
        .await;
    assert_eq!(response["allowed"], true, "{response}");
}

#[tokio::test]
async fn an_ephemeral_container_added_through_the_subresource_is_judged() {
    let h = Harness::new(&[policy("baseline", "Deny", &["pss-privileged"])], &[]);
    let old = pod("web", false, "nginx:1.27");
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{
        "name": "debugger", "image": "busybox:1.36", "targetContainerName": "app",
        "securityContext": { "privileged": true }
    }]);
    // What the API server sends for `kubectl debug`: kind Pod, the subresource, the whole Pod.
    let mut request = review("UPDATE", new, Some(old), false);
    request["request"]["subResource"] = json!("ephemeralcontainers");
    request["request"]["resource"]["resource"] = json!("pods");
    let response = h.decide(request).await;
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].to_string();
    assert!(
        message.contains("spec.ephemeralContainers[0].securityContext.privileged"),
        "{message}"
    );
}

#[tokio::test]
async fn nothing_is_admitted_before_the_policies_are_loaded() {
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let loaded = Readiness::new();
    let state = h.state.clone().with_loaded(loaded.clone());
    let send = |body: Value| {
        let state = state.clone();
        async move {
            let response = router(state)
                .oneshot(
                    Request::post("/validate")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body.to_string()))
                        .expect("request"),
                )
                .await
                .expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).expect("JSON"),
            )
        }
    };
    // Not a compliant Pod, nor a violating one, nor a kind no policy judges: no decision at all.
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "c", "namespace": "shop" }, "data": {}
    });
    for object in [
        pod("web", false, "nginx:1.27"),
        pod("web", true, "nginx:1.27"),
        config_map,
    ] {
        let (status, body) = send(review("CREATE", object, None, false)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.get("response").is_none(), "no decision: {body}");
        assert!(body["message"].to_string().contains("not loaded"), "{body}");
    }
    loaded.set_ready();
    let (status, body) = send(review(
        "CREATE",
        pod("web", true, "nginx:1.27"),
        None,
        false,
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["allowed"], false, "{body}");
    let (status, body) = send(review(
        "CREATE",
        pod("web", false, "nginx:1.27"),
        None,
        false,
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["allowed"], true, "{body}");
}

#[tokio::test]
async fn dry_run_is_decided_the_same_but_not_counted() {
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let response = h
        .decide(review("CREATE", pod("web", true, "nginx:1.27"), None, true))
        .await;
    assert_eq!(response["allowed"], false);
    assert!(
        h.metrics_line("denied", "deny").is_none(),
        "{}",
        h.metrics.render()
    );
}

#[tokio::test]
async fn a_cel_rule_that_cannot_be_evaluated_fails_closed_under_deny() {
    // `object.metadata.labels.team` errors (no such key) on a Pod without that label.
    let h = Harness::new(
        &[cel_policy(
            "team",
            "Deny",
            "object.metadata.labels.team != ''",
        )],
        &[],
    );
    let response = h.create(pod("web", false, "nginx:1.27")).await;
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().expect("message");
    assert!(message.contains("could not be evaluated"), "{message}");
    assert!(message.contains("fails closed"), "{message}");

    let h = Harness::new(
        &[cel_policy(
            "team",
            "Warn",
            "object.metadata.labels.team != ''",
        )],
        &[],
    );
    let response = h.create(pod("web", false, "nginx:1.27")).await;
    assert_eq!(response["allowed"], true, "under Warn an error only warns");
    assert!(
        response["warnings"]
            .to_string()
            .contains("could not be evaluated")
    );
}

#[tokio::test]
async fn kinds_and_operations_no_policy_judges_are_allowed() {
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "c", "namespace": "shop" }, "data": {}
    });
    let response = h.create(config_map).await;
    assert_eq!(response["allowed"], true);

    let response = h
        .decide(review(
            "DELETE",
            pod("web", true, "nginx:1.27"),
            None,
            false,
        ))
        .await;
    assert_eq!(response["allowed"], true, "DELETE is not judged");

    // No policies at all: allowed without evaluation.
    let empty = Harness::new(&[], &[]);
    let response = empty.create(pod("web", true, "nginx:1.27")).await;
    assert_eq!(response["allowed"], true);
}

#[tokio::test]
async fn every_workload_kind_is_judged() {
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let spec = json!({ "containers": [{ "name": "app", "image": "nginx:1.27",
                                         "securityContext": { "privileged": true } }] });
    let template = json!({ "metadata": { "labels": { "app": "x" } }, "spec": spec });
    let objects = [
        ("apps/v1", "Deployment", json!({ "template": template })),
        ("apps/v1", "StatefulSet", json!({ "template": template })),
        ("apps/v1", "DaemonSet", json!({ "template": template })),
        ("apps/v1", "ReplicaSet", json!({ "template": template })),
        ("batch/v1", "Job", json!({ "template": template })),
        (
            "batch/v1",
            "CronJob",
            json!({ "schedule": "* * * * *",
                                         "jobTemplate": { "spec": { "template": template } } }),
        ),
    ];
    for (api_version, kind, spec) in objects {
        let object = json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": { "name": "w", "namespace": "shop" }, "spec": spec
        });
        let response = h.create(object).await;
        assert_eq!(response["allowed"], false, "{kind}: {response}");
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_json_error() {
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let (status, body) = h.post("{ not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("response").is_none(), "no decision: {body}");
    assert_eq!(body["code"], 400);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("not an AdmissionReview")
    );
    assert!(h.metrics_line("error", "none").is_some());
}

#[tokio::test]
async fn wrong_api_version_or_kind_is_a_400() {
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let mut v1beta1 = review("CREATE", pod("web", false, "nginx:1.27"), None, false);
    v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let (status, body) = h.post(v1beta1.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("admission.k8s.io/v1beta1")
    );

    assert!(body.get("response").is_none(), "no decision: {body}");

    let mut wrong_kind = review("CREATE", pod("web", false, "nginx:1.27"), None, false);
    wrong_kind["kind"] = json!("Pod");
    let (status, body) = h.post(wrong_kind.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("response").is_none(), "no decision: {body}");

    let mut no_request = review("CREATE", pod("web", false, "nginx:1.27"), None, false);
    no_request["request"] = Value::Null;
    let (status, body) = h.post(no_request.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("response").is_none(), "no decision: {body}");
}

#[tokio::test]
async fn odd_and_wrongly_typed_inputs_are_refused_never_allowed() {
    // Only a rule that reads the containers: nothing else would deny these objects, so an input
    // read leniently (a wrongly typed field read as absent) would be allowed.
    let h = Harness::new(&[policy("no-privileged", "Deny", &["pss-privileged"])], &[]);
    let base = || review("CREATE", pod("web", true, "nginx:1.27"), None, false);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut weird_object = base();
    weird_object["request"]["object"] = json!("a string");
    let mut no_object = base();
    no_object["request"]["object"] = Value::Null;
    // The privileged container in a map instead of a list: invisible to a lenient reader.
    let mut containers_as_map = base();
    containers_as_map["request"]["object"]["spec"]["containers"] = json!({ "app": { "name": "app", "image": "nginx:1.27",
                          "securityContext": { "privileged": true } } });
    let mut privileged_as_string = base();
    privileged_as_string["request"]["object"]["spec"]["containers"][0]["securityContext"]["privileged"] =
        json!("true");
    let mut spec_as_list = base();
    spec_as_list["request"]["object"]["spec"] = json!([]);
    // The request says Pod, the object is something else the engine does not judge.
    let mut other_kind = base();
    other_kind["request"]["object"]["kind"] = json!("ConfigMap");
    let mut no_kind = base();
    no_kind["request"]["object"]
        .as_object_mut()
        .expect("an object")
        .remove("kind");
    let mut uid_as_number = base();
    uid_as_number["request"]["uid"] = json!(42);
    let mut operation_as_list = base();
    operation_as_list["request"]["operation"] = json!(["CREATE"]);
    let mut old_as_string = review(
        "UPDATE",
        pod("web", true, "nginx:1.27"),
        Some(pod("web", true, "nginx:1.27")),
        false,
    );
    old_as_string["request"]["oldObject"] = json!("a string");
    let bodies = [
        ("deep nesting", deep),
        ("empty", String::new()),
        ("null", "null".to_owned()),
        ("a list", "[]".to_owned()),
        ("NUL", "\u{0}".to_owned()),
        ("object is a string", weird_object.to_string()),
        ("object is null", no_object.to_string()),
        ("containers is a map", containers_as_map.to_string()),
        ("privileged is a string", privileged_as_string.to_string()),
        ("spec is a list", spec_as_list.to_string()),
        ("object of another kind", other_kind.to_string()),
        ("object without kind", no_kind.to_string()),
        ("uid is a number", uid_as_number.to_string()),
        ("operation is a list", operation_as_list.to_string()),
    ];
    for (what, body) in bodies {
        let (status, answer) = h.post(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert!(
            answer.get("response").is_none(),
            "{what}: a refused review carries no decision: {answer}"
        );
        assert_eq!(answer["code"], 400, "{what}: {answer}");
    }
    // A malformed old object vouches for nothing: the violation is judged as new.
    let response = h.decide(old_as_string).await;
    assert_eq!(response["allowed"], false, "{response}");
    // The same review, well typed, gets a decision: the refusals above are about the types.
    let response = h.decide(base()).await;
    assert_eq!(response["allowed"], false, "{response}");
    let response = h.create(pod("web", false, "nginx:1.27")).await;
    assert_eq!(response["allowed"], true, "{response}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let h = Harness::new(&[], &[]);
    let body = vec![b' '; guardian_operator::webhook::DEFAULT_BODY_LIMIT + 1];
    let (status, body) = h.post(body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], 413);
}

#[tokio::test]
async fn other_methods_are_a_405_and_other_paths_a_404() {
    let h = Harness::new(&[], &[]);
    let (status, body) = h
        .send(
            Request::get("/validate")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], 405);
    let (status, _) = h
        .send(
            Request::post("/mutate")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out_with_a_503() {
    let h = Harness::new(&[], &[]);
    let state = h
        .state
        .clone()
        .with_limits(1024, Duration::from_millis(200));
    let stalled = Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    // Bounded far above the 200 ms under test: if the request timeout regresses, the body never
    // arrives and the test must fail, not hang the run.
    let generous = Duration::from_secs(60);
    let response = tokio::time::timeout(
        generous,
        router(state).oneshot(Request::post("/validate").body(stalled).expect("request")),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer to a stalled body within {generous:?}"))
    .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = tokio::time::timeout(
        generous,
        axum::body::to_bytes(response.into_body(), usize::MAX),
    )
    .await
    .unwrap_or_else(|_| panic!("the 503's body not read within {generous:?}"))
    .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(body["code"], 503);
}

/// A Pod whose one container adds `caps` and binds `host_ports`.
fn pod_with(caps: &[&str], host_ports: &[u16]) -> Value {
    let ports: Vec<Value> = host_ports
        .iter()
        .map(|p| json!({ "containerPort": p, "hostPort": p }))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "web", "namespace": "shop", "labels": { "app": "web" } },
        "spec": { "containers": [{
            "name": "app",
            "image": "nginx:1.27",
            "ports": ports,
            "securityContext": { "capabilities": { "add": caps } }
        }]}
    })
}

#[tokio::test]
async fn update_denies_a_new_capability_or_host_port_next_to_an_old_one() {
    let h = Harness::new(
        &[policy(
            "strict",
            "Deny",
            &["pss-capabilities-baseline", "pss-host-ports"],
        )],
        &[],
    );
    let old = pod_with(&["SYS_ADMIN"], &[8080]);

    // An unrelated change keeps the old violations: warned, allowed.
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("frontend");
    let response = h
        .decide(review("UPDATE", relabelled, Some(old.clone()), false))
        .await;
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = response["warnings"].to_string();
    assert!(
        warnings.contains("[strict/pss-capabilities-baseline] pre-existing"),
        "{warnings}"
    );
    assert!(
        warnings.contains("[strict/pss-host-ports] pre-existing"),
        "{warnings}"
    );

    // A second capability is a new violation, whether appended or put first.
    for caps in [["SYS_ADMIN", "NET_RAW"], ["NET_RAW", "SYS_ADMIN"]] {
        let response = h
            .decide(review(
                "UPDATE",
                pod_with(&caps, &[8080]),
                Some(old.clone()),
                false,
            ))
            .await;
        assert_eq!(response["allowed"], false, "{caps:?}: {response}");
        let message = response["status"]["message"].as_str().expect("message");
        assert!(message.contains("NET_RAW"), "{message}");
    }

    // So is another host port.
    let response = h
        .decide(review(
            "UPDATE",
            pod_with(&["SYS_ADMIN"], &[8080, 9090]),
            Some(old.clone()),
            false,
        ))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().expect("message");
    assert!(message.contains("9090"), "{message}");
    assert!(
        !message.contains("port 8080"),
        "old violations are not listed: {message}"
    );

    // Reordering containers still keeps an old violation old.
    let mut two = old.clone();
    two["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .insert(0, json!({ "name": "side", "image": "busybox:1.36" }));
    let response = h.decide(review("UPDATE", two, Some(old), false)).await;
    assert_eq!(response["allowed"], true, "{response}");
}
