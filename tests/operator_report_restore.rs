//! `kube-guardian operator`, run as the README tells a user, against the real local control
//! plane: a PolicyReport deleted by hand is written again with the same rows, and one relabelled
//! as another tool's is left alone; then, with two replicas, the restore watch belongs to a
//! leadership term, so after the leader is stopped the replica taking over writes a report
//! deleted by hand again. A binary of its own: no other operator writes to its control plane.

use std::time::Duration;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::OperatorProcess;
use guardian_testenv::policy_reports as reports;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::Value;

#[path = "support/operator_run.rs"]
mod operator_run;
#[path = "support/operator_seeded.rs"]
mod operator_seeded;
use operator_run::{logs_dir, operator, wait_for};
use operator_seeded::seeded;

/// The namespace's report as `(uid, summary, results)`, once it exists.
async fn report(client: &kube::Client, ns: &str) -> Option<(String, Value, Value)> {
    let report = reports(client, ns).get_opt("kube-guardian").await.ok()??;
    Some((
        report.metadata.uid?,
        report.data["summary"].clone(),
        report.data["results"].clone(),
    ))
}

/// One test, two phases on one control plane (each operator started costs a control plane's
/// worth of watches; a second binary would cost a second control plane).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_report_deleted_by_hand_is_written_again_also_by_a_replica_taking_over() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let dir = logs_dir();
    written_again_with_the_same_rows(cp, dir.path()).await;
    written_again_by_the_replica_taking_over(cp, dir.path()).await;
}

/// A single operator: a report deleted by hand comes back with the same rows; one relabelled
/// as another tool's is left alone.
async fn written_again_with_the_same_rows(cp: &ControlPlane, dir: &std::path::Path) {
    let (client, ns, _policy) = seeded(cp, "restore").await;
    let (_, other_ns, _) = seeded(cp, "restore-other").await;
    guardian_testenv::demo::install_policy_report_crd(&client)
        .await
        .expect("the PolicyReport CRD installs");
    let op = operator(cp, "op-restore")
        // No resync within the test: only what the test checks can bring a report back.
        .resync(Duration::from_secs(3600))
        .start(dir)
        .expect("the operator starts");
    let (uid, summary, results) =
        wait_for("the report with the privileged Pod", &[&op], async || {
            report(&client, &ns)
                .await
                .filter(|(_, _, results)| results[0]["resources"][0]["name"] == "privileged")
        })
        .await;

    reports(&client, &ns)
        .delete("kube-guardian", &DeleteParams::default())
        .await
        .expect("delete the report");
    let (new_uid, new_summary, new_results) =
        wait_for("the deleted report written again", &[&op], async || {
            report(&client, &ns).await.filter(|(u, _, _)| *u != uid)
        })
        .await;
    assert_ne!(new_uid, uid);
    assert_eq!(new_summary, summary);
    assert_eq!(new_results, results);

    // Relabelled as another tool's: the watch sees it leave as a deletion, but it is not gone.
    let other_tool = serde_json::json!({
        "metadata": {"labels": {"app.kubernetes.io/managed-by": "other-tool"}}
    });
    let relabelled_version = reports(&client, &ns)
        .patch(
            "kube-guardian",
            &PatchParams::default(),
            &Patch::Merge(&other_tool),
        )
        .await
        .expect("relabel the report")
        .metadata
        .resource_version;
    // The watch shows events in order: once the other namespace's deleted report is written
    // again, the operator has handled the relabelling.
    let (other_uid, _, _) = wait_for("the other namespace's report", &[&op], async || {
        report(&client, &other_ns).await
    })
    .await;
    reports(&client, &other_ns)
        .delete("kube-guardian", &DeleteParams::default())
        .await
        .expect("delete the other report");
    wait_for(
        "the other deleted report written again",
        &[&op],
        async || {
            report(&client, &other_ns)
                .await
                .filter(|(u, _, _)| *u != other_uid)
        },
    )
    .await;
    let relabelled = reports(&client, &ns)
        .get("kube-guardian")
        .await
        .expect("the relabelled report");
    // Not written at all (a write keeping the other label would still change its version).
    assert_eq!(
        relabelled.metadata.resource_version, relabelled_version,
        "the relabelled report is not written"
    );
    assert_eq!(
        relabelled.metadata.labels.unwrap_or_default()["app.kubernetes.io/managed-by"],
        "other-tool",
        "a report another tool's label claims is left alone"
    );
    // Stopped (and waited for): the replicas below are the only writers.
    drop(op);
}

const LEASE: &str = "kube-guardian-restore-takeover";

fn replica(cp: &ControlPlane, name: &str, dir: &std::path::Path) -> OperatorProcess {
    operator(cp, name)
        .leader_election(
            LEASE,
            "default",
            Duration::from_secs(4),
            Duration::from_secs(3),
        )
        // No resync within the test: only the restore watch can bring a report back.
        .resync(Duration::from_secs(3600))
        .start(dir)
        .expect("the operator starts")
}

fn leads(op: &OperatorProcess) -> bool {
    op.metric("kube_guardian_leader") == Some(1.0)
}

async fn report_uid(client: &kube::Client, ns: &str) -> Option<String> {
    report(client, ns).await.map(|(uid, _, _)| uid)
}

/// Two replicas: after the leader is stopped, the one taking over watches with its own term and
/// writes a report deleted by hand again.
async fn written_again_by_the_replica_taking_over(cp: &ControlPlane, dir: &std::path::Path) {
    let (client, ns, _policy) = seeded(cp, "takeover").await;
    let a = replica(cp, "op-a", dir);
    let b = replica(cp, "op-b", dir);
    let first = wait_for("a leader", &[&a, &b], async || {
        [leads(&a), leads(&b)].iter().position(|l| *l)
    })
    .await;
    let (leader, standby) = if first == 0 { (a, b) } else { (b, a) };
    wait_for("the report", &[&leader], async || {
        report_uid(&client, &ns).await
    })
    .await;

    // SIGTERM releases the lease: the standby leads, with a term of its own.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(leader.child().id()).expect("pid fits"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the leader");
    wait_for("the new leader's report pass", &[&standby], async || {
        (leads(&standby) && standby.metric("kube_guardian_report_passes_total") >= Some(1.0))
            .then_some(())
    })
    .await;
    let uid = wait_for("the report", &[&standby], async || {
        report_uid(&client, &ns).await
    })
    .await;
    reports(&client, &ns)
        .delete("kube-guardian", &DeleteParams::default())
        .await
        .expect("delete the report");
    wait_for(
        "the deleted report written again by the new leader",
        &[&standby],
        async || report_uid(&client, &ns).await.filter(|u| *u != uid),
    )
    .await;
    drop(leader);
}
