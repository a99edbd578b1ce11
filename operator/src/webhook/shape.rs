//! The object of a review must have the shape of its kind.
//!
//! The rules read objects leniently (a borrowed view, no typed decoding): a field of the wrong
//! type reads as absent, which is right for a manifest on disk but would let a wrongly typed
//! review through (`containers` as a map hides every container from every rule). The API server
//! only ever sends objects it decoded into their typed form, so the webhook decodes what the
//! rules read (apiVersion, kind, name, namespace, labels, annotations and the whole `spec`) into
//! the same typed form first and refuses (400) anything that does not fit: the API server then
//! applies the webhook's `failurePolicy`, and nothing malformed is ever "allowed".

use std::collections::BTreeMap;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec, StatefulSet,
    StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What the rules read: the type, the identity and labels, and the typed spec. The rest
/// (`status`, `managedFields`, owner references) is skipped unread, so the check costs a walk
/// of the spec, not a copy of the whole object. Fields only type-checked start with `_`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape<S> {
    api_version: String,
    kind: String,
    #[serde(default, rename = "metadata")]
    _metadata: Metadata,
    #[serde(rename = "spec")]
    _spec: S,
}

#[derive(Default, Deserialize)]
struct Metadata {
    #[serde(default, rename = "name")]
    _name: Option<String>,
    #[serde(default, rename = "namespace")]
    _namespace: Option<String>,
    #[serde(default, rename = "labels")]
    _labels: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "annotations")]
    _annotations: Option<BTreeMap<String, String>>,
}

fn typed<R: Resource, S: DeserializeOwned>(object: &Value) -> Result<(), String> {
    let shape = Shape::<S>::deserialize(object).map_err(|e| e.to_string())?;
    if shape.api_version != R::API_VERSION || shape.kind != R::KIND {
        return Err(format!(
            "apiVersion {:?} and kind {:?} are not {} {}",
            shape.api_version,
            shape.kind,
            R::API_VERSION,
            R::KIND
        ));
    }
    Ok(())
}

/// Decodes `object` as the workload `kind` (apiVersion and kind included), discarding the result.
/// `Err` names the first field that does not fit.
pub(crate) fn check(kind: &str, object: &Value) -> Result<(), String> {
    match kind {
        "Pod" => typed::<Pod, PodSpec>(object),
        "Deployment" => typed::<Deployment, DeploymentSpec>(object),
        "StatefulSet" => typed::<StatefulSet, StatefulSetSpec>(object),
        "DaemonSet" => typed::<DaemonSet, DaemonSetSpec>(object),
        "ReplicaSet" => typed::<ReplicaSet, ReplicaSetSpec>(object),
        "Job" => typed::<Job, JobSpec>(object),
        "CronJob" => typed::<CronJob, CronJobSpec>(object),
        other => Err(format!("{other} is not a workload kind")),
    }
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
        let mut labels_as_numbers = pod.clone();
        labels_as_numbers["metadata"]["labels"] = json!({"team": 1});
        assert!(check("Pod", &labels_as_numbers).is_err());
        let mut no_spec = pod.clone();
        no_spec.as_object_mut().map(|o| o.remove("spec"));
        assert!(check("Pod", &no_spec).is_err());
        // What no rule reads is not looked at.
        let mut odd_status = pod.clone();
        odd_status["status"] = json!("anything");
        odd_status["metadata"]["managedFields"] = json!(42);
        assert_eq!(check("Pod", &odd_status), Ok(()));
        assert!(check("Deployment", &pod).is_err(), "the kind must match");
        assert!(check("Pod", &json!("a string")).is_err());
        assert!(check("ConfigMap", &pod).is_err());
    }
}
