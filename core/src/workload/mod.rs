//! The workload view: every workload kind normalised to "metadata + pod template spec", borrowed
//! from the raw object so rules are written once and no object is copied.

mod container;
mod fields;
mod pod;
mod security;

pub use container::{ContainerKind, ContainerRef, ProbeKind};
pub use fields::Fields;
pub(crate) use fields::lookup;
pub use security::SecurityContext;

use pod::{Containers, PodFields};

use serde_json::{Map, Value};

use crate::crd::WorkloadKindName;
use crate::model::ResourceRef;

/// The identity and labels of any Kubernetes object, borrowed from its JSON.
#[derive(Debug, Clone, Copy)]
pub struct ObjectMeta<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    /// `metadata` of the object (empty when absent).
    pub metadata: &'a Map<String, Value>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// Why an object could not be viewed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// Not a JSON object, or no apiVersion / kind: not a Kubernetes manifest.
    NotAManifest(&'static str),
}

impl<'a> ObjectMeta<'a> {
    pub fn from_value(raw: &'a Value) -> Result<Self, ViewError> {
        let obj = raw
            .as_object()
            .ok_or(ViewError::NotAManifest("the document is not a mapping"))?;
        let api_version = obj
            .str_field("apiVersion")
            .ok_or(ViewError::NotAManifest("apiVersion is missing"))?;
        let kind = obj
            .str_field("kind")
            .ok_or(ViewError::NotAManifest("kind is missing"))?;
        let metadata = obj.map_field("metadata").unwrap_or(&EMPTY);
        Ok(ObjectMeta {
            api_version,
            kind,
            name: metadata.str_field("name").unwrap_or(""),
            namespace: metadata.str_field("namespace"),
            metadata,
        })
    }

    pub fn labels(&self) -> Option<&'a Map<String, Value>> {
        self.metadata.map_field("labels")
    }

    pub fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.metadata.map_field("annotations")
    }

    pub fn resource_ref(&self) -> ResourceRef {
        ResourceRef {
            api_version: self.api_version.to_owned(),
            kind: self.kind.to_owned(),
            namespace: self.namespace.map(str::to_owned),
            name: self.name.to_owned(),
        }
    }
}

/// A workload kind the rule library understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
}

impl WorkloadKind {
    /// Every workload kind, once: the operator watches these, the webhook is registered for them,
    /// and the rules view them.
    pub const ALL: [WorkloadKind; 7] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::ReplicaSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
    ];

    /// The kind of a manifest, when it is a workload of a known API group.
    pub fn of(api_version: &str, kind: &str) -> Option<WorkloadKind> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Self::ALL
            .into_iter()
            .find(|k| k.group() == group && k.kind() == kind)
    }

    /// The kind as the API names it (`Deployment`).
    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "",
            WorkloadKind::Deployment
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet
            | WorkloadKind::ReplicaSet => "apps",
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
        }
    }

    /// The served version the operator watches (every workload kind is `v1`).
    pub fn version(self) -> &'static str {
        "v1"
    }

    /// `group/version`, or just the version for the core group.
    pub fn api_version(self) -> &'static str {
        match self.group() {
            "" => "v1",
            "apps" => "apps/v1",
            _ => "batch/v1",
        }
    }

    /// The resource name in API paths and webhook rules (`deployments`).
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "pods",
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::ReplicaSet => "replicasets",
            WorkloadKind::Job => "jobs",
            WorkloadKind::CronJob => "cronjobs",
        }
    }

    pub fn name(self) -> WorkloadKindName {
        match self {
            WorkloadKind::Pod => WorkloadKindName::Pod,
            WorkloadKind::Deployment => WorkloadKindName::Deployment,
            WorkloadKind::StatefulSet => WorkloadKindName::StatefulSet,
            WorkloadKind::DaemonSet => WorkloadKindName::DaemonSet,
            WorkloadKind::ReplicaSet => WorkloadKindName::ReplicaSet,
            WorkloadKind::Job => WorkloadKindName::Job,
            WorkloadKind::CronJob => WorkloadKindName::CronJob,
        }
    }

    /// Where the pod spec lives, as a dotted path prefix.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "spec",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    /// Where the pod template's metadata lives (the object's own metadata for a Pod).
    pub fn pod_metadata_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "metadata",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.metadata",
            _ => "spec.template.metadata",
        }
    }
}

/// A workload normalised to its pod template.
#[derive(Debug, Clone)]
pub struct WorkloadView<'a> {
    pub meta: ObjectMeta<'a>,
    pub kind: WorkloadKind,
    /// The whole raw object, for rules that need more than the pod template.
    pub raw: &'a Value,
    /// The pod template's metadata (the Pod's own metadata for a Pod).
    pub pod_metadata: &'a Map<String, Value>,
    pub pod_spec: &'a Map<String, Value>,
    /// Init, regular, then ephemeral containers, collected once: every rule walks them.
    containers: Containers<'a>,
    pod_security: SecurityContext<'a>,
    pod: PodFields<'a>,
}

