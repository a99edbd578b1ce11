//! AdmissionReview in, decision out: a pure function of the request body, the compiled policies
//! and the evaluation context. No I/O and no clock of its own, so the router, the tests and the
//! fuzz target all run exactly this.
//!
//! Decisions, by the enforcement of the policy a finding comes from:
//! - Deny: a failing finding denies (403 with every violation listed). A finding whose rule
//!   could not be evaluated (a CEL runtime error) also denies: **fail-closed**, as Kubernetes'
//!   own ValidatingAdmissionPolicy does with its default `failurePolicy: Fail`. Failing open would
//!   admit exactly the objects a broken rule was written to stop, silently; failing closed is
//!   loud, names the rule, and is fixed by correcting the rule or adding an exception.
//! - Warn: allowed, one short warning per failing finding.
//! - Audit: allowed; only counted (the controller's reports carry the details).
//!
//! Excepted findings never deny or warn. On UPDATE, a Deny violation that the old object already
//! had (same policy, rule, container, field and offending value) does not deny — editing an unrelated field of a
//! legacy object must not be blocked — but it is still warned about; a new violation denies.
//! Only a *failure* on the old object counts as "already had": a rule that could not be
//! evaluated on the old object (an `error`) says nothing about it, so a failure or an error on
//! the new object is judged as new.
//!
//! The object must have the typed shape of its kind ([`super::shape`]); a review of a workload
//! kind whose object does not (or that the engine cannot view) is a 400, never "allowed".

use std::collections::HashSet;

use guardian_core::crd::Enforcement;
use guardian_core::engine::{EvalContext, Evaluation, PolicyInfo, PolicySet};
use guardian_core::model::{Finding, Outcome};
use serde_json::Value;

use super::admission::{
    API_VERSION, AdmissionRequest, AdmissionResponse, KIND, ReviewRequest, ReviewResponse, Status,
};
use super::api_error::ApiError;
use super::{message, shape};

/// What the webhook decided, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Warned,
    Denied,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Warned => "warned",
            Decision::Denied => "denied",
        }
    }
}

/// One answered review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub response: AdmissionResponse,
    pub decision: Decision,
    /// The strictest enforcement among the policies that matched the object.
    pub enforcement: Option<Enforcement>,
    /// The request was a dry run: answered the same, but not counted as an admission.
    pub dry_run: bool,
    /// Findings whose rule could not be evaluated (reported as an error metric).
    pub rule_errors: usize,
    /// `Kind namespace/name` of the object, for logs.
    pub subject: String,
}

impl Reviewed {
    fn allowed(uid: String, dry_run: bool, subject: String) -> Self {
        Reviewed {
            response: AdmissionResponse {
                uid,
                allowed: true,
                status: None,
                warnings: Vec::new(),
            },
            decision: Decision::Allowed,
            enforcement: None,
            dry_run,
            rule_errors: 0,
            subject,
        }
    }

    /// The metric label of [`Reviewed::enforcement`]: audit, warn, deny or none.
    pub fn enforcement_label(&self) -> &'static str {
        enforcement_label(self.enforcement)
    }

    /// The AdmissionReview document to send back.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&ReviewResponse::new(self.response.clone()))
    }
}

fn enforcement_label(enforcement: Option<Enforcement>) -> &'static str {
    enforcement.map_or("none", Enforcement::label)
}

/// Parses an AdmissionReview body and decides it. Malformed input is an [`ApiError`] (400), never
/// a panic: serde_json bounds nesting depth, and nothing here indexes or unwraps.
pub fn review(body: &[u8], set: &PolicySet, ctx: &EvalContext<'_>) -> Result<Reviewed, ApiError> {
    let review: ReviewRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not an AdmissionReview: {e}")))?;
    if review.api_version != API_VERSION || review.kind != KIND {
        return Err(ApiError::bad_request(format!(
            "expected apiVersion {API_VERSION} and kind {KIND}, got apiVersion {:?} and kind {:?}",
            review.api_version, review.kind
        )));
    }
    let request = review
        .request
        .ok_or_else(|| ApiError::bad_request("the AdmissionReview has no request"))?;
    decide(request, set, ctx)
}

