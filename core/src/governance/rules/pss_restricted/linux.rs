//! Restricted Linux hardening: privilege escalation, seccomp, capabilities, and /proc mounts of
//! user-namespaced pods. The first three are Linux-only: PSS exempts `spec.os.name: windows`.

use serde_json::{Map, Value};

use super::RESTRICTED;
use crate::governance::rules::pss_baseline::proc_mount_violations;
use crate::governance::rules::support::{
    Shown, Site, confined_profile, in_user_namespace, is_windows, profile_type,
};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::WorkloadView;

pub(super) const PRIVILEGE_ESCALATION: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-privilege-escalation",
        title: "Privilege escalation",
        category: Category::Security,
        severity: Severity::High,
        profiles: RESTRICTED,
        description: "Every container must set allowPrivilegeEscalation: false, so setuid binaries and file \
                      capabilities cannot gain more privileges than the process started with. Windows pods are exempt.",
        remediation: "Set securityContext.allowPrivilegeEscalation: false on every container, init and ephemeral \
                      containers included.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    allowPrivilegeEscalation: false\n",
    },
    build: no_params::<PrivilegeEscalation>,
};

#[derive(Debug, Default)]
struct PrivilegeEscalation;

impl Rule for PrivilegeEscalation {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if is_windows(w) {
            return;
        }
        for site in w.containers().map(Site::container) {
            let what = match site.bool("allowPrivilegeEscalation") {
                Some(false) => continue,
                Some(true) => "allows privilege escalation (allowPrivilegeEscalation: true)",
                None => "does not set allowPrivilegeEscalation: false",
            };
            out.push(site.violation("allowPrivilegeEscalation", what));
        }
    }
}

pub(super) const SECCOMP: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-seccomp-restricted",
        title: "Seccomp profile required",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: RESTRICTED,
        description: "Seccomp must be enabled: seccompProfile.type must be RuntimeDefault or Localhost on the pod, or \
                      on every container when the pod does not set it. Windows pods are exempt.",
        remediation: "Set spec.securityContext.seccompProfile.type: RuntimeDefault on the pod (or on every container).",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "securityContext:\n  seccompProfile:\n    type: RuntimeDefault\ncontainers:\n- name: app\n",
    },
    build: no_params::<SeccompRestricted>,
};

#[derive(Debug, Default)]
struct SeccompRestricted;

fn bad_seccomp_profile(site: &Site<'_>, profile: &Map<String, Value>) -> Violation {
    site.violation(
        "seccompProfile.type",
        format_args!("sets seccomp profile type {}", profile_type(profile)),
    )
}

impl Rule for SeccompRestricted {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if is_windows(w) {
            return;
        }
        let pod = Site::pod(w);
        let pod_profile = pod.map("seccompProfile");
        if let Some(p) = pod_profile.filter(|p| !confined_profile(p)) {
            out.push(bad_seccomp_profile(&pod, p));
        }
        for site in w.containers().map(Site::container) {
            match site.map("seccompProfile") {
                Some(p) if !confined_profile(p) => out.push(bad_seccomp_profile(&site, p)),
                // Unset inherits the pod's profile; a bad pod profile is reported once, at the pod.
                None if pod_profile.is_none() => out.push(site.violation(
                    "seccompProfile.type",
                    "does not set a seccomp profile (RuntimeDefault or Localhost), and neither does the pod",
                )),
                _ => {}
            }
        }
    }
}

pub(super) const CAPABILITIES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-capabilities-restricted",
        title: "Capabilities dropped",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: RESTRICTED,
        description: "Every container must drop ALL capabilities and may add back only NET_BIND_SERVICE. \
                      Windows pods are exempt.",
        remediation: "Set securityContext.capabilities.drop: [ALL] on every container and remove any added \
                      capability other than NET_BIND_SERVICE.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    capabilities:\n      add: [CHOWN]\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    capabilities:\n      drop: [ALL]\n      add: [NET_BIND_SERVICE]\n",
    },
    build: no_params::<CapabilitiesRestricted>,
};

#[derive(Debug, Default)]
struct CapabilitiesRestricted;

impl Rule for CapabilitiesRestricted {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if is_windows(w) {
            return;
        }
        for site in w.containers().map(Site::container) {
            if !site
                .list("capabilities.drop")
                .iter()
                .any(|c| c.as_str() == Some("ALL"))
            {
                out.push(site.violation("capabilities.drop", "does not drop ALL capabilities"));
            }
            for (i, cap) in site.list("capabilities.add").iter().enumerate() {
                if cap.as_str() != Some("NET_BIND_SERVICE") {
                    out.push(site.violation_indexed(
                        "capabilities.add",
                        i,
                        format_args!(
                            "adds capability {}; only NET_BIND_SERVICE may be added",
                            Shown(cap)
                        ),
                    ));
                }
            }
        }
    }
}

pub(super) const PROC_MOUNT: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-proc-mount-restricted",
        title: "/proc mount type (user-namespaced pods)",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: RESTRICTED,
        description: "Restricted requires the Default /proc mount even for pods in a user namespace \
                      (spec.hostUsers: false), which baseline exempts; pss-proc-mount covers all other pods.",
        remediation: "Remove securityContext.procMount or set it to Default.",
        parameters: &[],
        example_fail: "hostUsers: false\ncontainers:\n- name: app\n  securityContext:\n    procMount: Unmasked\n",
        example_pass: "hostUsers: false\ncontainers:\n- name: app\n  securityContext:\n    procMount: Default\n",
    },
    build: no_params::<ProcMountRestricted>,
};

#[derive(Debug, Default)]
struct ProcMountRestricted;

