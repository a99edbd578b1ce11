//! `check` reads YAML as the API server does. The oracle is the real kube-apiserver: every
//! manifest goes to it as `application/yaml` with a server-side dry run (what `kubectl apply`
//! sends, after the same sigs.k8s.io/yaml conversion), and the object it would store is compared
//! field by field with what `check`'s reader (guardian_core::load) produced. A manifest the API
//! server rejects must not load in `check` either.

mod support;

use guardian_testenv::ControlPlane;
use serde_json::Value;

/// What `check` reads: the one document of `yaml`, through the same loader the binary uses.
fn check_object(yaml: &str) -> Result<Value, String> {
    let mut docs = guardian_core::load::documents(yaml);
    assert_eq!(docs.len(), 1, "one document per case");
    docs.remove(0).value.map_err(|e| e.to_string())
}

/// Every leaf of `value` with its path. The server drops null and, for Go's `omitempty` booleans,
/// `false`: those compare as absent.
fn leaves<'v>(value: &'v Value, path: String, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                leaves(v, format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{path}/{i}"), out);
            }
        }
        _ => out.push((path, value)),
    }
}

/// Field-by-field differences for the fields of the manifest (the server adds defaults).
fn differences(ours: &Value, server: &Value) -> Vec<String> {
    let mut fields = Vec::new();
    leaves(ours, String::new(), &mut fields);
    fields
        .into_iter()
        .filter_map(|(path, value)| {
            let theirs = server.pointer(&path).unwrap_or(&Value::Null);
            let omitted = theirs.is_null() && matches!(value, Value::Null | Value::Bool(false));
            (theirs != value && !omitted)
                .then(|| format!("{path}: check read {value}, the API server stored {theirs}"))
        })
        .collect()
}

fn pod(name: &str, spec_extra: &str, container_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec_extra}  containers:\n  - name: app\n    image: nginx:1.27\n{container_extra}"
    )
}

const TRUE: [&str; 11] = [
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
];
const FALSE: [&str; 11] = [
    "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
];

/// Manifests the API server accepts: (name, kind, YAML).
fn accepted_cases() -> Vec<(String, &'static str, String)> {
    let mut cases = Vec::new();
    for (i, word) in TRUE.iter().chain(FALSE.iter()).enumerate() {
        cases.push((
            format!("boolean {word}"),
            "Pod",
            pod(
                &format!("bool-{i}"),
                &format!("  hostNetwork: {word}\n  enableServiceLinks: {word}\n"),
                &format!(
                    "    tty: {word}\n    securityContext:\n      privileged: {word}\n      readOnlyRootFilesystem: {word}\n"
                ),
            ),
        ));
    }
    cases.push((
        "flow-style booleans".into(),
        "Pod",
        pod(
            "flow",
            "  hostPID: yes\n",
            "    securityContext: {privileged: on, allowPrivilegeEscalation: Y}\n",
        ),
    ));
    cases.push((
        "quoted and unquoted strings, YAML 1.1 keys".into(),
        "Pod",
        pod(
            "strings",
            "",
            "    env:\n    - {name: A, value: \"yes\"}\n    - {name: B, value: 'on'}\n    - {name: C, value: \"0755\"}\n    - {name: D, value: '~'}\n    - {name: E, value: \"1_000\"}\n    - {name: F, value: 12:30}\n    - {name: G, value: 2001-12-14}\n    - {name: H, value: 1.2.3}\n    - name: I\n      value: |\n        no\n    - {name: J, value: yes please}\n",
        )
        .replace(
            "metadata:\n  name: strings\n",
            "metadata:\n  name: strings\n  labels:\n    yes: a\n    off: b\n    12: c\n  annotations:\n    quoted-yes: \"yes\"\n    quoted-null: 'null'\n    plain-date: 2001-12-14\n",
        ),
    ));
    cases.push((
        "numbers".into(),
        "Pod",
        pod(
            "numbers",
            "  terminationGracePeriodSeconds: 0x1F\n  activeDeadlineSeconds: 0755\n  nodeName: ~\n",
            "    ports:\n    - containerPort: 1_000\n    - containerPort: 0b101\n    - containerPort: 3.0\n    - containerPort: 1e3\n    - containerPort: +12\n    - containerPort: 0o17\n    - containerPort: 08\n    securityContext:\n      runAsUser: 1_000_000\n      runAsGroup: null\n",
        ),
    ));
    cases.push((
        "anchors and merge keys".into(),
        "Deployment",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: merge\n  labels: &labels {app: web, tier: front}\nspec:\n  selector:\n    matchLabels: *labels\n  template:\n    metadata:\n      labels:\n        <<: *labels\n        extra: \"yes\"\n    spec:\n      containers:\n      - &base\n        name: app\n        image: nginx:1.27\n        securityContext: &sc\n          privileged: yes\n      - name: sidecar\n        image: busybox:1.36\n        securityContext:\n          <<: [*sc, {runAsNonRoot: on}]\n".into(),
    ));
    cases
}

