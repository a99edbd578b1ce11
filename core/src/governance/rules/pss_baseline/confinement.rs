//! Baseline controls on kernel confinement: AppArmor, SELinux, seccomp and sysctls.

use serde_json::Value;

use super::BASELINE;
use crate::governance::rules::support::{Site, confined_profile, profile_type, show};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::{Fields, WorkloadView};

pub(super) const APPARMOR: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-apparmor",
        title: "AppArmor profile",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "Overriding or disabling the default AppArmor profile removes a layer of confinement. \
                      Checks appArmorProfile.type and the legacy container.apparmor.security.beta.kubernetes.io/* \
                      annotations of the pod template.",
        remediation: "Set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (or remove it); \
                      legacy annotations must be runtime/default or localhost/<profile>.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    appArmorProfile:\n      type: Unconfined\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    appArmorProfile:\n      type: RuntimeDefault\n",
    },
    build: no_params::<AppArmor>,
};

#[derive(Debug, Default)]
struct AppArmor;

const APPARMOR_ANNOTATION: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_apparmor_annotation(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|v| v.is_empty() || v == "runtime/default" || v.starts_with("localhost/"))
}

impl Rule for AppArmor {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for site in Site::all(w) {
            if let Some(profile) = site.map("appArmorProfile").filter(|p| !confined_profile(p)) {
                out.push(site.violation(
                    "appArmorProfile.type",
                    format_args!("sets AppArmor profile type {}", profile_type(profile)),
                ));
            }
        }
        let Some(annotations) = w.pod_metadata.map_field("annotations") else {
            return;
        };
        for (key, value) in annotations {
            let Some(container) = key.strip_prefix(APPARMOR_ANNOTATION) else {
                continue;
            };
            if !allowed_apparmor_annotation(value) {
                out.push(Violation::in_container(
                    format!("{}.annotations[{key:?}]", w.kind.pod_metadata_path()),
                    format!(
                        "container {container:?} uses AppArmor profile {} (annotation {key})",
                        show(value)
                    ),
                    container,
                ));
            }
        }
    }
}

pub(super) const SELINUX: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-selinux",
        title: "SELinux options",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "A custom SELinux user, role or type other than the container types can escape the container's \
                      SELinux confinement. Allowed types: container_t, container_init_t, container_kvm_t, container_engine_t.",
        remediation: "In securityContext.seLinuxOptions, remove user and role, and set type to container_t \
                      (or another container type) or leave it unset.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    seLinuxOptions:\n      type: spc_t\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    seLinuxOptions:\n      type: container_t\n      level: s0:c123,c456\n",
    },
    build: no_params::<SeLinux>,
};

#[derive(Debug, Default)]
struct SeLinux;

const SELINUX_TYPES: [&str; 5] = [
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Set to something other than null or "".
fn non_empty(v: &&Value) -> bool {
    !v.is_null() && v.as_str() != Some("")
}

impl Rule for SeLinux {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for site in Site::all(w) {
            let Some(options) = site.map("seLinuxOptions") else {
                continue;
            };
            let bad_type = options.get("type").filter(|t| {
                !t.is_null() && !t.as_str().is_some_and(|t| SELINUX_TYPES.contains(&t))
            });
            if let Some(t) = bad_type {
                out.push(site.violation(
                    "seLinuxOptions.type",
                    format_args!("sets SELinux type {}", show(t)),
                ));
            }
            for field in ["user", "role"] {
                if let Some(v) = options.get(field).filter(non_empty) {
                    out.push(site.violation(
                        &format!("seLinuxOptions.{field}"),
                        format_args!("sets SELinux {field} {}", show(v)),
                    ));
                }
            }
        }
    }
}

pub(super) const SECCOMP: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-seccomp-baseline",
        title: "Seccomp profile not Unconfined",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "An Unconfined seccomp profile removes system call filtering. Baseline allows an unset profile, \
                      but a set one must be RuntimeDefault or Localhost.",
        remediation: "Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile), \
                      on the pod or the container.",
        parameters: &[],
        example_fail: "securityContext:\n  seccompProfile:\n    type: Unconfined\ncontainers:\n- name: app\n",
        example_pass: "securityContext:\n  seccompProfile:\n    type: RuntimeDefault\ncontainers:\n- name: app\n",
    },
    build: no_params::<SeccompBaseline>,
};

