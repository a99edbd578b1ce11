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

/// The API server's refusal to create content in a namespace being deleted (a 403 whose details
/// carry the cause `NamespaceTerminating`, from its NamespaceLifecycle admission), as opposed to a
/// 403 from RBAC or an admission policy.
pub(super) fn namespace_terminating(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 403
        && s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")))
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
