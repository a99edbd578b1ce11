//! PolicyReports against the real control plane: both enforcements' results in one report, and
//! the finalizer that removes a deleted policy's rows before the policy goes. A binary of its
//! own, so its operator is the only one writing reports on its control plane (another test's
//! operator, leading too, could write a report from a body built before the deletion).

// `pub`: this binary uses a few of the shared helpers only.
pub mod common;

use std::time::Duration;

use common::report_refusal::{lift_refusal, refuse_reports};
use common::*;
use guardian_core::crd::GuardianPolicy;
use kube::api::{Api, DeleteParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_reports_hold_fail_and_warn_results_and_the_finalizer_cleans_them() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("reports").await.expect("namespace");
    create(&client, Some(&ns), &deployment("bad", true)).await;
    create(&client, Some(&ns), &pod("host-net", true)).await;
    let deny = format!("{ns}-deny");
    let warn = format!("{ns}-warn");
    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    two_rule_policy(&deny, &ns, "Deny").created(&client).await;
    two_rule_policy(&warn, &ns, "Warn").created(&client).await;

    let reports = policy_report_api(&client, &ns);
    let report = eventually("a report with both policies' results", || async {
        reports
            .get_opt("kube-guardian")
            .await
            .ok()
            .flatten()
            .filter(|r| r.data["results"].as_array().is_some_and(|a| a.len() == 4))
    })
    .await;
    assert_eq!(report.data["summary"]["fail"], 2);
    assert_eq!(report.data["summary"]["warn"], 2);
    let results = report.data["results"].as_array().expect("results");
    let privileged = results
        .iter()
        .find(|r| r["policy"] == deny.as_str() && r["rule"] == "pss-privileged")
        .expect("the privileged result");
    assert_eq!(privileged["result"], "fail");
    assert_eq!(privileged["severity"], "critical");
    assert_eq!(privileged["resources"][0]["kind"], "Deployment");
    assert_eq!(privileged["resources"][0]["name"], "bad");
    assert_eq!(
        privileged["properties"]["path"],
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    assert!(
        results
            .iter()
            .filter(|r| r["policy"] == warn.as_str())
            .all(|r| r["result"] == "warn")
    );

    // The finalizer removes the deleted policy's rows before the policy goes: while the report
    // write is refused, the policy stays.
    let p = policy(&client, &deny).await.expect("policy");
    assert!(
        p.metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "guardian.kube-guardian.dev/reports")
    );
    let refusal = format!("{ns}-refuse-reports");
    refuse_reports(&client, &refusal, &ns).await;
    Api::<GuardianPolicy>::all(client.clone())
        .delete(&deny, &DeleteParams::default())
        .await
        .expect("delete");
    eventually(
        "the cleanup to fail on the refused report write",
        || async {
            (op.metric("kube_guardian_reconciles_total{result=\"report_write\"}") >= 1.0)
                .then_some(())
        },
    )
    .await;
    let p = policy(&client, &deny)
        .await
        .expect("the policy stays while its rows are in the report");
    assert!(p.metadata.deletion_timestamp.is_some());
    let report = reports.get("kube-guardian").await.expect("the report");
    assert_eq!(report.data["results"].as_array().map(Vec::len), Some(4));
    lift_refusal(&client, &refusal, &ns).await;
    eventually("the policy to be gone", || async {
        policy(&client, &deny).await.is_none().then_some(())
    })
    .await;
    let report = reports
        .get("kube-guardian")
        .await
        .expect("the report remains for the other policy");
    let results = report.data["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["policy"] == warn.as_str()));

    // With no policy left, the report goes too.
    Api::<GuardianPolicy>::all(client.clone())
        .delete(&warn, &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the empty report to be deleted", || async {
        reports
            .get_opt("kube-guardian")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    op.stop().await;
}