/// Manifests the API server rejects: (name, kind, YAML).
fn rejected_cases() -> Vec<(String, &'static str, String)> {
    let mut laughs = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n  annotations:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        laughs.push_str(&format!("    a{i}: &a{i} [{refs}]\n"));
    }
    vec![
        (
            "duplicate key".into(),
            "Pod",
            pod("dup", "  hostNetwork: no\n  hostNetwork: yes\n", ""),
        ),
        (
            "infinity".into(),
            "Pod",
            pod("inf", "  terminationGracePeriodSeconds: .inf\n", ""),
        ),
        (
            "null map key".into(),
            "Pod",
            pod("nullkey", "", "").replace("metadata:\n", "metadata:\n  labels: {~: x}\n"),
        ),
        (
            "merge of a scalar".into(),
            "Pod",
            pod("merge-scalar", "", "    securityContext:\n      <<: 1\n"),
        ),
        (
            "unknown alias".into(),
            "Pod",
            pod("alias", "  hostNetwork: *nope\n", ""),
        ),
        (
            "syntax error".into(),
            "Pod",
            pod("syntax", "  hostNetwork: [yes\n", ""),
        ),
        ("billion laughs".into(), "ConfigMap", laughs),
        (
            "block scalar in a flow mapping".into(),
            "Pod",
            pod(
                "flow-block",
                "",
                "    env:\n    - {name: I, value: |\n        no\n      }\n",
            ),
        ),
        (
            "explicit key overriding a merged one".into(),
            "Pod",
            pod(
                "override",
                "",
                "    securityContext:\n      <<: {runAsUser: 10}\n      runAsUser: 20\n",
            ),
        ),
        (
            "merge overriding an explicit key".into(),
            "Pod",
            pod(
                "override2",
                "",
                "    securityContext:\n      runAsUser: 20\n      <<: {runAsUser: 10}\n",
            ),
        ),
        (
            "JSON duplicate key".into(),
            "Pod",
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "json-dup"},
               "spec": {"hostNetwork": true, "hostNetwork": false,
                        "containers": [{"name": "app", "image": "nginx:1.27"}]}}"#
                .into(),
        ),
        (
            "merged maps sharing a key".into(),
            "Pod",
            pod(
                "override3",
                "",
                "    securityContext:\n      <<: [{runAsUser: 10}, {runAsUser: 20}]\n",
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_manifests_as_the_api_server_does() {
    let Some(cp) = ControlPlane::shared_unless_skipped()
        .await
        .expect("control plane")
    else {
        return;
    };
    let client = cp.client().expect("client");
    let namespace = guardian_testenv::unique_name("yaml-oracle");
    support::ensure_namespace(&client, &namespace).await;
    let server_object = |kind: &'static str, yaml: String| {
        let (client, namespace) = (client.clone(), namespace.clone());
        // JSON goes as JSON, as kubectl sends a .json file.
        let content_type = if yaml.starts_with('{') {
            "application/json"
        } else {
            "application/yaml"
        };
        async move { support::dry_run(&client, &namespace, kind, yaml.into_bytes(), content_type).await }
    };
    let mut failures = Vec::new();
    for (name, kind, yaml) in accepted_cases() {
        let server = match server_object(kind, yaml.clone()).await {
            Ok(object) => object,
            Err(e) => {
                failures.push(format!(
                    "{name}: the API server rejected the case itself: {e}\n{yaml}"
                ));
                continue;
            }
        };
        match check_object(&yaml) {
            Ok(ours) => {
                let diffs = differences(&ours, &server);
                if !diffs.is_empty() {
                    failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
                }
            }
            Err(e) => failures.push(format!(
                "{name}: check rejects what the API server accepts: {e}"
            )),
        }
    }
    for (name, kind, yaml) in rejected_cases() {
        if let Ok(object) = server_object(kind, yaml.clone()).await {
            failures.push(format!(
                "{name}: the API server accepted a case meant to be rejected: {object}"
            ));
            continue;
        }
        if let Ok(ours) = check_object(&yaml) {
            failures.push(format!(
                "{name}: check loads what the API server rejects: {ours}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// End to end: the binary fails `privileged: yes` (a string to YAML 1.2 readers, a privileged
/// container to the API server).
#[test]
fn the_binary_fails_a_container_privileged_yes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pod.yaml");
    std::fs::write(
        &file,
        pod(
            "yes",
            "  hostNetwork: on\n",
            "    securityContext:\n      privileged: yes\n",
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(["check", "--profile", "pss-baseline", "-o", "json"])
        .arg(&file)
        .output()
        .expect("the binary runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let failed = |rule: &str| {
        report["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["rule"] == rule && f["result"] == "fail"))
    };
    assert!(failed("pss-privileged"), "{report:#}");
    assert!(failed("pss-host-namespaces"), "{report:#}");
    assert_eq!(out.status.code(), Some(1));
}
