//! The API calls writing a report: server-side apply, or a delete when it has no results.

use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Value, json};

use super::REPORT_NAME;

const FIELD_MANAGER: &str = "kube-guardian";

pub(super) fn report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
        "policyreports",
    )
}

/// Writes one namespace's report by server-side apply, or deletes it when it has no results.
/// Returns `Ok(false)` when the PolicyReport CRD is not installed.
pub async fn write(
    client: &Client,
    namespace: &str,
    body: &Value,
    empty: bool,
) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &report_resource());
    let result = if empty {
        match api.delete(REPORT_NAME, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 && !crd_missing(&s) => Ok(()),
            Err(e) => Err(e),
        }
    } else {
        let mut doc = json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport",
            "metadata": {
                "name": REPORT_NAME,
                "namespace": namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            },
        });
        merge(&mut doc, body);
        api.patch(
            REPORT_NAME,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&doc),
        )
        .await
        .map(|_| ())
    };
    match result {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 && crd_missing(&s) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The label on every report kube-guardian writes, by which it finds its reports again.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "kube-guardian";

/// A 404 for the resource type itself (no CRD: a bare "404 page not found"), not the
/// `NotFound` Status the API server returns for one missing object.
pub(super) fn crd_missing(status: &kube::core::Status) -> bool {
    status.reason != "NotFound"
}

/// Whether the API server answered that `namespace` itself is gone or going, so the report has
/// nothing to be written into: a 403 whose details carry the cause `NamespaceTerminating` (its
/// NamespaceLifecycle admission, for a namespace being deleted), or a 404 `NotFound` whose
/// details name that namespace (`namespaces "x" not found`, for one deleted or never created).
/// Not a 403 from RBAC or an admission policy, nor a 404 for the PolicyReport resource itself
/// (no CRD, or a Status naming another kind): those stay failures.
pub(super) fn namespace_gone(error: &kube::Error, namespace: &str) -> bool {
    let kube::Error::Api(s) = error else {
        return false;
    };
    let Some(details) = s.details.as_ref() else {
        return false;
    };
    match s.code {
        403 => details
            .causes
            .iter()
            .any(|c| c.reason == "NamespaceTerminating"),
        404 => s.reason == "NotFound" && details.kind == "namespaces" && details.name == namespace,
        _ => false,
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> kube::Error {
        kube::Error::Api(
            serde_json::from_str::<kube::core::Status>(json)
                .expect("a Status")
                .boxed(),
        )
    }

    /// The API server's answers, as kube-apiserver sends them (see tests/report_namespaces.rs).
    #[test]
    fn only_a_namespace_gone_or_going_is_nothing_to_write() {
        let missing = error(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"namespaces"},"code":404}"#,
        );
        assert!(namespace_gone(&missing, "x"));
        assert!(!namespace_gone(&missing, "y"), "another namespace");
        let terminating = error(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"policyreports.wgpolicyk8s.io \"kube-guardian\" is forbidden: unable to create new content in namespace x because it is being terminated","reason":"Forbidden","details":{"name":"kube-guardian","group":"wgpolicyk8s.io","kind":"policyreports","causes":[{"reason":"NamespaceTerminating","message":"namespace x is being terminated","field":"metadata.namespace"}]},"code":403}"#,
        );
        assert!(namespace_gone(&terminating, "x"));
        // The resource missing, as a Status or as the bare page an unknown path gets.
        let no_resource = error(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#,
        );
        assert!(!namespace_gone(&no_resource, "x"));
        let no_report = error(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"policyreports.wgpolicyk8s.io \"x\" not found","reason":"NotFound","details":{"name":"x","group":"wgpolicyk8s.io","kind":"policyreports"},"code":404}"#,
        );
        assert!(!namespace_gone(&no_report, "x"));
        let page = kube::Error::Api(
            kube::core::Status::failure("404 page not found", "Failed to parse error data")
                .with_code(404)
                .boxed(),
        );
        assert!(!namespace_gone(&page, "x"));
        let rbac = error(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden","reason":"Forbidden","details":{"kind":"policyreports"},"code":403}"#,
        );
        assert!(!namespace_gone(&rbac, "x"));
    }
}
