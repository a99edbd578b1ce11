//! `kube-guardian operator` run as the README tells a user, against the real local control
//! plane: after its policy was evaluated once, one Pod's change re-evaluates that Pod only, as
//! its own /metrics show (`kube_guardian_objects_evaluated_total`,
//! `kube_guardian_reconcile_decision_seconds`), and the status and the PolicyReport follow it.

use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::OperatorProcess;
use guardian_testenv::policy::TestPolicy;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};

#[path = "support/operator_run.rs"]
mod operator_run;
use operator_run::{logs_dir, operator, wait_for};

const PODS: usize = 40;

fn evaluated(op: &OperatorProcess, path: &str) -> Option<f64> {
    op.metric(&format!(
        "kube_guardian_objects_evaluated_total{{path=\"{path}\"}}"
    ))
}

/// Waits for the operator's report pass: every cache listed and every live policy evaluated.
/// A policy created after it is evaluated in full once, by its own reconcile, and by nothing else.
async fn converged(op: &OperatorProcess) {
    wait_for("the report convergence pass", &[op], async || {
        (op.metric("kube_guardian_report_passes_total")? >= 1.0).then_some(())
    })
    .await;
}

const DECISIONS: &str = "kube_guardian_reconcile_decision_seconds_count";

async fn summary(client: &kube::Client, policy: &str) -> Option<(u64, u64)> {
    let p = Api::<GuardianPolicy>::all(client.clone())
        .get_opt(policy)
        .await
        .ok()??;
    let s = p.status?.summary?;
    Some((s.resources_evaluated, s.violations))
}

/// The names of the resources the namespace's PolicyReport lists.
async fn reported(client: &kube::Client, ns: &str) -> Option<Vec<String>> {
    let reports = guardian_testenv::policy_reports(client, ns);
    let Some(report) = reports.get_opt("kube-guardian").await.ok()? else {
        return Some(Vec::new());
    };
    let mut names: Vec<String> = report.data["results"]
        .as_array()?
        .iter()
        .filter_map(|r| r["resources"][0]["name"].as_str().map(str::to_owned))
        .collect();
    names.dedup();
    Some(names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_change_is_re_evaluated_alone_as_the_operator_s_metrics_show() {
    let cp = ControlPlane::shared().await.expect("control plane");
    guardian_testenv::demo::install_crds(cp)
        .await
        .expect("the CRDs install");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("incr-proc").await.expect("namespace");
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    for i in 0..PODS {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{i}")},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.0"}]}
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("pod");
    }
    let dir = logs_dir();
    let op = operator(cp, "incr")
        .resync(Duration::from_secs(600))
        .start(dir.path())
        .expect("the operator starts");
    converged(&op).await;
    let name = format!("{ns}-tags");
    TestPolicy::new(&name)
        .namespaces([&ns])
        .rules(["image-tag-pinned"])
        .created(&client)
        .await;
    let all = PODS as u64;
    wait_for("every Pod counted", &[&op], async || {
        (summary(&client, &name).await? == (all, 0)).then_some(())
    })
    .await;
    // Read at once: the reconcile that wrote the status counted what it evaluated by then.
    let full = evaluated(&op, "full").expect("full counter");
    let change = evaluated(&op, "change").expect("change counter");
    assert!(full >= all as f64, "evaluated in full once: {full}");
    let decisions = op.metric(DECISIONS).unwrap_or(0.0);
    let evaluate = format!("{DECISIONS}{{decision=\"evaluate\"}}");
    let evaluations = op.metric(&evaluate).unwrap_or(0.0);

    let patch =
        serde_json::json!({"spec": {"containers": [{"name": "app", "image": "nginx:latest"}]}});
    pods.patch("web-3", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("patch the Pod");
    wait_for("the broken Pod in the status", &[&op], async || {
        (summary(&client, &name).await? == (all, 1)).then_some(())
    })
    .await;
    wait_for("the broken Pod in the PolicyReport", &[&op], async || {
        (reported(&client, &ns).await? == ["web-3"]).then_some(())
    })
    .await;
    // The Pod's one watch event, decided (and timed).
    wait_for("the change's decision", &[&op], async || {
        (op.metric(DECISIONS)? > decisions).then_some(())
    })
    .await;
    // Read at once: the reconcile that wrote the status and the report counted what it
    // evaluated by then.
    let full_after = evaluated(&op, "full").expect("full counter");
    let change_after = evaluated(&op, "change").expect("change counter");
    assert_eq!(full_after, full, "nothing was evaluated in full");
    let delta = change_after - change;
    assert!((1.0..=3.0).contains(&delta), "{delta} objects evaluated");
    assert_eq!(
        op.metric(&evaluate).unwrap_or(0.0),
        evaluations,
        "the change asked for no full evaluation"
    );
}
