//! AdmissionReview in, decision out: a pure function of the request body, the compiled policies
//! and the evaluation context. No I/O and no clock of its own, so the router, the tests and the
//! fuzz target all run exactly this.
//!
//! The decision itself (Deny, Warn, Audit, fail-closed errors, pre-existing violations on
//! UPDATE) is core's [`guardian_core::decide`]: this module parses the request, checks the
//! object's shape, evaluates, and renders the verdict as an AdmissionResponse.
//!
//! The object must have the typed shape of its kind ([`super::shape`]); a review of a workload
//! kind whose object does not (or that the engine cannot view) is a 400, never "allowed".

use guardian_core::crd::Enforcement;
use guardian_core::decide::decide as verdict_of;
use guardian_core::engine::{EvalContext, Evaluation, PolicySet};
use guardian_core::workload::WorkloadKind;
use serde_json::Value;

use super::admission::{
    API_VERSION, AdmissionRequest, AdmissionResponse, KIND, ReviewRequest, ReviewResponse, Status,
};
use super::api_error::ApiError;
use super::{message, shape};

pub use guardian_core::decide::Decision;

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

/// The workload kinds the engine evaluates, by API group (core's one list); anything else is
/// allowed unread.
fn is_workload_kind(group: &str, kind: &str) -> bool {
    WorkloadKind::ALL
        .into_iter()
        .any(|k| k.group() == group && k.kind() == kind)
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
    // The old object is read only when core asks (something would be denied), and a malformed
    // one vouches for nothing.
    let old = || {
        let mut old = old_object.filter(|_| update)?;
        fill_identity(&mut old, namespace.as_deref(), name.as_deref());
        shape::check(&kind.kind, &old).ok()?;
        match set.evaluate(&old, ctx) {
            Evaluation::Evaluated { findings, .. } => Some(findings),
            Evaluation::Skipped(_) => None,
        }
    };
    let verdict = verdict_of(&matched_policies, &findings, old);

    let mut warnings: Vec<String> = verdict
        .warned
        .iter()
        .map(|w| {
            let note = if w.pre_existing {
                "pre-existing, allowed on update: "
            } else {
                ""
            };
            message::warning(w.finding, note)
        })
        .collect();
    message::cap_warnings(&mut warnings);
    let decision = verdict.decision();
    let status = (decision == Decision::Denied)
        .then(|| Status::forbidden(message::denial(&subject, &verdict.denied)));
    let (enforcement, rule_errors) = (verdict.enforcement, verdict.rule_errors);
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

#[cfg(test)]
mod tests {
    use super::*;

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
