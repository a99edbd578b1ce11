//! Restricted controls on the user a container runs as. Pods in a user namespace
//! (`spec.hostUsers: false`) are exempt, as in PSS 1.35+: root inside maps to an unprivileged host user.

use super::RESTRICTED;
use crate::governance::rules::support::{Site, in_user_namespace};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::WorkloadView;

pub(super) const RUN_AS_NON_ROOT: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-run-as-non-root",
        title: "Run as non-root",
        category: Category::Security,
        severity: Severity::High,
        profiles: RESTRICTED,
        description: "Containers must be required to run as non-root users: runAsNonRoot must be true on the pod or \
                      on every container, and no container may set it to false.",
        remediation: "Set spec.securityContext.runAsNonRoot: true (or securityContext.runAsNonRoot: true on every \
                      container) and remove any runAsNonRoot: false.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "securityContext:\n  runAsNonRoot: true\ncontainers:\n- name: app\n",
    },
    build: no_params::<RunAsNonRoot>,
};

#[derive(Debug, Default)]
struct RunAsNonRoot;

impl Rule for RunAsNonRoot {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if in_user_namespace(w) {
            return;
        }
        let pod = Site::pod(w).bool("runAsNonRoot");
        if pod == Some(false) {
            out.push(Site::pod(w).violation("runAsNonRoot", "sets runAsNonRoot: false"));
        }
        for site in w.containers().map(Site::container) {
            match (site.bool("runAsNonRoot"), pod) {
                (Some(false), _) => {
                    out.push(site.violation("runAsNonRoot", "sets runAsNonRoot: false"))
                }
                // Unset on a container inherits the pod's value; an explicit false there is reported once.
                (None, None) => out.push(site.violation(
                    "runAsNonRoot",
                    "does not set runAsNonRoot: true, and neither does the pod",
                )),
                _ => {}
            }
        }
    }
}

pub(super) const RUN_AS_USER: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-run-as-user",
        title: "Run as a non-root user ID",
        category: Category::Security,
        severity: Severity::High,
        profiles: RESTRICTED,
        description: "Containers must not set runAsUser to 0 (root), on the pod or on any container.",
        remediation: "Set securityContext.runAsUser to a non-zero UID (e.g. 10001), or remove it and rely on the \
                      image's non-root USER.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    runAsUser: 0\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    runAsUser: 10001\n",
    },
    build: no_params::<RunAsUser>,
};

#[derive(Debug, Default)]
struct RunAsUser;

impl Rule for RunAsUser {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if in_user_namespace(w) {
            return;
        }
        for site in Site::all(w) {
            if site.get("runAsUser").and_then(serde_json::Value::as_i64) == Some(0) {
                out.push(site.violation("runAsUser", "runs as root (runAsUser: 0)"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_passes, assert_violation, check, spec_path, workload,
    };

    fn path(kind: crate::workload::WorkloadKind, container: &str, field: &str) -> String {
        spec_path(kind, &format!("{container}.securityContext.{field}"))
    }

    #[test]
    fn containers_without_run_as_non_root_fail_when_the_pod_does_not_set_it() {
        let spec = "initContainers: [{name: init}]\n\
                    containers: [{name: app, securityContext: {runAsNonRoot: true}}, {name: side}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {}}]";
        for kind in KINDS {
            let v = check("pss-run-as-non-root", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &path(kind, "initContainers[0]", "runAsNonRoot"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &path(kind, "containers[1]", "runAsNonRoot"),
                Some("side"),
            );
            assert_violation(
                &v[2],
                &path(kind, "ephemeralContainers[0]", "runAsNonRoot"),
                Some("dbg"),
            );
        }
    }

    #[test]
    fn explicit_false_fails_even_when_the_pod_sets_true() {
        let spec = "securityContext: {runAsNonRoot: true}\n\
                    containers: [{name: app, securityContext: {runAsNonRoot: false}}, {name: ok}]";
        for kind in KINDS {
            let v = check("pss-run-as-non-root", &workload(kind, spec));
            assert_one(
                &v,
                &path(kind, "containers[0]", "runAsNonRoot"),
                Some("app"),
            );
            assert!(v[0].message.contains("false"));
        }
    }

    #[test]
    fn pod_level_false_is_reported_once_at_the_pod() {
        let spec = "securityContext: {runAsNonRoot: false}\ncontainers: [{name: app}]";
        for kind in KINDS {
            let v = check("pss-run-as-non-root", &workload(kind, spec));
            assert_one(&v, &spec_path(kind, "securityContext.runAsNonRoot"), None);
        }
    }

    #[test]
    fn pod_level_true_or_every_container_true_or_user_namespace_passes() {
        let specs = [
            "securityContext: {runAsNonRoot: true}\ninitContainers: [{name: i}]\ncontainers: [{name: app}]",
            "containers: [{name: a, securityContext: {runAsNonRoot: true}}, {name: b, securityContext: {runAsNonRoot: true}}]",
            "hostUsers: false\ncontainers: [{name: app}]",
        ];
        for spec in specs {
            assert_passes("pss-run-as-non-root", spec);
        }
    }

    #[test]
    fn run_as_user_zero_fails_on_pod_and_containers() {
        let spec = "securityContext: {runAsUser: 0}\n\
                    initContainers: [{name: init, securityContext: {runAsUser: 0}}]\n\
                    containers: [{name: app, securityContext: {runAsUser: 1000}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {runAsUser: 0}}]";
        for kind in KINDS {
            let v = check("pss-run-as-user", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(&v[0], &spec_path(kind, "securityContext.runAsUser"), None);
            assert_violation(
                &v[1],
                &path(kind, "initContainers[0]", "runAsUser"),
                Some("init"),
            );
            assert_violation(
                &v[2],
                &path(kind, "ephemeralContainers[0]", "runAsUser"),
                Some("dbg"),
            );
        }
    }

    #[test]
    fn non_zero_unset_or_user_namespaced_root_passes() {
        let specs = [
            "securityContext: {runAsUser: 1000}\ncontainers: [{name: app}, {name: b, securityContext: {runAsUser: 2000}}]",
            "hostUsers: false\ncontainers: [{name: app, securityContext: {runAsUser: 0}}]",
        ];
        for spec in specs {
            assert_passes("pss-run-as-user", spec);
        }
    }
}
