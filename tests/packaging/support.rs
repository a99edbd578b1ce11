//! The packaging as the tests see it: the pinned helm and hadolint binaries (installed on first
//! use by the project's scripts, which return at once when present), the chart rendered into
//! documents, and those documents sent to the API server.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    root().join("helm/kube-guardian")
}

/// Runs one of the tool scripts in tests/control-plane (it installs the pinned tool if missing)
/// and returns the path it prints last.
fn tool(script: &str) -> PathBuf {
    let path = root().join("tests/control-plane").join(script);
    let out = Command::new("bash")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bin = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(
        bin.is_file(),
        "{} printed no binary: {stdout}",
        path.display()
    );
    bin
}

/// The pinned helm (tests/control-plane/helm.sh).
pub fn helm() -> PathBuf {
    tool("helm.sh")
}

/// The pinned hadolint (tests/control-plane/hadolint.sh).
pub fn hadolint() -> PathBuf {
    tool("hadolint.sh")
}

/// Runs helm with `args`, with its config and cache in a throwaway directory (no user state).
pub fn run_helm(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    Command::new(helm())
        .args(args)
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .expect("helm runs")
}

/// `helm template RELEASE CHART --namespace NAMESPACE --include-crds` plus `extra` (e.g.
/// `--set a=b`, `-f file`): the rendered YAML, or helm's error output.
pub fn template(release: &str, namespace: &str, extra: &[&str]) -> Result<String, String> {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        release,
        chart.to_str().expect("utf-8 path"),
        "--namespace",
        namespace,
        "--include-crds",
    ];
    args.extend_from_slice(extra);
    let out = run_helm(&args);
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("helm prints UTF-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// [`template`] that must succeed, split into its documents.
pub fn render(release: &str, namespace: &str, extra: &[&str]) -> Vec<Value> {
    let yaml = template(release, namespace, extra)
        .unwrap_or_else(|e| panic!("helm template {extra:?} failed:\n{e}"));
    documents(&yaml)
}

/// The documents of a multi-document YAML stream, read as the API server reads YAML (`0440`
/// is octal, as kubectl sends it) by the loader `check` uses.
pub fn documents(yaml: &str) -> Vec<Value> {
    guardian_core::load::documents(yaml)
        .into_iter()
        .map(|doc| {
            doc.value
                .unwrap_or_else(|e| panic!("helm rendered bad YAML: {e}\n{}", doc.text))
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// The one document of `kind` (named `name`, or any name when `None`).
pub fn find<'a>(docs: &'a [Value], kind: &str, name: Option<&str>) -> &'a Value {
    let mut found = docs
        .iter()
        .filter(|d| d["kind"] == kind && name.is_none_or(|n| d["metadata"]["name"] == n));
    let doc = found
        .next()
        .unwrap_or_else(|| panic!("no {kind} {name:?} rendered"));
    assert!(found.next().is_none(), "several {kind} {name:?} rendered");
    doc
}

/// The kinds rendered, in order.
pub fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Server-side applies `doc` (as `kubectl apply --server-side` would; a dry run when `dry_run`)
/// with strict field validation: what the API server stored, or its error.
pub async fn apply(client: &kube::Client, doc: &Value, dry_run: bool) -> Result<Value, String> {
    use kube::api::{Api, DynamicObject, Patch, PatchParams, ValidationDirective};
    use kube::core::GroupVersionKind;

    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| format!("{kind} {api_version} is not served: {e}"))?;
    let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
        Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    let params = PatchParams {
        dry_run,
        force: true,
        field_manager: Some("kube-guardian-chart-test".to_owned()),
        field_validation: Some(ValidationDirective::Strict),
    };
    api.patch(name, &params, &Patch::Apply(doc))
        .await
        .map(|stored| serde_json::to_value(stored).expect("serialisable"))
        .map_err(|e| format!("{kind} {name}: {e}"))
}

/// Applies the chart's CustomResourceDefinitions and waits until each is served.
pub async fn install_crds(client: &kube::Client, docs: &[Value]) {
    for crd in docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
    {
        apply(client, crd, false).await.expect("CRD applied");
        let group = crd["spec"]["group"].as_str().expect("group");
        let kind = crd["spec"]["names"]["kind"].as_str().expect("kind");
        let version = crd["spec"]["versions"][0]["name"]
            .as_str()
            .expect("version");
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let deadline = std::time::Instant::now() + guardian_testenv::operator_process::DEADLINE;
        while kube::discovery::pinned_kind(client, &gvk).await.is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{kind}.{group} not served"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
