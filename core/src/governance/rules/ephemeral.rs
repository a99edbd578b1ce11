//! Ephemeral containers in every rule. `kubectl debug` adds containers to a running Pod through
//! the `pods/ephemeralcontainers` subresource, so a rule that skipped them would let a debug
//! container run privileged, as root or from any image. Every rule that reads containers checks
//! them, as Pod Security Admission does for every PSS control; only the rules demanding a field
//! the API forbids on ephemeral containers (ports, probes, lifecycle and resources:
//! `allowedEphemeralContainerFields` in Kubernetes' pod validation) exempt them, since no
//! ephemeral container could ever satisfy them. Every library rule is classified here, so a new
//! rule cannot skip the question.

use serde_json::{Value, json};

use crate::governance::library;
use crate::governance::rules::testing::{
    KINDS, SERVICE_KINDS, assert_one, check_with, spec_path, workload,
};

/// Rules reading containers: a pod spec whose only violation is in the ephemeral container
/// `dbg`, the path of that violation below `ephemeralContainers[0]`, and the rule's parameters.
const CHECKED: [(&str, &str, &str, &str); 19] = [
    (
        "pss-privileged",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {privileged: true}}]",
        "securityContext.privileged",
    ),
    (
        "pss-capabilities-baseline",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]",
        "securityContext.capabilities.add[0]",
    ),
    (
        "pss-proc-mount",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {procMount: Unmasked}}]",
        "securityContext.procMount",
    ),
    (
        "pss-apparmor",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {appArmorProfile: {type: Unconfined}}}]",
        "securityContext.appArmorProfile.type",
    ),
    (
        "pss-selinux",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {seLinuxOptions: {type: unconfined_t}}}]",
        "securityContext.seLinuxOptions.type",
    ),
    (
        "pss-seccomp-baseline",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {seccompProfile: {type: Unconfined}}}]",
        "securityContext.seccompProfile.type",
    ),
    (
        "pss-windows-host-process",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {windowsOptions: {hostProcess: true}}}]",
        "securityContext.windowsOptions.hostProcess",
    ),
    (
        // The API refuses ports on ephemeral containers; checked anyway, as PSA does.
        "pss-host-ports",
        "{}",
        "containers: [{name: app, ports: [{containerPort: 80}]}]\n\
         ephemeralContainers: [{name: dbg, ports: [{containerPort: 2, hostPort: 2}]}]",
        "ports[0].hostPort",
    ),
    (
        // Probes too are refused by the API on ephemeral containers; checked as PSA does.
        "pss-host-probes",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, readinessProbe: {tcpSocket: {host: evil, port: 1}}}]",
        "readinessProbe.tcpSocket.host",
    ),
    (
        "pss-privilege-escalation",
        "{}",
        "containers: [{name: app, securityContext: {allowPrivilegeEscalation: false}}]\n\
         ephemeralContainers: [{name: dbg}]",
        "securityContext.allowPrivilegeEscalation",
    ),
    (
        "pss-seccomp-restricted",
        "{}",
        "securityContext: {seccompProfile: {type: RuntimeDefault}}\n\
         containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {seccompProfile: {type: Unconfined}}}]",
        "securityContext.seccompProfile.type",
    ),
    (
        "pss-capabilities-restricted",
        "{}",
        "containers: [{name: app, securityContext: {capabilities: {drop: [ALL]}}}]\n\
         ephemeralContainers: [{name: dbg}]",
        "securityContext.capabilities.drop",
    ),
    (
        "pss-proc-mount-restricted",
        "{}",
        "hostUsers: false\n\
         containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {procMount: Unmasked}}]",
        "securityContext.procMount",
    ),
    (
        "pss-run-as-non-root",
        "{}",
        "securityContext: {runAsNonRoot: true}\n\
         containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {runAsNonRoot: false}}]",
        "securityContext.runAsNonRoot",
    ),
    (
        "pss-run-as-user",
        "{}",
        "containers: [{name: app}]\n\
         ephemeralContainers: [{name: dbg, securityContext: {runAsUser: 0}}]",
        "securityContext.runAsUser",
    ),
    (
        "image-tag-pinned",
        "{}",
        "containers: [{name: app, image: 'nginx:1.27'}]\n\
         ephemeralContainers: [{name: dbg, image: busybox}]",
        "image",
    ),
    (
        "allowed-registries",
        "{registries: [registry.example.com]}",
        "containers: [{name: app, image: 'registry.example.com/app:1'}]\n\
         ephemeralContainers: [{name: dbg, image: 'docker.io/library/busybox:1.36'}]",
        "image",
    ),
    (
        "secret-env-vars",
        "{}",
        "containers: [{name: app, env: [{name: LOG_LEVEL, value: debug}]}]\n\
         ephemeralContainers: [{name: dbg, env: [{name: ADMIN_TOKEN, value: s3cr3t}]}]",
        "env[0].value",
    ),
    (
        "read-only-root-filesystem",
        "{}",
        "containers: [{name: app, securityContext: {readOnlyRootFilesystem: true}}]\n\
         ephemeralContainers: [{name: dbg}]",
        "securityContext.readOnlyRootFilesystem",
    ),
];

