//! Baseline controls on a container's own privileges: privileged mode, added capabilities and
//! the /proc mount type.

use serde_json::Value;

use super::BASELINE;
use crate::governance::rules::support::{Shown, Site, container_violation, in_user_namespace};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::WorkloadView;

pub(super) const PRIVILEGED: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-privileged",
        title: "Privileged containers",
        category: Category::Security,
        severity: Severity::Critical,
        profiles: BASELINE,
        description: "Privileged containers disable most security mechanisms and get full access to the host.",
        remediation: "Remove securityContext.privileged or set it to false.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    privileged: true\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    privileged: false\n",
    },
    build: no_params::<Privileged>,
};

#[derive(Debug, Default)]
struct Privileged;

impl Rule for Privileged {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for c in w.containers() {
            if c.security().get("privileged").and_then(Value::as_bool) == Some(true) {
                out.push(container_violation(
                    c,
                    "securityContext.privileged",
                    "runs privileged",
                ));
            }
        }
    }
}

pub(super) const CAPABILITIES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-capabilities-baseline",
        title: "Capabilities beyond the default set",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "Adding Linux capabilities beyond the container runtime's default set (AUDIT_WRITE, CHOWN, \
                      DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, \
                      SYS_CHROOT) grants privileges such as SYS_ADMIN or NET_ADMIN. Names are compared exactly, as PSS does.",
        remediation: "Remove every capability outside the default set from securityContext.capabilities.add.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    capabilities:\n      add: [SYS_ADMIN]\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    capabilities:\n      add: [NET_BIND_SERVICE]\n",
    },
    build: no_params::<Capabilities>,
};

#[derive(Debug, Default)]
struct Capabilities;

const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

impl Rule for Capabilities {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for site in w.containers().map(Site::container) {
            for (i, cap) in site.list("capabilities.add").iter().enumerate() {
                if !cap
                    .as_str()
                    .is_some_and(|c| BASELINE_CAPABILITIES.contains(&c))
                {
                    out.push(site.violation_indexed(
                        "capabilities.add",
                        i,
                        format_args!("adds capability {} beyond the baseline set", Shown(cap)),
                    ));
                }
            }
        }
    }
}

pub(super) const PROC_MOUNT: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-proc-mount",
        title: "/proc mount type",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "An Unmasked /proc mount exposes host kernel interfaces that the default masks hide. \
                      As in PSS 1.35+, baseline allows it for pods in a user namespace (spec.hostUsers: false); \
                      pss-proc-mount-restricted covers those.",
        remediation: "Remove securityContext.procMount or set it to Default.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  securityContext:\n    procMount: Unmasked\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    procMount: Default\n",
    },
    build: no_params::<ProcMount>,
};

#[derive(Debug, Default)]
struct ProcMount;

impl Rule for ProcMount {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if !in_user_namespace(w) {
            proc_mount_violations(w, out);
        }
    }
}

/// A violation for every container whose procMount is set to anything but Default.
pub(crate) fn proc_mount_violations(w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
    for site in w.containers().map(Site::container) {
        if let Some(mount) = site
            .get("procMount")
            .filter(|m| !m.is_null() && m.as_str() != Some("Default"))
        {
            out.push(site.violation("procMount", format_args!("sets procMount {}", Shown(mount))));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_passes, assert_violation, check, spec_path, workload,
    };

    #[test]
    fn privileged_fails_in_every_container_list() {
        let spec = "initContainers: [{name: init, securityContext: {privileged: true}}]\n\
                    containers: [{name: ok}, {name: app, securityContext: {privileged: true}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {privileged: true}}]";
        for kind in KINDS {
            let v = check("pss-privileged", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "initContainers[0].securityContext.privileged"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &spec_path(kind, "containers[1].securityContext.privileged"),
                Some("app"),
            );
            assert_violation(
                &v[2],
                &spec_path(kind, "ephemeralContainers[0].securityContext.privileged"),
                Some("dbg"),
            );
        }
    }

    #[test]
    fn unprivileged_passes() {
        let spec = "containers: [{name: a, securityContext: {privileged: false}}, {name: b}]";
        assert_passes("pss-privileged", spec);
    }

    #[test]
    fn each_capability_beyond_baseline_is_reported() {
        let spec = "initContainers: [{name: init, securityContext: {capabilities: {add: [CHOWN, NET_ADMIN]}}}]\n\
                    containers: [{name: app, securityContext: {capabilities: {add: [SYS_ADMIN, KILL, CAP_CHOWN]}}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {capabilities: {add: [SYS_PTRACE]}}}]";
        for kind in KINDS {
            let v = check("pss-capabilities-baseline", &workload(kind, spec));
            assert_eq!(v.len(), 4, "{v:#?}");
            let p = |s: &str| spec_path(kind, &format!("{s}.securityContext.capabilities.add"));
            assert_violation(
                &v[0],
                &format!("{}[1]", p("initContainers[0]")),
                Some("init"),
            );
            assert_violation(&v[1], &format!("{}[0]", p("containers[0]")), Some("app"));
            assert_violation(&v[2], &format!("{}[2]", p("containers[0]")), Some("app"));
            assert_violation(
                &v[3],
                &format!("{}[0]", p("ephemeralContainers[0]")),
                Some("dbg"),
            );
            assert!(v[1].message.contains("\"SYS_ADMIN\""), "{}", v[1].message);
            assert!(
                v[2].message.contains("CAP_CHOWN"),
                "the CAP_ prefix is not a baseline name"
            );
        }
    }

    #[test]
    fn baseline_capabilities_and_drops_pass() {
        let spec = "containers: [{name: app, securityContext: {capabilities: {add: [NET_BIND_SERVICE, SETUID, SYS_CHROOT], drop: [ALL]}}}]";
        for kind in KINDS {
            assert_eq!(
                check("pss-capabilities-baseline", &workload(kind, spec)),
                []
            );
        }
    }

    #[test]
    fn unmasked_proc_mount_fails_unless_user_namespaced() {
        let spec = "initContainers: [{name: init, securityContext: {procMount: Unmasked}}]\n\
                    containers: [{name: app, securityContext: {procMount: Default}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {procMount: Unmasked}}]";
        for kind in KINDS {
            let v = check("pss-proc-mount", &workload(kind, spec));
            assert_eq!(v.len(), 2, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "initContainers[0].securityContext.procMount"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &spec_path(kind, "ephemeralContainers[0].securityContext.procMount"),
                Some("dbg"),
            );
            let explicit_host_users = format!("hostUsers: true\n{spec}");
            assert_eq!(
                check("pss-proc-mount", &workload(kind, &explicit_host_users)).len(),
                2
            );
        }
    }

    #[test]
    fn proc_mount_default_unset_or_user_namespaced_passes() {
        let user_ns =
            "hostUsers: false\ncontainers: [{name: app, securityContext: {procMount: Unmasked}}]";
        for kind in KINDS {
            assert_eq!(check("pss-proc-mount", &workload(kind, user_ns)), []);
            let plain =
                "containers: [{name: app, securityContext: {procMount: Default}}, {name: b}]";
            assert_eq!(check("pss-proc-mount", &workload(kind, plain)), []);
            let one = "containers: [{name: app, securityContext: {procMount: Unmasked}}]";
            let v = check("pss-proc-mount", &workload(kind, one));
            assert_one(
                &v,
                &spec_path(kind, "containers[0].securityContext.procMount"),
                Some("app"),
            );
        }
    }
}