/// The workload kinds the engine evaluates, by API group; anything else is allowed unread.
fn is_workload_kind(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Pod")
            | (
                "apps",
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
            )
            | ("batch", "Job" | "CronJob")
    )
}

/// Decides one parsed request.
fn decide(
    request: AdmissionRequest,
    set: &PolicySet,
    ctx: &EvalContext<'_>,
) -> Result<Reviewed, ApiError> {
    let AdmissionRequest {
        uid,
        kind,
        name,
        namespace,
        operation,
        object,
        old_object,
        dry_run,
        ..
    } = request;
    let dry_run = dry_run.unwrap_or(false);
    let subject = message::describe(
        &kind.kind,
        namespace.as_deref(),
        name.as_deref().unwrap_or(""),
    );
    let update = match operation.as_str() {
        "CREATE" => false,
        "UPDATE" => true,
        // DELETE and CONNECT carry nothing the rules judge.
        _ => return Ok(Reviewed::allowed(uid, dry_run, subject)),
    };
    // The fast path: a kind no policy can match, or no policy at all, is allowed without
    // looking at the object.
    if !is_workload_kind(&kind.group, &kind.kind) || set.policies().next().is_none() {
        return Ok(Reviewed::allowed(uid, dry_run, subject));
    }
    let Some(mut object) = object else {
        return Err(ApiError::bad_request(format!(
            "request.object is missing for {operation} of {}",
            kind.kind
        )));
    };
    shape::check(&kind.kind, &object).map_err(|e| {
        ApiError::bad_request(format!(
            "request.object is not a valid {} for {operation}: {e}",
            kind.kind
        ))
    })?;
    fill_identity(&mut object, namespace.as_deref(), name.as_deref());

    let (matched_policies, findings) = match set.evaluate(&object, ctx) {
        Evaluation::Evaluated {
            matched_policies,
            findings,
            ..
        } => (matched_policies, findings),
        // A workload kind the engine cannot view is malformed input, not a pass.
        Evaluation::Skipped(why) => {
            return Err(ApiError::bad_request(format!(
                "request.object cannot be evaluated as a {}: {why}",
                kind.kind
            )));
        }
    };
    let infos: Vec<PolicyInfo<'_>> = set.policies().collect();
    let matched: Vec<PolicyInfo<'_>> = matched_policies
        .iter()
        .filter_map(|&i| infos.get(i).copied())
        .collect();
    let enforcement_of = |policy: &str| {
        matched
            .iter()
            .find(|p| p.name == policy)
            .map(|p| p.enforcement)
    };
    let enforcement = matched.iter().map(|p| p.enforcement).max();

    let mut blocking: Vec<&Finding> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut rule_errors = 0;
    for f in findings.iter().filter(|f| f.is_failure()) {
        if f.outcome == Outcome::Error {
            rule_errors += 1;
        }
        match enforcement_of(&f.policy) {
            Some(Enforcement::Deny) => blocking.push(f),
            Some(Enforcement::Warn) => warnings.push(message::warning(f, "")),
            Some(Enforcement::Audit) | None => {}
        }
    }

    // The old object is evaluated only when something would be denied: the common update
    // (nothing to deny) costs one evaluation, not two.
    if update
        && !blocking.is_empty()
        && let Some(mut old) = old_object
    {
        fill_identity(&mut old, namespace.as_deref(), name.as_deref());
        let existing = if shape::check(&kind.kind, &old).is_ok() {
            existing_violations(set, &old, ctx)
        } else {
            // A malformed old object vouches for nothing.
            HashSet::new()
        };
        // Only a failure can be pre-existing: an error on the new object is judged fresh.
        let (pre_existing, new): (Vec<&Finding>, Vec<&Finding>) = blocking
            .into_iter()
            .partition(|f| f.outcome == Outcome::Fail && existing.contains(&ViolationKey::of(f)));
        for f in pre_existing {
            warnings.push(message::warning(f, "pre-existing, allowed on update: "));
        }
        blocking = new;
    }

    message::cap_warnings(&mut warnings);
    let (decision, status) = if !blocking.is_empty() {
        let text = message::denial(&subject, &blocking);
        (Decision::Denied, Some(Status::forbidden(text)))
    } else if !warnings.is_empty() {
        (Decision::Warned, None)
    } else {
        (Decision::Allowed, None)
    };
    Ok(Reviewed {
        response: AdmissionResponse {
            uid,
            allowed: status.is_none(),
            status,
            warnings,
        },
        decision,
        enforcement,
        dry_run,
        rule_errors,
        subject,
    })
}