/// Rules demanding a field the API forbids on ephemeral containers: a regular container that
/// sets it, and the field a container without it is reported at.
const EXEMPT: [(&str, &str, &str); 6] = [
    (
        "liveness-probe",
        "{name: app, livenessProbe: {exec: {command: [a]}}}",
        "livenessProbe",
    ),
    (
        "readiness-probe",
        "{name: app, readinessProbe: {exec: {command: [a]}}}",
        "readinessProbe",
    ),
    (
        "cpu-requests",
        "{name: app, resources: {requests: {cpu: 1}}}",
        "resources.requests.cpu",
    ),
    (
        "memory-requests",
        "{name: app, resources: {requests: {memory: 1Gi}}}",
        "resources.requests.memory",
    ),
    (
        "cpu-limits",
        "{name: app, resources: {limits: {cpu: 1}}}",
        "resources.limits.cpu",
    ),
    (
        "memory-limits",
        "{name: app, resources: {limits: {memory: 1Gi}}}",
        "resources.limits.memory",
    ),
];

/// Rules that read no container at all.
const POD_LEVEL: [&str; 8] = [
    "pss-sysctls",
    "pss-host-namespaces",
    "pss-host-path-volumes",
    "pss-volume-types",
    "automount-service-account-token",
    "min-replicas",
    "required-labels",
    "default-namespace",
];

fn params(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("parameters {text}: {e}"))
}

#[test]
fn every_library_rule_is_classified_once() {
    let mut classified: Vec<&str> = CHECKED
        .iter()
        .map(|(id, ..)| *id)
        .chain(EXEMPT.iter().map(|(id, ..)| *id))
        .chain(POD_LEVEL)
        .collect();
    classified.sort_unstable();
    let mut ids: Vec<&str> = library().iter().map(|r| r.meta.id).collect();
    ids.sort_unstable();
    assert_eq!(classified, ids);
}

#[test]
fn a_violating_ephemeral_container_is_found_at_its_own_path() {
    for (id, parameters, spec, suffix) in CHECKED {
        for kind in KINDS {
            let v = check_with(id, &params(parameters), &workload(kind, spec));
            let path = spec_path(kind, &format!("ephemeralContainers[0].{suffix}"));
            assert_eq!(v.len(), 1, "{id} on {kind:?}: {v:#?}");
            assert_one(&v, &path, Some("dbg"));
        }
    }
}

#[test]
fn exempt_rules_say_why_and_skip_only_ephemeral_containers() {
    for (id, regular, field) in EXEMPT {
        let rule = crate::governance::rule(id).unwrap_or_else(|| panic!("no rule {id}"));
        assert!(
            rule.meta.description.contains("the API forbids")
                && rule.meta.description.contains("on ephemeral containers"),
            "{id} does not say why it exempts ephemeral containers: {}",
            rule.meta.description
        );
        // Probes are checked on long-running pods only.
        for kind in SERVICE_KINDS {
            let debugged = format!("containers: [{regular}]\nephemeralContainers: [{{name: dbg}}]");
            assert_eq!(check_with(id, &json!({}), &workload(kind, &debugged)), []);
            // The same container in the regular list is a violation.
            let regular_too = format!("containers: [{regular}, {{name: dbg}}]");
            let v = check_with(id, &json!({}), &workload(kind, &regular_too));
            let path = spec_path(kind, &format!("containers[1].{field}"));
            assert_one(&v, &path, Some("dbg"));
        }
    }
}
