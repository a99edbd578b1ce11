//! Baseline controls that keep a pod off the host: HostProcess, host namespaces, hostPath volumes,
//! host ports, and probes or lifecycle hooks aimed at other hosts.

use serde_json::Value;

use super::BASELINE;
use crate::governance::rules::support::{
    Quoted, Site, container_violation, container_violation_indexed, volumes,
};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::{Fields, HostNamespace, ProbeKind, WorkloadView};

pub(super) const HOST_PROCESS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-windows-host-process",
        title: "Windows HostProcess containers",
        category: Category::Security,
        severity: Severity::Critical,
        profiles: BASELINE,
        description: "Windows HostProcess containers run directly on the host with privileged access to it.",
        remediation: "Remove securityContext.windowsOptions.hostProcess (pod and containers) or set it to false.",
        parameters: &[],
        example_fail: "securityContext:\n  windowsOptions:\n    hostProcess: true\ncontainers:\n- name: app\n",
        example_pass: "containers:\n- name: app\n",
    },
    build: no_params::<HostProcess>,
};

#[derive(Debug, Default)]
struct HostProcess;

impl Rule for HostProcess {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for site in Site::all(w) {
            if site.bool("windowsOptions.hostProcess") == Some(true) {
                out.push(site.violation(
                    "windowsOptions.hostProcess",
                    "runs as a Windows HostProcess container (windowsOptions.hostProcess: true)",
                ));
            }
        }
    }
}

pub(super) const HOST_NAMESPACES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-host-namespaces",
        title: "Host namespaces",
        category: Category::Security,
        severity: Severity::Critical,
        profiles: BASELINE,
        description: "Sharing the host's network, PID or IPC namespace lets the pod see and reach host processes and traffic.",
        remediation: "Remove spec.hostNetwork, spec.hostPID and spec.hostIPC or set them to false.",
        parameters: &[],
        example_fail: "hostNetwork: true\ncontainers:\n- name: app\n",
        example_pass: "hostNetwork: false\ncontainers:\n- name: app\n",
    },
    build: no_params::<HostNamespaces>,
};

#[derive(Debug, Default)]
struct HostNamespaces;

const HOST_NAMESPACE_FIELDS: [(HostNamespace, &str); 3] = [
    (HostNamespace::Network, "network"),
    (HostNamespace::Pid, "process (PID)"),
    (HostNamespace::Ipc, "IPC"),
];

impl Rule for HostNamespaces {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for (host, namespace) in HOST_NAMESPACE_FIELDS {
            if w.host_namespace(host) == Some(true) {
                let field = host.field();
                out.push(Violation::new(
                    w.spec_path(field),
                    format!("the pod shares the host's {namespace} namespace ({field}: true)"),
                ));
            }
        }
    }
}

pub(super) const HOST_PATH_VOLUMES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-host-path-volumes",
        title: "HostPath volumes",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "A hostPath volume mounts a directory of the node into the pod, exposing host files and sockets.",
        remediation: "Replace spec.volumes[*].hostPath with an emptyDir, configMap, secret or persistentVolumeClaim volume.",
        parameters: &[],
        example_fail: "containers:\n- name: app\nvolumes:\n- name: docker\n  hostPath:\n    path: /var/run/docker.sock\n",
        example_pass: "containers:\n- name: app\nvolumes:\n- name: scratch\n  emptyDir: {}\n",
    },
    build: no_params::<HostPathVolumes>,
};

#[derive(Debug, Default)]
struct HostPathVolumes;

impl Rule for HostPathVolumes {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for (i, name, volume) in volumes(w) {
            let Some(host_path) = volume.get("hostPath").filter(|v| !v.is_null()) else {
                continue;
            };
            let dir = host_path.get("path").and_then(Value::as_str).unwrap_or("");
            out.push(Violation::new(
                w.spec_path(&format!("volumes[{i}].hostPath")),
                format!("volume {name:?} mounts the host path {dir:?}"),
            ));
        }
    }
}

pub(super) const HOST_PORTS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-host-ports",
        title: "Host ports",
        category: Category::Security,
        severity: Severity::High,
        profiles: BASELINE,
        description: "A hostPort binds a port on the node's own network interfaces, bypassing network policy and exposing the pod outside the cluster network.",
        remediation: "Remove ports[*].hostPort (or set it to 0) and expose the pod through a Service.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  ports:\n  - containerPort: 8080\n    hostPort: 8080\n",
        example_pass: "containers:\n- name: app\n  ports:\n  - containerPort: 8080\n",
    },
    build: no_params::<HostPorts>,
};

#[derive(Debug, Default)]
struct HostPorts;