/// The API server fills `metadata.namespace` of a namespaced object from the request path, but
/// a webhook may see it before that (and `name` is empty under `generateName`): take both from
/// the request so matching, exceptions and messages see the real values.
fn fill_identity(object: &mut Value, namespace: Option<&str>, name: Option<&str>) {
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    for (field, value) in [("namespace", namespace), ("name", name)] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            let missing = meta
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if missing {
                meta.insert(field.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
}

/// What makes two findings "the same violation" across an update: policy, rule, container,
/// field and message. For a container's finding only the container's own list index is dropped
/// from the path (the container is keyed by its name), so reordering containers does not turn an
/// old violation into a new one; every other index stays, and the message names the offending
/// value, so a second added capability or another host port is a new violation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ViolationKey {
    policy: String,
    rule: String,
    container: Option<String>,
    path: String,
    message: String,
}

impl ViolationKey {
    fn of(f: &Finding) -> Self {
        let path = if f.container.is_some() {
            strip_container_index(&f.path)
        } else {
            f.path.clone()
        };
        ViolationKey {
            policy: f.policy.to_string(),
            rule: f.rule.to_string(),
            container: f.container.clone(),
            path,
            message: f.message.clone(),
        }
    }
}

/// The lists whose index names a container.
const CONTAINER_LISTS: [&str; 3] = ["containers[", "initContainers[", "ephemeralContainers["];

/// `spec.containers[2].ports[1].hostPort` → `spec.containers[].ports[1].hostPort`: only the
/// index right after a container list goes.
fn strip_container_index(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let (head, tail) = rest.split_at(open + 1);
        out.push_str(head);
        let is_container_list = CONTAINER_LISTS.iter().any(|list| {
            head.strip_suffix(list)
                .is_some_and(|before| before.is_empty() || before.ends_with('.'))
        });
        match tail.find(']') {
            Some(close) if is_container_list => rest = &tail[close..],
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Every violation of the old object, excepted or not: a violation it already had is not new.
/// A rule that could not be evaluated on it (`error`) is no violation: it proves nothing.
fn existing_violations(
    set: &PolicySet,
    old: &Value,
    ctx: &EvalContext<'_>,
) -> HashSet<ViolationKey> {
    match set.evaluate(old, ctx) {
        Evaluation::Evaluated { findings, .. } => findings
            .iter()
            .filter(|f| f.outcome != Outcome::Error)
            .map(ViolationKey::of)
            .collect(),
        Evaluation::Skipped(_) => HashSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_container_index_is_stripped() {
        assert_eq!(
            strip_container_index("spec.template.spec.containers[12].securityContext"),
            "spec.template.spec.containers[].securityContext"
        );
        assert_eq!(
            strip_container_index("spec.initContainers[3].ports[1].hostPort"),
            "spec.initContainers[].ports[1].hostPort"
        );
        assert_eq!(
            strip_container_index(
                "spec.ephemeralContainers[0].securityContext.capabilities.add[2]"
            ),
            "spec.ephemeralContainers[].securityContext.capabilities.add[2]"
        );
        assert_eq!(
            strip_container_index("spec.sidecarcontainers[4].x"),
            "spec.sidecarcontainers[4].x"
        );
        assert_eq!(strip_container_index("metadata.labels"), "metadata.labels");
    }

    #[test]
    fn identity_is_filled_only_where_missing() {
        let mut obj = serde_json::json!({"metadata": {"name": "web"}});
        fill_identity(&mut obj, Some("shop"), Some("other"));
        assert_eq!(obj["metadata"]["namespace"], "shop");
        assert_eq!(obj["metadata"]["name"], "web");
        let mut not_an_object = serde_json::json!([1, 2]);
        fill_identity(&mut not_an_object, Some("shop"), None);
        assert_eq!(not_an_object, serde_json::json!([1, 2]));
    }
}
