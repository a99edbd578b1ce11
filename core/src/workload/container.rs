//! One container of a pod spec as the rules read it: which list it comes from, where it sits,
//! and the fields several rules read, found in one pass over its keys.

use serde_json::{Map, Value};

use super::{SecurityContext, push_index};

/// Which list of the pod spec a container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

impl ContainerKind {
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// One container of a pod spec, with where it sits and the fields several rules read, found in
/// one pass over its keys when the view is built (rather than one map lookup per rule).
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    pub kind: ContainerKind,
    pub index: usize,
    pub name: &'a str,
    pub spec: &'a Map<String, Value>,
    security: SecurityContext<'a>,
    image: Option<&'a str>,
    env: &'a [Value],
    ports: &'a [Value],
    resources: Option<&'a Map<String, Value>>,
    /// `livenessProbe`, `readinessProbe` and `startupProbe`, in that order.
    probes: [Option<&'a Map<String, Value>>; 3],
    lifecycle: Option<&'a Map<String, Value>>,
    pod_spec_path: &'static str,
}

/// A probe of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [
        ProbeKind::Liveness,
        ProbeKind::Readiness,
        ProbeKind::Startup,
    ];

    /// The container's field (`livenessProbe`).
    pub fn field(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "livenessProbe",
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Startup => "startupProbe",
        }
    }
}

impl<'a> ContainerRef<'a> {
    pub(super) fn new(
        kind: ContainerKind,
        index: usize,
        spec: &'a Map<String, Value>,
        pod_spec_path: &'static str,
    ) -> Self {
        let mut c = Self::unread(kind, index, spec, pod_spec_path);
        let list = |v: &'a Value| v.as_array().map_or(&[][..], Vec::as_slice);
        for (key, value) in spec {
            match key.as_str() {
                "name" => c.name = value.as_str().unwrap_or(""),
                "image" => c.image = value.as_str(),
                "env" => c.env = list(value),
                "ports" => c.ports = list(value),
                "resources" => c.resources = value.as_object(),
                "livenessProbe" => c.probes[0] = value.as_object(),
                "readinessProbe" => c.probes[1] = value.as_object(),
                "startupProbe" => c.probes[2] = value.as_object(),
                "lifecycle" => c.lifecycle = value.as_object(),
                "securityContext" => c.security = SecurityContext::new(value.as_object()),
                _ => {}
            }
        }
        c
    }

    /// A container whose fields are not read yet (all unset).
    pub(super) fn unread(
        kind: ContainerKind,
        index: usize,
        spec: &'a Map<String, Value>,
        pod_spec_path: &'static str,
    ) -> Self {
        ContainerRef {
            kind,
            index,
            name: "",
            spec,
            security: SecurityContext::default(),
            image: None,
            env: &[],
            ports: &[],
            resources: None,
            probes: [None; 3],
            lifecycle: None,
            pod_spec_path,
        }
    }

    /// The container's own path, e.g. `spec.template.spec.containers[1]`.
    pub fn path(&self) -> String {
        self.field_path("")
    }

    /// A path below the container, e.g. `field_path("securityContext.privileged")`; `""` gives
    /// the container's own path. Built in one allocation with room for an index or two more
    /// (`push_index`): every container finding needs one.
    pub fn field_path(&self, suffix: &str) -> String {
        let field = self.kind.field();
        let mut path =
            String::with_capacity(self.pod_spec_path.len() + field.len() + suffix.len() + 40);
        path.push_str(self.pod_spec_path);
        path.push('.');
        path.push_str(field);
        push_index(&mut path, self.index);
        if !suffix.is_empty() {
            path.push('.');
            path.push_str(suffix);
        }
        path
    }

    pub fn security_context(&self) -> Option<&'a Map<String, Value>> {
        self.security.map()
    }

    /// The container's securityContext with its usual keys found once.
    pub fn security(&self) -> &SecurityContext<'a> {
        &self.security
    }

    /// `image`, when a string.
    pub fn image(&self) -> Option<&'a str> {
        self.image
    }

    /// `env` (empty when missing or not a list).
    pub fn env(&self) -> &'a [Value] {
        self.env
    }

    /// `ports` (empty when missing or not a list).
    pub fn ports(&self) -> &'a [Value] {
        self.ports
    }

    pub fn resources(&self) -> Option<&'a Map<String, Value>> {
        self.resources
    }

    pub fn probe(&self, probe: ProbeKind) -> Option<&'a Map<String, Value>> {
        self.probes[probe as usize]
    }

    pub fn lifecycle(&self) -> Option<&'a Map<String, Value>> {
        self.lifecycle
    }
}