impl<'a> WorkloadView<'a> {
    /// The view of a workload, or `None` when the object is not a workload kind.
    pub fn new(meta: ObjectMeta<'a>, raw: &'a Value) -> Option<WorkloadView<'a>> {
        let kind = WorkloadKind::of(meta.api_version, meta.kind)?;
        let (pod_metadata, pod_spec) = match kind {
            WorkloadKind::Pod => (Some(meta.metadata), raw.get("spec")),
            // `get` chains rather than `pointer`, which allocates for every path segment.
            WorkloadKind::CronJob => {
                let template = raw
                    .get("spec")
                    .and_then(|s| s.get("jobTemplate"))
                    .and_then(|j| j.get("spec"))
                    .and_then(|s| s.get("template"));
                (
                    template
                        .and_then(|t| t.get("metadata"))
                        .and_then(Value::as_object),
                    template.and_then(|t| t.get("spec")),
                )
            }
            _ => {
                let template = raw.get("spec").and_then(|s| s.get("template"));
                (
                    template
                        .and_then(|t| t.get("metadata"))
                        .and_then(Value::as_object),
                    template.and_then(|t| t.get("spec")),
                )
            }
        };
        let pod_spec = pod_spec.and_then(Value::as_object).unwrap_or(&EMPTY);
        let pod = PodFields::new(pod_spec);
        Some(WorkloadView {
            meta,
            kind,
            raw,
            pod_metadata: pod_metadata.unwrap_or(&EMPTY),
            pod_spec,
            containers: Containers::new(&pod, kind.pod_spec_path(), pod_spec),
            pod_security: pod.pod_security(),
            pod,
        })
    }

    /// A path below the pod spec, e.g. `spec_path("hostNetwork")`.
    pub fn spec_path(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.kind.pod_spec_path())
    }

    /// The pod-level securityContext.
    pub fn pod_security_context(&self) -> Option<&'a Map<String, Value>> {
        self.pod_security.map()
    }

    /// The pod-level securityContext with its usual keys found once.
    pub fn pod_security(&self) -> &SecurityContext<'a> {
        &self.pod_security
    }

    /// Init, regular, then ephemeral containers, in spec order.
    pub fn containers(&self) -> std::slice::Iter<'_, ContainerRef<'a>> {
        self.containers.as_slice().iter()
    }

    /// `hostUsers` of the pod spec, when a boolean.
    pub fn host_users(&self) -> Option<bool> {
        self.pod.host_users.and_then(Value::as_bool)
    }

    /// `os.name` of the pod spec, when a string.
    pub fn os_name(&self) -> Option<&'a str> {
        self.pod.os.and_then(|os| os.str_field("name"))
    }

    /// `restartPolicy` of the pod spec, when a string.
    pub fn restart_policy(&self) -> Option<&'a str> {
        self.pod.restart_policy.and_then(Value::as_str)
    }

    /// The pod-level `resources`.
    pub fn pod_resources(&self) -> Option<&'a Map<String, Value>> {
        self.pod.resources
    }

    /// `volumes` (empty when missing or not a list).
    pub fn volumes(&self) -> &'a [Value] {
        self.pod.volumes
    }

    /// `hostNetwork`, `hostPID` or `hostIPC` of the pod spec, when a boolean.
    pub fn host_namespace(&self, field: HostNamespace) -> Option<bool> {
        self.pod.host_namespaces[field as usize].and_then(Value::as_bool)
    }

    /// `automountServiceAccountToken` of the pod spec, when a boolean.
    pub fn automount_service_account_token(&self) -> Option<bool> {
        self.pod.automount.and_then(Value::as_bool)
    }
}

/// A host namespace a pod can share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostNamespace {
    Network,
    Pid,
    Ipc,
}

impl HostNamespace {
    pub const ALL: [HostNamespace; 3] = [
        HostNamespace::Network,
        HostNamespace::Pid,
        HostNamespace::Ipc,
    ];

    /// The pod spec's field (`hostNetwork`).
    pub fn field(self) -> &'static str {
        match self {
            HostNamespace::Network => "hostNetwork",
            HostNamespace::Pid => "hostPID",
            HostNamespace::Ipc => "hostIPC",
        }
    }
}

/// Appends `[index]` to a path, without the formatting machinery (every container finding's
/// path has one or two).
pub fn push_index(path: &mut String, index: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = index;
    loop {
        at -= 1;
        // `n % 10` is below 10, so the byte is an ASCII digit.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    path.push('[');
    for &d in &digits[at..] {
        path.push(char::from(d));
    }
    path.push(']');
}
