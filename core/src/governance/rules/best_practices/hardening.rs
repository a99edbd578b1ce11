//! Container hardening beyond PSS: writable root filesystems and automatically mounted service
//! account tokens.

use super::BEST_PRACTICES;
use crate::governance::rules::support::Site;
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::WorkloadView;

pub(super) const READ_ONLY_ROOT_FILESYSTEM: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "read-only-root-filesystem",
        title: "Read-only root filesystem",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "A writable root filesystem lets an attacker persist tools and modify binaries in the container. \
                      Checks init, regular and ephemeral (kubectl debug) containers.",
        remediation: "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the application \
                      needs to write (e.g. /tmp).",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "containers:\n- name: app\n  securityContext:\n    readOnlyRootFilesystem: true\n",
    },
    build: no_params::<ReadOnlyRootFilesystem>,
};

#[derive(Debug, Default)]
struct ReadOnlyRootFilesystem;

impl Rule for ReadOnlyRootFilesystem {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for site in w.containers().map(Site::container) {
            let what = match site.bool("readOnlyRootFilesystem") {
                Some(true) => continue,
                Some(false) => "has a writable root filesystem (readOnlyRootFilesystem: false)",
                None => "does not set readOnlyRootFilesystem: true",
            };
            out.push(site.violation("readOnlyRootFilesystem", what));
        }
    }
}

pub(super) const AUTOMOUNT_SERVICE_ACCOUNT_TOKEN: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "automount-service-account-token",
        title: "Service account token not mounted",
        category: Category::Security,
        severity: Severity::Low,
        profiles: BEST_PRACTICES,
        description: "Most workloads never call the Kubernetes API, yet get a service account token mounted unless the \
                      pod spec sets automountServiceAccountToken: false (a ServiceAccount-level setting is not visible \
                      here).",
        remediation: "Set spec.automountServiceAccountToken: false in the pod spec; workloads that need the API can \
                      use a projected serviceAccountToken volume instead.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n",
        example_pass: "automountServiceAccountToken: false\ncontainers:\n- name: app\n",
    },
    build: no_params::<AutomountServiceAccountToken>,
};

#[derive(Debug, Default)]
struct AutomountServiceAccountToken;

impl Rule for AutomountServiceAccountToken {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        let message = match w.automount_service_account_token() {
            Some(false) => return,
            Some(true) => {
                "the pod mounts a service account token (automountServiceAccountToken: true)"
            }
            None => {
                "the pod does not set automountServiceAccountToken: false, so a service account token is mounted"
            }
        };
        out.push(Violation::new(
            w.spec_path("automountServiceAccountToken"),
            message.to_owned(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_violation, check, spec_path, workload,
    };

    #[test]
    fn writable_root_filesystems_fail_in_every_container_list() {
        let spec = "initContainers: [{name: init, securityContext: {readOnlyRootFilesystem: false}}]\n\
                    containers: [{name: ro, securityContext: {readOnlyRootFilesystem: true}}, {name: app}]\n\
                    ephemeralContainers: [{name: dbg}]";
        for kind in KINDS {
            let v = check("read-only-root-filesystem", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            let p =
                |c: &str| spec_path(kind, &format!("{c}.securityContext.readOnlyRootFilesystem"));
            assert_violation(&v[0], &p("initContainers[0]"), Some("init"));
            assert_violation(&v[1], &p("containers[1]"), Some("app"));
            assert_violation(&v[2], &p("ephemeralContainers[0]"), Some("dbg"));
        }
    }

    #[test]
    fn read_only_root_filesystems_pass() {
        let spec = "initContainers: [{name: i, securityContext: {readOnlyRootFilesystem: true}}]\n\
                    containers: [{name: app, securityContext: {readOnlyRootFilesystem: true}}]";
        for kind in KINDS {
            assert_eq!(
                check("read-only-root-filesystem", &workload(kind, spec)),
                []
            );
        }
    }

    #[test]
    fn automount_unset_or_true_fails_at_the_pod_spec() {
        for kind in KINDS {
            for spec in [
                "containers: [{name: app}]",
                "automountServiceAccountToken: true\ncontainers: [{name: app}]",
            ] {
                let v = check("automount-service-account-token", &workload(kind, spec));
                assert_one(&v, &spec_path(kind, "automountServiceAccountToken"), None);
            }
        }
    }

    #[test]
    fn automount_false_passes() {
        let spec = "automountServiceAccountToken: false\ncontainers: [{name: app}]";
        for kind in KINDS {
            assert_eq!(
                check("automount-service-account-token", &workload(kind, spec)),
                []
            );
        }
    }
}
