//! Resource requests and limits of regular and init containers (the API forbids resources on
//! ephemeral containers). Pod-level resources (`spec.resources`, Kubernetes 1.34+) cover every
//! container.

use serde_json::{Map, Value};

use super::BEST_PRACTICES;
use crate::governance::rules::support::{can_set_resources, container_violation};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::{Fields, WorkloadView};

pub(super) const CPU_REQUESTS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "cpu-requests",
        title: "CPU requests set",
        category: Category::Efficiency,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "Without a CPU request the scheduler cannot place the pod sensibly and the container gets the \
                      smallest CPU share under contention. Ephemeral (kubectl debug) \
                      containers are exempt: the API forbids resources on ephemeral containers.",
        remediation: "Set resources.requests.cpu on every container (e.g. 100m), or spec.resources.requests.cpu for \
                      the whole pod.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  resources:\n    requests:\n      memory: 128Mi\n",
        example_pass: "containers:\n- name: app\n  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n",
    },
    build: no_params::<Resource<false, false>>,
};

pub(super) const MEMORY_REQUESTS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "memory-requests",
        title: "Memory requests set",
        category: Category::Efficiency,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "Without a memory request the pod may be scheduled onto a node without room for it and is among \
                      the first evicted under memory pressure. Ephemeral (kubectl debug) \
                      containers are exempt: the API forbids resources on ephemeral containers.",
        remediation: "Set resources.requests.memory on every container (e.g. 128Mi), or spec.resources.requests.memory \
                      for the whole pod.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  resources:\n    requests:\n      cpu: 100m\n",
        example_pass: "containers:\n- name: app\n  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n",
    },
    build: no_params::<Resource<false, true>>,
};

pub(super) const CPU_LIMITS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "cpu-limits",
        title: "CPU limits set",
        category: Category::Efficiency,
        severity: Severity::Low,
        profiles: BEST_PRACTICES,
        description: "Without a CPU limit one container can use every idle core of the node. Some teams deliberately \
                      run without CPU limits to avoid throttling; disable this rule if that is your policy. Ephemeral (kubectl debug) \
                      containers are exempt: the API forbids resources on ephemeral containers.",
        remediation: "Set resources.limits.cpu on every container (e.g. 500m), or spec.resources.limits.cpu for the \
                      whole pod.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  resources:\n    limits:\n      memory: 256Mi\n",
        example_pass: "containers:\n- name: app\n  resources:\n    limits:\n      cpu: 500m\n      memory: 256Mi\n",
    },
    build: no_params::<Resource<true, false>>,
};

pub(super) const MEMORY_LIMITS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "memory-limits",
        title: "Memory limits set",
        category: Category::Efficiency,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "Without a memory limit a leaking container can exhaust the node's memory and get other pods \
                      evicted or OOM-killed. Ephemeral (kubectl debug) \
                      containers are exempt: the API forbids resources on ephemeral containers.",
        remediation: "Set resources.limits.memory on every container (e.g. 256Mi), or spec.resources.limits.memory \
                      for the whole pod.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  resources:\n    limits:\n      cpu: 500m\n",
        example_pass: "containers:\n- name: app\n  resources:\n    limits:\n      cpu: 500m\n      memory: 256Mi\n",
    },
    build: no_params::<Resource<true, true>>,
};

/// One resource rule: `LIMIT` chooses limits over requests, `MEMORY` memory over CPU.
#[derive(Debug, Default)]
struct Resource<const LIMIT: bool, const MEMORY: bool>;

impl<const LIMIT: bool, const MEMORY: bool> Resource<LIMIT, MEMORY> {
    const SECTION: &'static str = if LIMIT { "limits" } else { "requests" };
    const RESOURCE: &'static str = if MEMORY { "memory" } else { "cpu" };

    /// Whether `holder` (a container or pod spec) sets `resources.<section>.<resource>`.
    /// Whether a `resources` object sets `<section>.<resource>`.
    fn is_set_in(resources: Option<&Map<String, Value>>) -> bool {
        resources
            .and_then(|r| r.map_field(Self::SECTION))
            .and_then(|s| s.get(Self::RESOURCE))
            .is_some_and(|v| !v.is_null())
    }
}

impl<const LIMIT: bool, const MEMORY: bool> Rule for Resource<LIMIT, MEMORY> {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if Self::is_set_in(w.pod_resources()) {
            return;
        }
        let what = match (MEMORY, LIMIT) {
            (false, false) => "has no CPU request",
            (true, false) => "has no memory request",
            (false, true) => "has no CPU limit",
            (true, true) => "has no memory limit",
        };
        // No ephemeral container could comply: the API refuses resources on them.
        for c in w.containers().filter(|c| can_set_resources(c)) {
            if !Self::is_set_in(c.resources()) {
                let field = format!("resources.{}.{}", Self::SECTION, Self::RESOURCE);
                out.push(container_violation(
                    c,
                    &field,
                    format_args!("{what} ({field})"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{KINDS, assert_violation, check, spec_path, workload};

    const RULES: [(&str, &str, &str); 4] = [
        ("cpu-requests", "requests", "cpu"),
        ("memory-requests", "requests", "memory"),
        ("cpu-limits", "limits", "cpu"),
        ("memory-limits", "limits", "memory"),
    ];

    #[test]
    fn missing_resources_fail_for_init_and_regular_containers_only() {
        let spec = "initContainers: [{name: init}]\n\
                    containers:\n- {name: full, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}}\n\
                    - {name: app, resources: {requests: {cpu: null}}}\n\
                    ephemeralContainers: [{name: dbg}]";
        for kind in KINDS {
            for (id, section, resource) in RULES {
                let v = check(id, &workload(kind, spec));
                assert_eq!(v.len(), 2, "{id}: {v:#?}");
                let p = |c: &str| spec_path(kind, &format!("{c}.resources.{section}.{resource}"));
                assert_violation(&v[0], &p("initContainers[0]"), Some("init"));
                assert_violation(&v[1], &p("containers[1]"), Some("app"));
            }
        }
    }

    #[test]
    fn each_rule_checks_only_its_own_field() {
        let spec =
            "containers: [{name: app, resources: {requests: {cpu: 1}, limits: {memory: 1Gi}}}]";
        for kind in KINDS {
            let failing: Vec<&str> = RULES
                .iter()
                .map(|r| r.0)
                .filter(|id| !check(id, &workload(kind, spec)).is_empty())
                .collect();
            assert_eq!(failing, ["memory-requests", "cpu-limits"]);
        }
    }

    #[test]
    fn container_or_pod_level_resources_pass() {
        let container = "initContainers: [{name: i, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}}]\n\
                         containers: [{name: app, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}}]";
        let pod_level = "resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 2, memory: 2Gi}}\n\
                         initContainers: [{name: i}]\ncontainers: [{name: app}]";
        for kind in KINDS {
            for (id, _, _) in RULES {
                assert_eq!(check(id, &workload(kind, container)), [], "{id}");
                assert_eq!(check(id, &workload(kind, pod_level)), [], "{id}");
            }
        }
    }
}
