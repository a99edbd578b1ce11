//! The API server's defaults that decide a verdict, applied to a manifest before it is judged,
//! so `check` sees the object the cluster stores (and the admission webhook reviews).
//!
//! Kubernetes defaults these on Pods only, not on pod templates (`SetDefaults_Pod`): a
//! container's `resources.requests` take the `limits` not set as requests, and with
//! `hostNetwork: true` a port's `hostPort` is its `containerPort`. Defaults no rule depends on
//! are not applied; `spec.replicas` (1) is read as such by the rule itself.

use serde_json::{Map, Value};

/// Applies the defaults to a Pod, or to the Pods of a `List`; other objects are left alone.
pub fn apply_api_defaults(object: &mut Value) {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind.ends_with("List") {
        if let Some(items) = object.get_mut("items").and_then(Value::as_array_mut) {
            items.iter_mut().for_each(apply_api_defaults);
        }
        return;
    }
    if kind != "Pod" || object.get("apiVersion").and_then(Value::as_str) != Some("v1") {
        return;
    }
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let host_network = spec.get("hostNetwork") == Some(&Value::Bool(true));
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            requests_from_limits(container);
            if host_network {
                host_ports(container);
            }
        }
    }
}

fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = container
        .get_mut("resources")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    let requests = resources
        .entry("requests")
        .or_insert_with(|| Value::Object(Map::new()));
    if requests.is_null() {
        *requests = Value::Object(Map::new());
    }
    if let Some(requests) = requests.as_object_mut() {
        for (resource, quantity) in limits {
            requests.entry(resource).or_insert(quantity);
        }
    }
}

fn host_ports(container: &mut Map<String, Value>) {
    let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) else {
        return;
    };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        let unset = match port.get("hostPort") {
            None | Some(Value::Null) => true,
            Some(v) => v.as_i64() == Some(0),
        };
        if unset && let Some(container_port) = port.get("containerPort").cloned() {
            port.insert("hostPort".to_owned(), container_port);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pods_get_requests_from_limits_and_host_ports() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"hostNetwork": true, "containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
             "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 9081}]}
        ]}});
        apply_api_defaults(&mut pod);
        let c = &pod["spec"]["containers"][0];
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        assert_eq!(
            c["ports"],
            json!([{"containerPort": 80, "hostPort": 80}, {"containerPort": 81, "hostPort": 9081}])
        );
    }

    #[test]
    fn templates_are_not_defaulted() {
        let template = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "hostNetwork": true, "containers": [{"name": "a", "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "1"}}}]}}}});
        let mut defaulted = template.clone();
        apply_api_defaults(&mut defaulted);
        assert_eq!(defaulted, template);
    }
}