impl Rule for HostPorts {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for c in w.containers() {
            for (i, port) in c.ports().iter().enumerate() {
                let host_port = port.as_object().and_then(|p| p.i64_field("hostPort"));
                if let Some(host_port) = host_port.filter(|p| *p != 0) {
                    out.push(container_violation_indexed(
                        c,
                        "ports",
                        i,
                        ".hostPort",
                        format_args!("binds host port {host_port}"),
                    ));
                }
            }
        }
    }
}

pub(super) const HOST_PROBES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-host-probes",
        title: "Host probes and lifecycle hooks",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: BASELINE,
        description: "Probes and lifecycle hooks that set a host make the kubelet send requests to arbitrary addresses \
                      on the pod's behalf (baseline control \"Host Probes / Lifecycle Hooks\", Kubernetes 1.34+).",
        remediation: "Remove the host of httpGet and tcpSocket in livenessProbe, readinessProbe, startupProbe and \
                      lifecycle.postStart/preStop, so they target the pod's own IP.",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  livenessProbe:\n    httpGet:\n      host: 169.254.169.254\n      port: 80\n",
        example_pass: "containers:\n- name: app\n  livenessProbe:\n    httpGet:\n      port: 80\n",
    },
    build: no_params::<HostProbes>,
};

#[derive(Debug, Default)]
struct HostProbes;

const HOOKS: [(&str, &str); 2] = [
    ("postStart", "lifecycle.postStart"),
    ("preStop", "lifecycle.preStop"),
];

