//! The object of a review must have the shape of its kind.
//!
//! The rules read objects leniently (a borrowed view, no typed decoding): a field of the wrong
//! type reads as absent, which is right for a manifest on disk but would let a wrongly typed
//! review through (`containers` as a map hides every container from every rule). The API server
//! only ever sends objects it decoded into their typed form, so the webhook decodes the object
//! into the same typed form first and refuses (400) anything that does not fit: the API server
//! then applies the webhook's `failurePolicy`, and nothing malformed is ever "allowed".

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use serde_json::Value;

/// Decodes `object` as the workload `kind` (apiVersion and kind included), discarding the result.
/// `Err` names the first field that does not fit.
pub(crate) fn check(kind: &str, object: &Value) -> Result<(), String> {
    let decoded = match kind {
        "Pod" => Pod::deserialize(object).map(drop),
        "Deployment" => Deployment::deserialize(object).map(drop),
        "StatefulSet" => StatefulSet::deserialize(object).map(drop),
        "DaemonSet" => DaemonSet::deserialize(object).map(drop),
        "ReplicaSet" => ReplicaSet::deserialize(object).map(drop),
        "Job" => Job::deserialize(object).map(drop),
        "CronJob" => CronJob::deserialize(object).map(drop),
        other => return Err(format!("{other} is not a workload kind")),
    };
    decoded.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_objects_pass_and_wrong_types_or_kinds_do_not() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "securityContext": {"privileged": true}}]}
        });
        assert_eq!(check("Pod", &pod), Ok(()));
        let mut as_map = pod.clone();
        as_map["spec"]["containers"] = json!({"app": {"name": "app", "image": "x"}});
        assert!(check("Pod", &as_map).is_err());
        let mut as_string = pod.clone();
        as_string["spec"]["containers"][0]["securityContext"]["privileged"] = json!("true");
        assert!(check("Pod", &as_string).is_err());
        assert!(check("Deployment", &pod).is_err(), "the kind must match");
        assert!(check("Pod", &json!("a string")).is_err());
        assert!(check("ConfigMap", &pod).is_err());
    }
}
