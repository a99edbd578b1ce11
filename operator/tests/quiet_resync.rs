//! A quiet cluster gets no status or PolicyReport writes across resyncs. In a test binary of its
//! own: the operator-wide reconcile counter then counts this policy's resyncs only (other tests'
//! policies on a shared control plane would be counted as well, and reach ten in a moment).

// `pub`: this binary uses a few of the shared helpers only.
pub mod common;

use std::time::Duration;

use common::*;
use guardian_core::crd::GuardianPolicy;

fn summary(p: &GuardianPolicy) -> Option<(u64, u64, u64)> {
    let s = p.status.as_ref()?.summary.as_ref()?;
    Some((s.resources_evaluated, s.violations, s.by_severity.critical))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_cluster_gets_no_status_or_report_writes_across_resyncs() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("quiet").await.expect("namespace");
    create(&client, Some(&ns), &deployment("bad", true)).await;
    let name = format!("{ns}-quiet");
    // A 1 s resync: a full re-evaluation every second.
    let op = Operator::start(client.clone(), Duration::from_secs(1)).await;
    TestPolicy::new(&name)
        .enforcement("Audit")
        .namespaces([&ns])
        .rules(["pss-privileged", "pss-host-namespaces"])
        .created(&client)
        .await;
    let reports = policy_report_api(&client, &ns);
    let settled = eventually("status and report", || async {
        let p = policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((1, 1, 1)))?;
        let r = reports.get_opt("kube-guardian").await.ok().flatten()?;
        Some((p.metadata.resource_version, r.metadata.resource_version))
    })
    .await;
    // Ten full re-evaluations by the resync, each of which could have rewritten both. This
    // policy is the only one on this binary's control plane, so each counted reconcile is its.
    let reconciles = || op.metric("kube_guardian_reconciles_total");
    let resyncs_before = reconciles();
    eventually("ten resync reconciles", || async {
        (reconciles() >= resyncs_before + 10.0).then_some(())
    })
    .await;
    let p = policy(&client, &name).await.expect("policy");
    let r = reports.get("kube-guardian").await.expect("report");
    assert_eq!(
        (p.metadata.resource_version, r.metadata.resource_version),
        settled,
        "a status or report was rewritten although nothing changed"
    );
    op.stop().await;
}