impl Rule for HostProbes {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for c in w.containers() {
            // `lifecycle` is looked up once for both hooks: this runs for every container.
            let lifecycle = c.lifecycle();
            let probes = ProbeKind::ALL.map(|p| (p.field(), c.probe(p)));
            let hooks = HOOKS.map(|(key, path)| (path, lifecycle.and_then(|l| l.map_field(key))));
            for (handler, handler_spec) in probes.into_iter().chain(hooks) {
                let Some(handler_spec) = handler_spec else {
                    continue;
                };
                // `map_field` walks a small map comparing key lengths first (`workload::lookup`).
                for action in ["httpGet", "tcpSocket"] {
                    let host = handler_spec
                        .map_field(action)
                        .and_then(|a| a.str_field("host"));
                    if let Some(host) = host.filter(|h| !h.is_empty()) {
                        out.push(container_violation(
                            c,
                            &format!("{handler}.{action}.host"),
                            format_args!("{handler} {action} targets host {}", Quoted(host)),
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_passes, assert_violation, check, spec_path, workload,
    };

    #[test]
    fn host_process_fails_on_pod_and_every_container_kind() {
        let spec = "securityContext: {windowsOptions: {hostProcess: true}}\n\
                    initContainers: [{name: init, securityContext: {windowsOptions: {hostProcess: true}}}]\n\
                    containers: [{name: app}, {name: hp, securityContext: {windowsOptions: {hostProcess: true}}}]\n\
                    ephemeralContainers: [{name: dbg, securityContext: {windowsOptions: {hostProcess: true}}}]";
        for kind in KINDS {
            let v = check("pss-windows-host-process", &workload(kind, spec));
            assert_eq!(v.len(), 4, "{kind:?}: {v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "securityContext.windowsOptions.hostProcess"),
                None,
            );
            let p = |s: &str| {
                spec_path(
                    kind,
                    &format!("{s}.securityContext.windowsOptions.hostProcess"),
                )
            };
            assert_violation(&v[1], &p("initContainers[0]"), Some("init"));
            assert_violation(&v[2], &p("containers[1]"), Some("hp"));
            assert_violation(&v[3], &p("ephemeralContainers[0]"), Some("dbg"));
        }
    }

    #[test]
    fn host_process_false_or_unset_passes() {
        let spec =
            "securityContext: {windowsOptions: {hostProcess: false}}\ncontainers: [{name: app}]";
        assert_passes("pss-windows-host-process", spec);
    }

    #[test]
    fn host_namespaces_reports_each_shared_namespace() {
        let spec = "hostNetwork: true\nhostPID: true\nhostIPC: true\ncontainers: [{name: app}]";
        for kind in KINDS {
            let v = check("pss-host-namespaces", &workload(kind, spec));
            let expected: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
                .iter()
                .map(|f| spec_path(kind, f))
                .collect();
            assert_eq!(
                crate::governance::rules::testing::paths(&v),
                expected,
                "{kind:?}"
            );
            assert!(v[1].message.contains("PID"), "{}", v[1].message);
            assert!(v.iter().all(|v| v.container.is_none()));
        }
    }

    #[test]
    fn host_namespaces_false_or_unset_passes() {
        for kind in KINDS {
            let spec = "hostNetwork: false\nhostPID: false\ncontainers: [{name: app}]";
            assert_eq!(check("pss-host-namespaces", &workload(kind, spec)), []);
        }
    }

    #[test]
    fn host_path_volume_fails_with_its_name_and_path() {
        let spec = "containers: [{name: app}]\nvolumes:\n- {name: tmp, emptyDir: {}}\n- {name: sock, hostPath: {path: /var/run/docker.sock}}";
        for kind in KINDS {
            let v = check("pss-host-path-volumes", &workload(kind, spec));
            assert_one(&v, &spec_path(kind, "volumes[1].hostPath"), None);
            assert!(
                v[0].message.contains("\"sock\"") && v[0].message.contains("/var/run/docker.sock")
            );
        }
    }

    #[test]
    fn volumes_without_host_path_pass() {
        let spec = "containers: [{name: app}]\nvolumes: [{name: tmp, emptyDir: {}}, {name: cfg, configMap: {name: c}}]";
        assert_passes("pss-host-path-volumes", spec);
    }

    #[test]
    fn host_port_fails_in_init_regular_and_ephemeral_containers() {
        let spec = "initContainers: [{name: init, ports: [{containerPort: 1, hostPort: 9000}]}]\n\
                    containers: [{name: app, ports: [{containerPort: 80}, {containerPort: 81, hostPort: 8081}]}]\n\
                    ephemeralContainers: [{name: dbg, ports: [{containerPort: 2, hostPort: 2}]}]";
        for kind in KINDS {
            let v = check("pss-host-ports", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "initContainers[0].ports[0].hostPort"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &spec_path(kind, "containers[0].ports[1].hostPort"),
                Some("app"),
            );
            assert_violation(
                &v[2],
                &spec_path(kind, "ephemeralContainers[0].ports[0].hostPort"),
                Some("dbg"),
            );
            assert!(v[1].message.contains("8081"));
        }
    }

    #[test]
    fn host_port_zero_or_unset_passes() {
        let spec = "containers: [{name: app, ports: [{containerPort: 80, hostPort: 0}, {containerPort: 81}]}]";
        assert_passes("pss-host-ports", spec);
    }

    #[test]
    fn probe_and_hook_hosts_fail_at_their_exact_field() {
        let spec = "initContainers:\n\
                    - {name: init, startupProbe: {tcpSocket: {host: 10.0.0.1, port: 5}}}\n\
                    containers:\n\
                    - name: app\n  livenessProbe: {httpGet: {host: example.com, port: 80}}\n  \
                      readinessProbe: {httpGet: {host: '', port: 80}}\n  \
                      lifecycle: {preStop: {httpGet: {host: 1.2.3.4, port: 80}}, postStart: {tcpSocket: {host: h, port: 1}}}\n\
                    ephemeralContainers: [{name: dbg, readinessProbe: {tcpSocket: {host: evil, port: 1}}}]";
        for kind in KINDS {
            let v = check("pss-host-probes", &workload(kind, spec));
            assert_eq!(v.len(), 5, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "initContainers[0].startupProbe.tcpSocket.host"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &spec_path(kind, "containers[0].livenessProbe.httpGet.host"),
                Some("app"),
            );
            assert_violation(
                &v[2],
                &spec_path(kind, "containers[0].lifecycle.postStart.tcpSocket.host"),
                Some("app"),
            );
            assert_violation(
                &v[3],
                &spec_path(kind, "containers[0].lifecycle.preStop.httpGet.host"),
                Some("app"),
            );
            assert_violation(
                &v[4],
                &spec_path(kind, "ephemeralContainers[0].readinessProbe.tcpSocket.host"),
                Some("dbg"),
            );
            assert!(v[1].message.contains("example.com"));
        }
    }

    #[test]
    fn both_actions_of_one_handler_fail_in_field_order_and_other_keys_are_not_actions() {
        // A handler the API would reject (two actions) still shows both hosts, httpGet first;
        // a `host` under any other key (here `grpc` and `exec`) is not a probe target.
        let spec = "containers:\n- name: app\n  livenessProbe:\n    \
                    tcpSocket: {host: t, port: 1}\n    periodSeconds: 5\n    httpGet: {host: h, port: 2}\n    \
                    grpc: {host: g, port: 3}\n    exec: {host: e}";
        let v = check("pss-host-probes", &workload(KINDS[0], spec));
        assert_eq!(v.len(), 2, "{v:#?}");
        assert_violation(
            &v[0],
            &spec_path(KINDS[0], "containers[0].livenessProbe.httpGet.host"),
            Some("app"),
        );
        assert_violation(
            &v[1],
            &spec_path(KINDS[0], "containers[0].livenessProbe.tcpSocket.host"),
            Some("app"),
        );
    }

    #[test]
    fn probes_without_host_pass() {
        let spec = "containers:\n- name: app\n  livenessProbe: {httpGet: {port: 80, path: /healthz}}\n  \
                    startupProbe: {tcpSocket: {port: 80, host: ''}}\n  lifecycle: {preStop: {exec: {command: [sh]}}}";
        assert_passes("pss-host-probes", spec);
    }
}