#[derive(Debug, Default)]
struct SeccompBaseline;

impl Rule for SeccompBaseline {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for site in Site::all(w) {
            if let Some(profile) = site.map("seccompProfile").filter(|p| !confined_profile(p)) {
                out.push(site.violation(
                    "seccompProfile.type",
                    format_args!("sets seccomp profile type {}", profile_type(profile)),
                ));
            }
        }
    }
}

pub(super) const SYSCTLS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-sysctls",
        title: "Unsafe sysctls",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "Sysctls outside the namespaced, isolated safe set can disable security mechanisms or affect \
                      every pod on the node (safe set of Kubernetes 1.37).",
        remediation: "Remove spec.securityContext.sysctls entries outside the safe set, e.g. keep only \
                      net.ipv4.ip_local_port_range or net.ipv4.tcp_keepalive_time.",
        parameters: &[],
        example_fail: "securityContext:\n  sysctls:\n  - name: kernel.msgmax\n    value: \"65536\"\ncontainers:\n- name: app\n",
        example_pass: "securityContext:\n  sysctls:\n  - name: net.ipv4.ip_local_port_range\n    value: \"1024 65535\"\ncontainers:\n- name: app\n",
    },
    build: no_params::<Sysctls>,
};

#[derive(Debug, Default)]
struct Sysctls;

const SAFE_SYSCTLS: [&str; 14] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    // Added to the safe set in Kubernetes 1.37.
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

