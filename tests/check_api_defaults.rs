//! `check` judges the object the API server stores: for the example manifests (and a fixture
//! of Pods whose verdicts hang on defaulted fields), the verdicts of `kube-guardian check` on
//! the raw files equal the verdicts of the engine on the objects a server-side dry run returns.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::{EvalContext, Evaluation, PolicySet};
use guardian_core::model::Finding;
use guardian_testenv::ControlPlane;
use serde_json::Value;

const MANIFESTS: [&str; 3] = [
    "examples/manifests/compliant/shop.yaml",
    "examples/manifests/violating/legacy.yaml",
    "tests/fixtures/api-defaults.yaml",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (kind, namespace, name, policy, rule, container, result): a verdict, without file positions.
type Verdict = (String, String, String, String, String, String, String);

fn verdict_of_json(f: &Value) -> Verdict {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let resource = &f["resource"];
    (
        text(&resource["kind"]),
        resource["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned(),
        text(&resource["name"]),
        text(&f["policy"]),
        text(&f["rule"]),
        text(&f["container"]),
        text(&f["result"]),
    )
}

fn verdict_of_finding(f: &Finding) -> Verdict {
    (
        f.resource.kind.clone(),
        f.resource
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        f.resource.name.clone(),
        f.policy().to_string(),
        f.rule_id().to_string(),
        f.container.clone().unwrap_or_default(),
        f.outcome.as_str().to_owned(),
    )
}

/// Each document's own text and its value.
fn documents_of(path: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path).expect("example exists");
    guardian_core::load::documents(&text)
        .into_iter()
        .map(|d| (d.text.to_owned(), d.value.expect("example loads")))
        .collect()
}

fn example_policies() -> PolicySet {
    let mut policies: Vec<GuardianPolicy> = Vec::new();
    let mut exceptions: Vec<GuardianException> = Vec::new();
    for dir in ["examples/policies", "examples/exceptions"] {
        for entry in std::fs::read_dir(root().join(dir)).expect("example dir") {
            for (_, doc) in documents_of(&entry.expect("dir entry").path()) {
                match doc["kind"].as_str() {
                    Some("GuardianPolicy") => {
                        policies.push(serde_json::from_value(doc).expect("policy"))
                    }
                    Some("GuardianException") => {
                        exceptions.push(serde_json::from_value(doc).expect("exception"))
                    }
                    other => panic!("unexpected kind {other:?} in {dir}"),
                }
            }
        }
    }
    PolicySet::compile(&policies, &exceptions).expect("example policies compile")
}

fn check_verdicts() -> BTreeSet<Verdict> {
    let out = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .arg("check")
        .args(MANIFESTS)
        .args([
            "--policy",
            "examples/policies",
            "--policy",
            "examples/exceptions",
            "-o",
            "json",
        ])
        .current_dir(root())
        .output()
        .expect("the binary runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["inputErrors"], serde_json::json!([]), "{report:#}");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(verdict_of_json)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_on_raw_manifests_equal_verdicts_on_stored_objects() {
    let Some(cp) = ControlPlane::shared_unless_skipped()
        .await
        .expect("control plane")
    else {
        return;
    };
    let client = cp.client().expect("client");
    let set = example_policies();
    let ctx = EvalContext::offline();
    let mut stored = BTreeSet::new();
    for file in MANIFESTS {
        for (text, doc) in documents_of(&root().join(file)) {
            let kind = doc["kind"].as_str().expect("kind").to_owned();
            let namespace = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            support::ensure_namespace(&client, &namespace).await;
            // The document's own text, as kubectl sends it.
            let body = text.into_bytes();
            let object = support::dry_run(&client, &namespace, &kind, body, "application/yaml")
                .await
                .unwrap_or_else(|e| panic!("{file}: the API server rejects {kind}: {e}"));
            if let Evaluation::Evaluated { findings, .. } = set.evaluate(&object, &ctx) {
                stored.extend(findings.iter().map(verdict_of_finding));
            }
        }
    }
    let offline = check_verdicts();
    let only_offline: Vec<_> = offline.difference(&stored).collect();
    let only_stored: Vec<_> = stored.difference(&offline).collect();
    assert!(
        only_offline.is_empty() && only_stored.is_empty(),
        "check on the raw manifests only: {only_offline:#?}\non the stored objects only: {only_stored:#?}"
    );
    // The fixture's verdicts hang on defaults: both sides must see them.
    let host_port = stored
        .iter()
        .any(|v| v.2 == "host-network-port" && v.4 == "pss-host-ports");
    let limits_only_requests = stored
        .iter()
        .any(|v| v.2 == "limits-only" && v.4.ends_with("-requests"));
    assert!(host_port && !limits_only_requests, "{stored:#?}");
}