impl Rule for ProcMountRestricted {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if in_user_namespace(w) {
            proc_mount_violations(w, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_passes, assert_violation, check, paths, spec_path, workload,
    };
    use crate::workload::WorkloadKind;

    fn path(kind: WorkloadKind, container: &str, field: &str) -> String {
        spec_path(kind, &format!("{container}.securityContext.{field}"))
    }

    #[test]
    fn privilege_escalation_unset_or_true_fails_in_every_container_list() {
        let spec = "initContainers: [{name: init}]\n\
                    containers: [{name: ok, securityContext: {allowPrivilegeEscalation: false}}, \
                    {name: app, securityContext: {allowPrivilegeEscalation: true}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {}}]";
        for kind in KINDS {
            let v = check("pss-privilege-escalation", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &path(kind, "initContainers[0]", "allowPrivilegeEscalation"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &path(kind, "containers[1]", "allowPrivilegeEscalation"),
                Some("app"),
            );
            assert_violation(
                &v[2],
                &path(kind, "ephemeralContainers[0]", "allowPrivilegeEscalation"),
                Some("dbg"),
            );
            assert!(v[1].message.contains("true") && v[0].message.contains("does not set"));
        }
    }

    #[test]
    fn privilege_escalation_false_everywhere_or_windows_passes() {
        let specs = [
            "initContainers: [{name: i, securityContext: {allowPrivilegeEscalation: false}}]\n\
             containers: [{name: app, securityContext: {allowPrivilegeEscalation: false}}]",
            "os: {name: windows}\ncontainers: [{name: app}]",
        ];
        for spec in specs {
            assert_passes("pss-privilege-escalation", spec);
        }
    }

    #[test]
    fn seccomp_unset_on_pod_and_container_fails_per_container() {
        let spec = "initContainers: [{name: init}]\n\
                    containers: [{name: ok, securityContext: {seccompProfile: {type: RuntimeDefault}}}, {name: app}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {seccompProfile: {type: Unconfined}}}]";
        for kind in KINDS {
            let v = check("pss-seccomp-restricted", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &path(kind, "initContainers[0]", "seccompProfile.type"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &path(kind, "containers[1]", "seccompProfile.type"),
                Some("app"),
            );
            assert_violation(
                &v[2],
                &path(kind, "ephemeralContainers[0]", "seccompProfile.type"),
                Some("dbg"),
            );
            assert!(v[2].message.contains("Unconfined"));
        }
    }

    #[test]
    fn seccomp_bad_pod_profile_is_reported_at_the_pod() {
        let spec = "securityContext: {seccompProfile: {type: Unconfined}}\n\
                    containers: [{name: app}, {name: side, securityContext: {seccompProfile: {type: Localhost}}}]";
        for kind in KINDS {
            let v = check("pss-seccomp-restricted", &workload(kind, spec));
            assert_one(
                &v,
                &spec_path(kind, "securityContext.seccompProfile.type"),
                None,
            );
        }
    }

    #[test]
    fn seccomp_pod_level_or_every_container_or_windows_passes() {
        let specs = [
            "securityContext: {seccompProfile: {type: RuntimeDefault}}\ninitContainers: [{name: i}]\ncontainers: [{name: app}]",
            "containers: [{name: a, securityContext: {seccompProfile: {type: Localhost, localhostProfile: p}}}]",
            "os: {name: windows}\ncontainers: [{name: app}]",
        ];
        for spec in specs {
            assert_passes("pss-seccomp-restricted", spec);
        }
    }

    #[test]
    fn capabilities_must_drop_all_and_add_only_net_bind_service() {
        let spec = "initContainers: [{name: init}]\n\
                    containers: [{name: app, securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CHOWN]}}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {capabilities: {drop: [NET_RAW]}}}]";
        for kind in KINDS {
            let v = check("pss-capabilities-restricted", &workload(kind, spec));
            let expected = [
                path(kind, "initContainers[0]", "capabilities.drop"),
                path(kind, "containers[0]", "capabilities.add[1]"),
                path(kind, "ephemeralContainers[0]", "capabilities.drop"),
            ];
            assert_eq!(paths(&v), expected);
            assert_violation(&v[1], &expected[1], Some("app"));
            assert!(v[1].message.contains("\"CHOWN\""));
            assert_violation(&v[0], &expected[0], Some("init"));
            assert_violation(&v[2], &expected[2], Some("dbg"));
        }
    }

    #[test]
    fn capabilities_dropped_or_windows_passes() {
        let specs = [
            "initContainers: [{name: i, securityContext: {capabilities: {drop: [ALL]}}}]\n\
             containers: [{name: app, securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}}]",
            "os: {name: windows}\ncontainers: [{name: app}]",
        ];
        for spec in specs {
            assert_passes("pss-capabilities-restricted", spec);
        }
    }

    #[test]
    fn proc_mount_restricted_covers_user_namespaced_pods_only() {
        let containers = "initContainers: [{name: init, securityContext: {procMount: Unmasked}}]\n\
                          containers: [{name: app, securityContext: {procMount: Default}}]";
        for kind in KINDS {
            let user_ns = format!("hostUsers: false\n{containers}");
            let v = check("pss-proc-mount-restricted", &workload(kind, &user_ns));
            assert_one(
                &v,
                &path(kind, "initContainers[0]", "procMount"),
                Some("init"),
            );
            // Without a user namespace pss-proc-mount reports it; this rule stays quiet to avoid a duplicate.
            assert_eq!(
                check("pss-proc-mount-restricted", &workload(kind, containers)),
                []
            );
            assert_eq!(
                check("pss-proc-mount", &workload(kind, containers)).len(),
                1
            );
        }
    }
}