impl Rule for Sysctls {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for (i, sysctl) in Site::pod(w).list("sysctls").iter().enumerate() {
            let name = sysctl.get("name").unwrap_or(&Value::Null);
            if !name.as_str().is_some_and(|n| SAFE_SYSCTLS.contains(&n)) {
                out.push(Violation::new(
                    w.spec_path(&format!("securityContext.sysctls[{i}].name")),
                    format!(
                        "the pod sets sysctl {}, which is not in the safe set",
                        show(name)
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_passes, assert_violation, check, meta_path, spec_path, workload,
        workload_with,
    };

    #[test]
    fn apparmor_profile_types_fail_on_pod_and_containers() {
        let spec = "securityContext: {appArmorProfile: {type: Unconfined}}\n\
                    initContainers: [{name: init, securityContext: {appArmorProfile: {type: Localhost, localhostProfile: p}}}]\n\
                    containers: [{name: app, securityContext: {appArmorProfile: {type: Unconfined}}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {appArmorProfile: {}}}]";
        for kind in KINDS {
            let v = check("pss-apparmor", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "securityContext.appArmorProfile.type"),
                None,
            );
            let p = |s: &str| spec_path(kind, &format!("{s}.securityContext.appArmorProfile.type"));
            assert_violation(&v[1], &p("containers[0]"), Some("app"));
            assert_violation(&v[2], &p("ephemeralContainers[0]"), Some("dbg"));
            assert!(v[1].message.contains("\"Unconfined\""), "{}", v[1].message);
        }
    }

    #[test]
    fn apparmor_legacy_annotations_fail_unless_runtime_default_or_localhost() {
        let meta = "annotations:\n  container.apparmor.security.beta.kubernetes.io/app: unconfined\n  \
                    container.apparmor.security.beta.kubernetes.io/side: runtime/default\n  \
                    container.apparmor.security.beta.kubernetes.io/init: localhost/my-profile\n  \
                    unrelated: unconfined";
        let spec = "initContainers: [{name: init}]\ncontainers: [{name: app}, {name: side}]";
        for kind in KINDS {
            let v = check("pss-apparmor", &workload_with(kind, meta, spec));
            let path = meta_path(
                kind,
                "annotations[\"container.apparmor.security.beta.kubernetes.io/app\"]",
            );
            assert_one(&v, &path, Some("app"));
            assert!(v[0].message.contains("\"unconfined\""), "{}", v[0].message);
        }
    }

    #[test]
    fn apparmor_runtime_default_or_unset_passes() {
        let spec =
            "securityContext: {appArmorProfile: {type: RuntimeDefault}}\ncontainers: [{name: app}]";
        let meta = "annotations: {container.apparmor.security.beta.kubernetes.io/app: ''}";
        for kind in KINDS {
            assert_eq!(check("pss-apparmor", &workload_with(kind, meta, spec)), []);
        }
    }

    #[test]
    fn selinux_type_user_and_role_fail_separately() {
        let spec = "securityContext: {seLinuxOptions: {user: system_u, level: 's0'}}\n\
                    initContainers: [{name: init, securityContext: {seLinuxOptions: {type: spc_t, role: sysadm_r}}}]\n\
                    containers: [{name: app, securityContext: {seLinuxOptions: {type: container_t}}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {seLinuxOptions: {type: unconfined_t}}}]";
        for kind in KINDS {
            let v = check("pss-selinux", &workload(kind, spec));
            assert_eq!(v.len(), 4, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "securityContext.seLinuxOptions.user"),
                None,
            );
            let p = |s: &str, f: &str| {
                spec_path(kind, &format!("{s}.securityContext.seLinuxOptions.{f}"))
            };
            assert_violation(&v[1], &p("initContainers[0]", "type"), Some("init"));
            assert_violation(&v[2], &p("initContainers[0]", "role"), Some("init"));
            assert_violation(&v[3], &p("ephemeralContainers[0]", "type"), Some("dbg"));
            assert!(v[1].message.contains("spc_t"));
        }
    }

    #[test]
    fn selinux_container_types_and_levels_pass() {
        let spec = "securityContext: {seLinuxOptions: {level: 's0:c1,c2', user: '', role: ''}}\n\
                    containers: [{name: a, securityContext: {seLinuxOptions: {type: container_engine_t}}}, \
                    {name: b, securityContext: {seLinuxOptions: {type: container_init_t}}}]";
        assert_passes("pss-selinux", spec);
    }

    #[test]
    fn seccomp_unconfined_fails_on_pod_and_containers() {
        let spec = "securityContext: {seccompProfile: {type: Unconfined}}\n\
                    initContainers: [{name: init, securityContext: {seccompProfile: {type: Unconfined}}}]\n\
                    containers: [{name: app, securityContext: {seccompProfile: {type: RuntimeDefault}}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {seccompProfile: {type: Unconfined}}}]";
        for kind in KINDS {
            let v = check("pss-seccomp-baseline", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "securityContext.seccompProfile.type"),
                None,
            );
            let p = |s: &str| spec_path(kind, &format!("{s}.securityContext.seccompProfile.type"));
            assert_violation(&v[1], &p("initContainers[0]"), Some("init"));
            assert_violation(&v[2], &p("ephemeralContainers[0]"), Some("dbg"));
        }
    }

    #[test]
    fn seccomp_unset_runtime_default_or_localhost_passes() {
        let spec = "containers: [{name: a}, {name: b, securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}}]";
        assert_passes("pss-seccomp-baseline", spec);
    }

    #[test]
    fn each_unsafe_sysctl_is_reported() {
        let spec = "securityContext:\n  sysctls:\n  - {name: net.ipv4.tcp_syncookies, value: '1'}\n  \
                    - {name: kernel.msgmax, value: '65536'}\n  - {name: net.core.somaxconn, value: '1024'}\n\
                    containers: [{name: app}]";
        for kind in KINDS {
            let v = check("pss-sysctls", &workload(kind, spec));
            let expected = [
                spec_path(kind, "securityContext.sysctls[1].name"),
                spec_path(kind, "securityContext.sysctls[2].name"),
            ];
            assert_eq!(crate::governance::rules::testing::paths(&v), expected);
            assert!(v[0].message.contains("kernel.msgmax"));
        }
    }

    #[test]
    fn safe_sysctls_pass_including_the_1_37_additions() {
        let spec = "securityContext:\n  sysctls:\n  - {name: net.ipv4.tcp_rmem, value: '4096 87380 6291456'}\n  \
                    - {name: net.ipv4.tcp_notsent_lowat, value: '16384'}\n  - {name: kernel.shm_rmid_forced, value: '1'}\n\
                    containers: [{name: app}]";
        assert_passes("pss-sysctls", spec);
    }
}
