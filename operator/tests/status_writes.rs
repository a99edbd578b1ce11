//! A status-only write to a policy neither recompiles the policy set nor re-evaluates its
//! objects. In a test binary of its own: its control plane sees no other test's namespaces,
//! exceptions or workloads, each of which may rightly reconcile every policy.

// `pub`: this binary uses a few of the shared helpers only.
pub mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::GuardianPolicy;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

fn summary(p: &GuardianPolicy) -> Option<(u64, u64)> {
    let s = p.status.as_ref()?.summary.as_ref()?;
    Some((s.resources_evaluated, s.violations))
}

fn reconciles(op: &Operator) -> f64 {
    op.metric("kube_guardian_reconciles_total")
}

/// An Audit policy `name` with the privileged rule, matching namespace `ns`.
fn privileged_audit_policy(name: &str, ns: &str) -> TestPolicy {
    TestPolicy::new(name)
        .enforcement("Audit")
        .namespaces([ns])
        .rules(["pss-privileged"])
}

/// A policy matching a namespace with no objects, and its reconcile written: its watch events
/// come after every earlier policy event, so a reconcile those started was scheduled by now.
async fn barrier(client: &kube::Client, name: &str) {
    privileged_audit_policy(name, &format!("{name}-nowhere"))
        .created(client)
        .await;
    eventually("the barrier policy's status", || async {
        let p = policy(client, name).await?;
        let generation = p.metadata.generation;
        (p.status?.observed_generation == generation).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_only_write_neither_recompiles_nor_re_evaluates() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("statusonly").await.expect("namespace");
    create(&client, Some(&ns), &deployment("good", false)).await;
    create(&client, Some(&ns), &deployment("bad", true)).await;
    create(&client, Some(&ns), &pod("plain", false)).await;
    // One reconcile at a time: the barrier's reconciles complete only after any reconcile the
    // status write would have scheduled before them, so its count is final once theirs is in.
    let op = Operator::start_as(
        client.clone(),
        Duration::from_secs(300),
        InitialListFlag::Auto,
        true,
        Arc::new(PolicyStore::new()),
        1,
    )
    .await;
    // The pass over: the policy below is evaluated by its own reconciles only.
    op.converged().await;
    let name = format!("{ns}-status");
    privileged_audit_policy(&name, &ns).created(&client).await;
    let settled = eventually("status with 3 resources and 1 violation", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((3, 1)))
    })
    .await;
    // Its two reconciles (the finalizer's, then the evaluation, counted after its status write)
    // are done; status writes start none.
    let before = eventually("the policy's two reconciles counted", || async {
        let count = reconciles(&op);
        (count >= 2.0).then_some(count)
    })
    .await;
    let reports = policy_report_api(&client, &ns);
    let report_version = |r: kube::api::DynamicObject| r.metadata.resource_version;
    // The report writer writes the PolicyReport apart from the status, maybe after it: its
    // version once it holds the violation.
    let report_before = eventually("the PolicyReport with the violation", || async {
        let report = reports.get_opt("kube-guardian").await.ok()??;
        let summary = &report.data["summary"];
        let failing: u64 = ["fail", "warn", "error"]
            .iter()
            .filter_map(|k| summary[*k].as_u64())
            .sum();
        (failing == 1).then(|| report_version(report))
    })
    .await;
    // Someone else's status write: a new resourceVersion, the same generation.
    let mut status = settled.status.clone().expect("status");
    if let Some(summary) = status.summary.as_mut() {
        summary.violations = 999;
    }
    Api::<GuardianPolicy>::all(client.clone())
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .expect("status patch");
    // A later policy event, reconciled twice (its finalizer, its evaluation): a reconcile the
    // status write had started would have been scheduled before these, counted a third, and
    // rewritten the status.
    barrier(&client, &format!("{ns}-barrier")).await;
    eventually("the barrier's two reconciles counted", || async {
        (reconciles(&op) >= before + 2.0).then_some(())
    })
    .await;
    assert_eq!(
        reconciles(&op),
        before + 2.0,
        "a status-only write started a reconcile (a full re-evaluation)"
    );
    let p = policy(&client, &name).await.expect("policy");
    assert_eq!(
        p.status.and_then(|s| s.summary).map(|s| s.violations),
        Some(999),
        "the status was rewritten"
    );
    assert_eq!(
        report_version(reports.get("kube-guardian").await.expect("report")),
        report_before,
        "the PolicyReport was rewritten"
    );
    // A workload change still reconciles, and corrects the status.
    create(&client, Some(&ns), &deployment("worse", true)).await;
    eventually("the new workload in the status", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((4, 2)))
    })
    .await;
    op.stop().await;
}
