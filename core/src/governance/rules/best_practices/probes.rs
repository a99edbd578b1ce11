//! Health probes of long-running containers. Jobs, CronJobs and pods that run to completion
//! (restartPolicy Never or OnFailure) are skipped, as are init containers (they run to
//! completion) and ephemeral containers (the API forbids probes on them).

use super::BEST_PRACTICES;
use crate::governance::rules::support::container_violation;
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::{ContainerKind, ProbeKind, WorkloadKind, WorkloadView};

pub(super) const LIVENESS_PROBE: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "liveness-probe",
        title: "Liveness probe set",
        category: Category::Reliability,
        severity: Severity::Low,
        profiles: BEST_PRACTICES,
        description: "Without a liveness probe a hung container keeps running and is never restarted. \
                      Not checked for Jobs, CronJobs and run-to-completion pods, nor for ephemeral (kubectl debug) \
                      containers: the API forbids probes on ephemeral containers.",
        remediation: "Add a livenessProbe (httpGet, tcpSocket, grpc or exec) to every container, checking that the \
                      process can still make progress.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "containers:\n- name: app\n  livenessProbe:\n    httpGet:\n      path: /healthz\n      port: 8080\n",
    },
    build: no_params::<Probe<false>>,
};

pub(super) const READINESS_PROBE: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "readiness-probe",
        title: "Readiness probe set",
        category: Category::Reliability,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "Without a readiness probe the pod receives traffic as soon as it starts and while it is \
                      overloaded or shutting down. Not checked for Jobs, CronJobs and run-to-completion pods, nor \
                      for ephemeral (kubectl debug) containers: the API forbids probes on ephemeral containers.",
        remediation: "Add a readinessProbe to every container, checking that it can serve requests.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "containers:\n- name: app\n  readinessProbe:\n    httpGet:\n      path: /ready\n      port: 8080\n",
    },
    build: no_params::<Probe<true>>,
};

/// A probe rule: `READINESS` chooses readinessProbe over livenessProbe.
#[derive(Debug, Default)]
struct Probe<const READINESS: bool>;

/// Batch workloads: their containers are meant to exit.
fn runs_to_completion(w: &WorkloadView<'_>) -> bool {
    matches!(w.kind, WorkloadKind::Job | WorkloadKind::CronJob)
        || matches!(w.restart_policy(), Some("Never" | "OnFailure"))
}

impl<const READINESS: bool> Rule for Probe<READINESS> {
    fn applies_to(&self, kind: WorkloadKind) -> bool {
        !matches!(kind, WorkloadKind::Job | WorkloadKind::CronJob)
    }

    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if runs_to_completion(w) {
            return;
        }
        let probe = if READINESS {
            ProbeKind::Readiness
        } else {
            ProbeKind::Liveness
        };
        let field = probe.field();
        // Ephemeral containers cannot have probes (the API refuses them), so none could comply.
        for c in w.containers().filter(|c| c.kind == ContainerKind::Regular) {
            if c.probe(probe).is_none() {
                out.push(container_violation(
                    c,
                    field,
                    format_args!("has no {field}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, SERVICE_KINDS, assert_violation, check, spec_path, workload,
    };
    use crate::workload::WorkloadKind;

    const PROBES: [(&str, &str); 2] = [
        ("liveness-probe", "livenessProbe"),
        ("readiness-probe", "readinessProbe"),
    ];

    #[test]
    fn regular_containers_without_probes_fail_on_long_running_kinds() {
        let spec = "initContainers: [{name: init}]\n\
                    containers:\n- {name: ok, livenessProbe: {exec: {command: [true]}}, readinessProbe: {tcpSocket: {port: 1}}}\n\
                    - {name: app}\n\
                    ephemeralContainers: [{name: dbg}]";
        for kind in SERVICE_KINDS {
            for (id, field) in PROBES {
                let v = check(id, &workload(kind, spec));
                assert_eq!(v.len(), 1, "{id} {kind:?}: {v:#?}");
                assert_violation(
                    &v[0],
                    &spec_path(kind, &format!("containers[1].{field}")),
                    Some("app"),
                );
            }
        }
    }

    #[test]
    fn batch_workloads_and_probed_containers_pass() {
        let bare = "containers: [{name: app}]";
        let probed = "containers: [{name: app, livenessProbe: {grpc: {port: 9}}, readinessProbe: {grpc: {port: 9}}}]";
        for (id, _) in PROBES {
            for kind in [WorkloadKind::Job, WorkloadKind::CronJob] {
                assert_eq!(check(id, &workload(kind, bare)), [], "{id} {kind:?}");
            }
            let once = "restartPolicy: Never\ncontainers: [{name: app}]";
            assert_eq!(check(id, &workload(WorkloadKind::Pod, once)), [], "{id}");
            for kind in KINDS {
                assert_eq!(check(id, &workload(kind, probed)), [], "{id} {kind:?}");
            }
        }
    }
}
