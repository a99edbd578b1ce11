//! The Helm chart rendered by the pinned helm: lint, the defaults a production install gets, each
//! value that changes what is rendered, the chart-generated certificates, and the chart judged by
//! kube-guardian's own strictest profiles.

use std::process::Command;

use base64::Engine as _;

use crate::support::{chart_dir, find, kinds, render, run_helm, template};
use serde_json::Value;

const NS: &str = "guardian-system";

/// Non-default values touching every optional template at once.
pub const EVERYTHING_ON: &[&str] = &[
    "--set",
    "webhook.certManager.enabled=true",
    "--set",
    "metrics.serviceMonitor.enabled=true",
    "--set",
    "metrics.prometheusRule.enabled=true",
    "--set",
    "networkPolicy.enabled=true",
    "--set",
    "networkPolicy.apiServerCIDRs={10.0.0.0/24}",
    "--set",
    "webhook.failurePolicy=Ignore",
    "--set",
    "replicaCount=3",
];

fn lint(extra: &[&str]) -> (bool, String) {
    let chart = chart_dir();
    let mut args = vec!["lint", "--strict", chart.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let out = run_helm(&args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_chart_lints_clean_with_default_and_non_default_values() {
    let (ok, out) = lint(&[]);
    assert!(ok, "{out}");
    let (ok, out) = lint(EVERYTHING_ON);
    assert!(ok, "{out}");
    // The schema is enforced: a typo'd value or a value out of range fails lint and template.
    let (ok, out) = lint(&["--set", "webhook.failurePolicy=Sometimes"]);
    assert!(!ok && out.contains("failurePolicy"), "{out}");
    let err = template("kg", NS, &["--set", "replicas=2"]).expect_err("unknown key");
    assert!(err.contains("replicas"), "{err}");
}

#[test]
fn the_default_install_is_two_leader_electing_restricted_replicas() {
    let docs = render("kg", NS, &[]);
    let deployment = find(&docs, "Deployment", Some("kg-kube-guardian"));
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &spec["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "operator");
    for want in [
        "--leader-elect",
        "--lease-name=kube-guardian-operator",
        "--webhook-cert-dir=/tls",
        "--webhook-addr=0.0.0.0:8443",
        "--health-addr=0.0.0.0:8080",
    ] {
        assert!(args.contains(&want), "{want} missing from {args:?}");
    }
    // The restricted security context, pod and container.
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(spec["securityContext"]["runAsUser"], 65532);
    // Probes on the health port, resources, anti-affinity.
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(
        spec["affinity"]["podAntiAffinity"].is_object(),
        "{}",
        spec["affinity"]
    );
    // The token is mounted only into the operator's container, by a projected volume; nothing
    // else using the account (or the pod) gets one automatically.
    assert_eq!(spec["automountServiceAccountToken"], false);
    let token_mount = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount")
        .expect("the token's mount, where in-cluster clients read it");
    let volume = spec["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == token_mount["name"])
        .expect("the token's volume");
    assert!(
        volume["projected"]
            .to_string()
            .contains("serviceAccountToken")
    );
    assert_eq!(
        find(&docs, "ServiceAccount", None)["automountServiceAccountToken"],
        false
    );
    let pdb = find(&docs, "PodDisruptionBudget", None);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    // Both Services, and both CRDs of crds/ plus the optional PolicyReport CRD, kept on uninstall.
    find(&docs, "Service", Some("kg-kube-guardian-webhook"));
    find(&docs, "Service", Some("kg-kube-guardian-metrics"));
    let crds: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        crds,
        [
            "guardianpolicies.guardian.kube-guardian.dev",
            "guardianexceptions.guardian.kube-guardian.dev",
            "policyreports.wgpolicyk8s.io"
        ]
    );
    let report_crd = find(
        &docs,
        "CustomResourceDefinition",
        Some("policyreports.wgpolicyk8s.io"),
    );
    assert_eq!(
        report_crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    // Optional objects stay off by default.
    for kind in [
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "Certificate",
    ] {
        assert!(!kinds(&docs).iter().any(|k| k == kind), "{kind} rendered");
    }
}

#[test]
fn the_webhook_covers_every_workload_kind_and_debug_containers_but_not_its_own_namespace() {
    let docs = render(
        "kg",
        NS,
        &["--set", "webhook.excludedNamespaces={kube-system,infra}"],
    );
    let config = find(&docs, "ValidatingWebhookConfiguration", None);
    let hook = &config["webhooks"][0];
    let mut resources: Vec<String> = hook["rules"][0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    // Every workload kind the engine knows (core's list), and kubectl debug's subresource.
    let mut want = guardian_testenv::webhook_resources();
    resources.sort();
    want.sort();
    assert_eq!(resources, want);
    assert_eq!(hook["failurePolicy"], "Fail");
    assert!(hook["timeoutSeconds"].as_u64().is_some_and(|t| t <= 30));
    let expression = &hook["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(expression["key"], "kubernetes.io/metadata.name");
    assert_eq!(expression["operator"], "NotIn");
    assert_eq!(
        expression["values"],
        serde_json::json!(["kube-system", "infra", NS])
    );
    assert_eq!(
        hook["clientConfig"]["service"]["name"],
        "kg-kube-guardian-webhook"
    );

    let ignore = render("kg", NS, &["--set", "webhook.failurePolicy=Ignore"]);
    let config = find(&ignore, "ValidatingWebhookConfiguration", None);
    assert_eq!(config["webhooks"][0]["failurePolicy"], "Ignore");

    let off = render("kg", NS, &["--set", "webhook.enabled=false"]);
    for kind in kinds(&off) {
        assert_ne!(kind, "ValidatingWebhookConfiguration");
        assert_ne!(kind, "Secret");
    }
    let args = &find(&off, "Deployment", None)["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(!args.to_string().contains("--webhook"), "{args}");
}

fn pem_block(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("base64 string"))
        .expect("valid base64")
}

#[test]
fn chart_generated_certificates_chain_to_the_ca_bundle_for_the_service_name() {
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    let docs = render("kg", NS, &[]);
    let secret = find(&docs, "Secret", Some("kg-kube-guardian-webhook-tls"));
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let bundle = &find(&docs, "ValidatingWebhookConfiguration", None)["webhooks"][0]["clientConfig"]
        ["caBundle"];
    assert_eq!(
        bundle, &secret["data"]["ca.crt"],
        "caBundle is the Secret's CA"
    );
    // The Deployment mounts that very Secret where --webhook-cert-dir points.
    let deployment = find(&docs, "Deployment", None);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"],
        "kg-kube-guardian-webhook-tls"
    );

    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&pem_block(bundle)).expect("CA PEM"))
        .expect("CA accepted");
    let verifier = WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
        .build()
        .expect("verifier");
    let leaf = CertificateDer::from_pem_slice(&pem_block(&secret["data"]["tls.crt"]))
        .expect("certificate PEM");
    // The name the API server dials for a service reference, and one it does not.
    let service =
        ServerName::try_from("kg-kube-guardian-webhook.guardian-system.svc").expect("name");
    verifier
        .verify_server_cert(&leaf, &[], &service, &[], UnixTime::now())
        .expect("the serving certificate is valid for the service, signed by the caBundle");
    let other = ServerName::try_from("other.guardian-system.svc").expect("name");
    assert!(
        verifier
            .verify_server_cert(&leaf, &[], &other, &[], UnixTime::now())
            .is_err()
    );
}

#[test]
fn cert_manager_issues_the_certificate_and_injects_the_ca_instead() {
    let docs = render("kg", NS, &["--set", "webhook.certManager.enabled=true"]);
    assert!(
        !kinds(&docs).iter().any(|k| k == "Secret"),
        "no chart-made Secret"
    );
    let config = find(&docs, "ValidatingWebhookConfiguration", None);
    assert_eq!(
        config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{NS}/kg-kube-guardian-webhook")
    );
    assert!(config["webhooks"][0]["clientConfig"]["caBundle"].is_null());
    let cert = find(&docs, "Certificate", Some("kg-kube-guardian-webhook"));
    assert_eq!(cert["spec"]["secretName"], "kg-kube-guardian-webhook-tls");
    assert!(
        cert["spec"]["dnsNames"]
            .as_array()
            .expect("dnsNames")
            .contains(&Value::from("kg-kube-guardian-webhook.guardian-system.svc"))
    );
    // Without an issuer, the chart makes its own CA; with one, it uses it and makes none.
    assert_eq!(cert["spec"]["issuerRef"]["name"], "kg-kube-guardian-ca");
    let given = render(
        "kg",
        NS,
        &[
            "--set",
            "webhook.certManager.enabled=true",
            "--set",
            "webhook.certManager.issuerRef.name=corp-ca",
            "--set",
            "webhook.certManager.issuerRef.kind=ClusterIssuer",
        ],
    );
    assert!(!kinds(&given).iter().any(|k| k == "Issuer"));
    let cert = find(&given, "Certificate", None);
    assert_eq!(cert["spec"]["issuerRef"]["kind"], "ClusterIssuer");
}

#[test]
fn optional_objects_render_when_enabled() {
    let docs = render("kg", NS, EVERYTHING_ON);
    let policy = find(&docs, "NetworkPolicy", None);
    let ingress = policy["spec"]["ingress"].as_array().expect("ingress");
    assert_eq!(
        ingress.len(),
        1,
        "only the webhook port is open: {ingress:?}"
    );
    assert_eq!(ingress[0]["from"][0]["ipBlock"]["cidr"], "10.0.0.0/24");
    assert_eq!(ingress[0]["ports"][0]["port"], "webhook");
    let monitor = find(&docs, "ServiceMonitor", None);
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let rules = find(&docs, "PrometheusRule", None).to_string();
    for alert in [
        "KubeGuardianWebhookErrors",
        "KubeGuardianReconcileFailures",
        "KubeGuardianNoLeader",
    ] {
        assert!(rules.contains(alert), "{alert} missing");
    }
    assert_eq!(find(&docs, "Deployment", None)["spec"]["replicas"], 3);
    // A NetworkPolicy that names no API server would shut the webhook off: refused.
    let err = template("kg", NS, &["--set", "networkPolicy.enabled=true"]).expect_err("no CIDRs");
    assert!(err.contains("apiServerCIDRs"), "{err}");
    // The PolicyReport CRD is optional (another tool may own it).
    let without = render("kg", NS, &["--set", "policyReports.installCRD=false"]);
    assert!(
        !without
            .iter()
            .any(|d| d["metadata"]["name"] == "policyreports.wgpolicyk8s.io")
    );
}

#[test]
fn rbac_has_no_wildcard_no_secrets_and_no_write_on_workloads() {
    let docs = render("kg", NS, &[]);
    let writes = ["create", "update", "patch", "delete", "deletecollection"];
    let workloads = [
        "pods",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "jobs",
        "cronjobs",
        "namespaces",
    ];
    let roles: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
        .collect();
    assert_eq!(roles.len(), 2, "a ClusterRole and the Lease's Role");
    for role in roles {
        for rule in role["rules"].as_array().expect("rules") {
            let list = |key: &str| -> Vec<&str> {
                rule[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default()
            };
            let (groups, resources, verbs) = (list("apiGroups"), list("resources"), list("verbs"));
            for word in groups.iter().chain(&resources).chain(&verbs) {
                assert!(!word.contains('*'), "wildcard in {rule}");
            }
            assert!(!resources.contains(&"secrets"), "secrets in {rule}");
            if resources.iter().any(|r| workloads.contains(r)) {
                assert!(
                    !verbs.iter().any(|v| writes.contains(v)),
                    "writes a workload: {rule}"
                );
            }
        }
    }
    let role = find(&docs, "Role", None);
    assert_eq!(role["metadata"]["namespace"], NS);
    assert!(role.to_string().contains("leases"));
    // Leases: written (the election Lease and the replica's candidate record) without a name,
    // since a candidate record is named after its pod, and narrowed by the chart's admission
    // policy; read, watched and patched by the election Lease's name.
    let rules: Vec<(Vec<&str>, Option<&Value>)> = role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| {
            let verbs = rule["verbs"].as_array().expect("verbs");
            let verbs = verbs.iter().filter_map(Value::as_str).collect();
            (verbs, rule.get("resourceNames"))
        })
        .collect();
    assert_eq!(
        rules,
        [
            (vec!["create", "list", "patch", "delete"], None),
            (
                vec!["get", "list", "watch", "patch"],
                Some(&serde_json::json!(["kube-guardian-operator"]))
            ),
        ]
    );
}

/// Dogfood, as the README's CI example runs it (`helm template … | kube-guardian check -`): the
/// chart passes kube-guardian's own strictest profiles, nothing above low severity.
#[test]
fn the_rendered_chart_passes_pss_restricted_and_best_practices() {
    for (name, extra) in [("default", &[][..]), ("everything-on", EVERYTHING_ON)] {
        let yaml = template("kg", NS, extra).expect("renders");
        let mut check = Command::new(env!("CARGO_BIN_EXE_kube-guardian"));
        check
            .args([
                "check",
                "-",
                "--profile",
                "pss-restricted",
                "--profile",
                "best-practices",
            ])
            .args(["--fail-on", "medium", "--output", "json"]);
        let out = guardian_testenv::output_within(
            &mut check,
            "kube-guardian check - on the rendered chart",
            Some(yaml.as_bytes()),
            std::time::Duration::from_secs(120),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(out.status.code(), Some(0), "{name}: {report:#}");
        // It did judge the Deployment (the one kind here the profiles apply to).
        assert_eq!(
            report["summary"]["resourcesEvaluated"], 1,
            "{name}: {report:#}"
        );
    }
}

/// The Deployment's command line is one `kube-guardian operator` accepts: run with exactly the
/// rendered arguments (and a kubeconfig that does not exist), it gets past argument parsing to
/// building its client, where a renamed or mistyped flag would stop it with a usage error.
#[test]
fn the_deployments_arguments_are_ones_the_operator_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-kubeconfig");
    for extra in [
        &[][..],
        EVERYTHING_ON,
        &["--set", "webhook.enabled=false"],
        &["--set", "leaderElection.candidates=false"],
        // Missing (helm upgrade --reuse-values from a release before it existed): on.
        &["--set", "leaderElection.candidates=null"],
    ] {
        let docs = render("kg", NS, extra);
        let container =
            &find(&docs, "Deployment", None)["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<&str> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
            .args(&args)
            .arg("--kubeconfig")
            .arg(&missing)
            .output()
            .expect("kube-guardian runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot build a Kubernetes client"),
            "{extra:?}: {args:?}\n{stderr}"
        );
    }
}

/// Dotted paths of the leaves of `value` (an empty map or list is a leaf).
fn leaves(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value.as_object() {
        Some(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(&path, child, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn every_value_is_documented_in_the_charts_readme() {
    let values = std::fs::read_to_string(chart_dir().join("values.yaml")).expect("values.yaml");
    let values = crate::support::documents(&values).remove(0);
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).expect("README.md");
    let mut paths = Vec::new();
    leaves("", &values, &mut paths);
    assert!(paths.len() > 40, "{paths:?}");
    // A value is documented by its own row, or by its parent's (`resources` covers its requests).
    let undocumented: Vec<&String> = paths
        .iter()
        .filter(|path| {
            let mut prefix = path.as_str();
            loop {
                if readme.contains(&format!("`{prefix}`")) {
                    return false;
                }
                match prefix.rsplit_once('.') {
                    Some((parent, _)) => prefix = parent,
                    None => return true,
                }
            }
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in the chart's README: {undocumented:?}"
    );
}

/// The chart deploys the image of this very version, and the Dockerfile labels it so.
#[test]
fn chart_app_version_and_image_label_are_the_crates_version() {
    let chart = std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml");
    let chart = crate::support::documents(&chart).remove(0);
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    let dockerfile =
        std::fs::read_to_string(crate::support::root().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains(&format!("ARG VERSION={}\n", env!("CARGO_PKG_VERSION"))),
        "the Dockerfile's VERSION default"
    );
}
