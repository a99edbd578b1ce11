//! The pod spec's fields the rules read, found in one pass over its keys when the view is built
//! (a dozen rules read them; each lookup in the parsed map compared keys stored elsewhere on the
//! heap), and the containers kept inline: evaluating an object allocates nothing for its view.

use serde_json::{Map, Value};

use super::{ContainerKind, ContainerRef, SecurityContext};

/// The pod spec's keys several rules read.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PodFields<'a> {
    /// `initContainers`, `containers`, `ephemeralContainers` (empty when missing or not lists).
    pub lists: [&'a [Value]; 3],
    pub security: Option<&'a Map<String, Value>>,
    pub host_users: Option<&'a Value>,
    pub os: Option<&'a Map<String, Value>>,
    pub restart_policy: Option<&'a Value>,
    pub resources: Option<&'a Map<String, Value>>,
    pub volumes: &'a [Value],
    /// `hostNetwork`, `hostPID`, `hostIPC`, in that order.
    pub host_namespaces: [Option<&'a Value>; 3],
    pub automount: Option<&'a Value>,
}

impl<'a> PodFields<'a> {
    pub fn new(spec: &'a Map<String, Value>) -> Self {
        let list = |v: &'a Value| v.as_array().map_or(&[][..], Vec::as_slice);
        let mut p = PodFields::default();
        for (key, value) in spec {
            match key.as_str() {
                "initContainers" => p.lists[0] = list(value),
                "containers" => p.lists[1] = list(value),
                "ephemeralContainers" => p.lists[2] = list(value),
                "securityContext" => p.security = value.as_object(),
                "hostUsers" => p.host_users = Some(value),
                "os" => p.os = value.as_object(),
                "restartPolicy" => p.restart_policy = Some(value),
                "resources" => p.resources = value.as_object(),
                "volumes" => p.volumes = list(value),
                "hostNetwork" => p.host_namespaces[0] = Some(value),
                "hostPID" => p.host_namespaces[1] = Some(value),
                "hostIPC" => p.host_namespaces[2] = Some(value),
                "automountServiceAccountToken" => p.automount = Some(value),
                _ => {}
            }
        }
        p
    }

    pub fn pod_security(&self) -> SecurityContext<'a> {
        SecurityContext::new(self.security)
    }
}

/// How many containers are kept inline before the view spills to the heap: most pods have a
/// handful, and the view then costs no allocation.
const INLINE: usize = 4;

/// Init, regular, then ephemeral containers, in spec order.
#[derive(Debug, Clone)]
pub(super) struct Containers<'a> {
    inline: [ContainerRef<'a>; INLINE],
    len: usize,
    /// Every container once there are more than [`INLINE`].
    spilled: Vec<ContainerRef<'a>>,
}

impl<'a> Containers<'a> {
    pub fn new(
        pod: &PodFields<'a>,
        pod_spec_path: &'static str,
        filler: &'a Map<String, Value>,
    ) -> Self {
        // The filler only pads the unused inline slots; `as_slice` never shows them.
        let filler = ContainerRef::unread(ContainerKind::Regular, 0, filler, pod_spec_path);
        let mut out = Containers {
            inline: [filler; INLINE],
            len: 0,
            spilled: Vec::new(),
        };
        let kinds = [
            ContainerKind::Init,
            ContainerKind::Regular,
            ContainerKind::Ephemeral,
        ];
        for (kind, list) in kinds.into_iter().zip(pod.lists) {
            for (index, c) in list.iter().enumerate() {
                if let Some(spec) = c.as_object() {
                    out.push(ContainerRef::new(kind, index, spec, pod_spec_path));
                }
            }
        }
        out
    }

    fn push(&mut self, c: ContainerRef<'a>) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = c;
            self.len += 1;
            return;
        }
        if self.spilled.is_empty() {
            self.spilled.reserve(self.len * 2);
            self.spilled.extend_from_slice(&self.inline);
        }
        self.spilled.push(c);
    }

    pub fn as_slice(&self) -> &[ContainerRef<'a>] {
        if self.spilled.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spilled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_answers_as_a_lookup_would() {
        let spec = json!({
            "initContainers": [{"name": "i"}], "containers": [{"name": "a"}, "junk", {"name": "b"}],
            "ephemeralContainers": [{"name": "e"}], "securityContext": {"runAsNonRoot": true},
            "hostUsers": false, "os": {"name": "windows"}, "restartPolicy": "Never",
            "resources": {"limits": {}}, "volumes": [{"name": "v"}], "hostNetwork": true,
            "hostPID": false, "hostIPC": true, "automountServiceAccountToken": false,
            "nodeName": "n"
        });
        let map = spec.as_object().expect("object");
        let p = PodFields::new(map);
        assert_eq!(p.lists[0].len(), 1);
        assert_eq!(p.lists[1].len(), 3);
        assert_eq!(p.lists[2].len(), 1);
        assert_eq!(
            p.security,
            map.get("securityContext").and_then(Value::as_object)
        );
        assert_eq!(p.host_users, map.get("hostUsers"));
        assert_eq!(p.os, map.get("os").and_then(Value::as_object));
        assert_eq!(p.restart_policy, map.get("restartPolicy"));
        assert_eq!(p.resources, map.get("resources").and_then(Value::as_object));
        assert_eq!(p.volumes.len(), 1);
        assert_eq!(
            p.host_namespaces,
            ["hostNetwork", "hostPID", "hostIPC"].map(|k| map.get(k))
        );
        assert_eq!(p.automount, map.get("automountServiceAccountToken"));
        let nothing = Map::new();
        let empty = PodFields::new(&nothing);
        assert!(empty.lists.iter().all(|l| l.is_empty()) && empty.automount.is_none());
    }

    #[test]
    fn containers_keep_spec_order_inline_and_past_the_inline_slots() {
        for n in [0, 1, INLINE, INLINE + 1, 3 * INLINE + 2] {
            let regular: Vec<Value> = (0..n).map(|i| json!({"name": format!("c{i}")})).collect();
            let spec = json!({"initContainers": [{"name": "init"}], "containers": regular});
            let map = spec.as_object().expect("object");
            let containers = Containers::new(&PodFields::new(map), "spec", map);
            let names: Vec<&str> = containers.as_slice().iter().map(|c| c.name).collect();
            let expected: Vec<String> = std::iter::once("init".to_owned())
                .chain((0..n).map(|i| format!("c{i}")))
                .collect();
            assert_eq!(names, expected, "{n} regular containers");
            let last = containers
                .as_slice()
                .last()
                .expect("one container at least");
            assert_eq!(last.index, n.saturating_sub(1));
        }
    }
}
