//! Fuzzes the webhook's pure entry point, `webhook::review::review`: arbitrary bytes as an
//! AdmissionReview body, and (when the bytes are JSON) the same value as the object of a CREATE
//! and an UPDATE, so the evaluation itself sees hostile objects, not only the parser.
//!
//! Invariants: never a panic; malformed input (including an object that is not a well-typed
//! workload of the request's kind) is a 400; every answer echoes the uid, encodes as
//! an `admission.k8s.io/v1` AdmissionReview, and a denial carries a 403 status with a message.

#![no_main]

use std::sync::LazyLock;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::{EvalContext, PolicySet};
use guardian_operator::webhook::review::{Reviewed, review};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static POLICIES: LazyLock<PolicySet> = LazyLock::new(|| {
    let policy = |v: Value| serde_json::from_value::<GuardianPolicy>(v).expect("fuzz policy");
    let policies = [
        policy(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": { "name": "restricted" },
            "spec": { "enforcement": "Deny", "profiles": ["pss-restricted"] }
        })),
        policy(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": { "name": "practices" },
            "spec": { "enforcement": "Warn", "profiles": ["best-practices"],
                      "match": { "objectSelector": { "matchExpressions": [
                          { "key": "tier", "operator": "NotIn", "values": ["batch"] }] } } }
        })),
        policy(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
            "metadata": { "name": "ownership" },
            "spec": { "enforcement": "Deny", "match": { "namespaces": ["shop"] }, "rules": [{ "cel": {
                "name": "team-label",
                "expression": "object.metadata.labels.team != '' && size(object.spec) > 0",
                "message": "every workload names its team" } }] }
        })),
    ];
    let exception: GuardianException = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianException",
        "metadata": { "name": "legacy", "namespace": "shop" },
        "spec": { "policy": "restricted", "resources": { "names": ["legacy-*"], "container": "app" },
                  "owner": "fuzz", "justification": "fuzz", "expiresAt": "2999-01-01T00:00:00Z" }
    }))
    .expect("fuzz exception");
    PolicySet::compile(&policies, &[exception]).expect("fuzz policies compile")
});

fn check(body: &[u8], ctx: &EvalContext<'_>) -> Option<Reviewed> {
    match review(body, &POLICIES, ctx) {
        Ok(reviewed) => {
            let encoded: Value =
                serde_json::from_slice(&reviewed.to_json().expect("a response always encodes"))
                    .expect("the response is JSON");
            assert_eq!(encoded["apiVersion"], "admission.k8s.io/v1");
            assert_eq!(encoded["kind"], "AdmissionReview");
            assert_eq!(
                encoded["response"]["uid"].as_str(),
                Some(reviewed.response.uid.as_str())
            );
            if !reviewed.response.allowed {
                let status = reviewed
                    .response
                    .status
                    .as_ref()
                    .expect("a denial has a status");
                assert_eq!(status.code, 403);
                assert!(!status.message.is_empty());
            }
            Some(reviewed)
        }
        Err(error) => {
            assert_eq!(error.status.as_u16(), 400, "{error}");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let ctx = EvalContext::offline();
    check(data, &ctx);
    let Ok(object) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if object.is_null() {
        return;
    }
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Pod")
        .to_owned();
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(g, _)| g)
        .to_owned();
    for (operation, old) in [("CREATE", Value::Null), ("UPDATE", object.clone())] {
        let wrapped = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": { "uid": "fuzz", "kind": { "group": group, "version": "v1", "kind": kind },
                         "namespace": "shop", "name": "legacy-web", "operation": operation,
                         "object": object, "oldObject": old }
        });
        let body = serde_json::to_vec(&wrapped).expect("re-encodes");
        // Only nesting beyond serde_json's depth limit (the wrapper adds two levels) is refused.
        let Some(reviewed) = check(&body, &ctx) else {
            continue;
        };
        if operation == "UPDATE" {
            // Updating an object to itself introduces no new violation: never denied, unless a
            // rule could not be evaluated (an error on the old object vouches for nothing, so
            // errors fail closed on every update).
            assert!(
                reviewed.response.allowed || reviewed.rule_errors > 0,
                "self-update denied: {:?}",
                reviewed.response
            );
        }
    }
});
