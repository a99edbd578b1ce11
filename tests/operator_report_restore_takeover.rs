//! `kube-guardian operator` replicas against the real local control plane: the PolicyReport
//! restore watch belongs to a leadership term, so after the leader is stopped the replica taking
//! over writes a report deleted by hand again. A binary of its own: no other operator writes to
//! its control plane.

use std::time::Duration;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::OperatorProcess;
use guardian_testenv::policy_reports as reports;
use kube::api::DeleteParams;

#[path = "support/operator_run.rs"]
mod operator_run;
#[path = "support/operator_seeded.rs"]
mod operator_seeded;
use operator_run::{logs_dir, operator, wait_for};
use operator_seeded::seeded;

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
    reports(client, ns)
        .get_opt("kube-guardian")
        .await
        .ok()??
        .metadata
        .uid
}

/// Waits until `check` holds, with the logs of `operators` if it never does.
async fn wait_on<T>(
    what: &str,
    operators: &[&OperatorProcess],
    check: impl AsyncFnMut() -> Option<T>,
) -> T {
    guardian_testenv::operator_process::wait_for(what, Duration::from_millis(200), operators, check)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_taking_over_writes_a_report_deleted_by_hand_again() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let (client, ns, _policy) = seeded(cp, "takeover").await;
    guardian_testenv::demo::install_crd_file(
        &client,
        &guardian_testenv::demo::policy_report_crd_file(),
    )
    .await
    .expect("the PolicyReport CRD installs");
    let dir = logs_dir();
    let a = replica(cp, "op-a", dir.path());
    let b = replica(cp, "op-b", dir.path());
    let first = wait_on("a leader", &[&a, &b], async || {
        [leads(&a), leads(&b)].iter().position(|l| *l)
    })
    .await;
    let (leader, standby) = if first == 0 { (a, b) } else { (b, a) };
    wait_on("the report", &[&leader, &standby], async || {
        report_uid(&client, &ns).await
    })
    .await;

    // SIGTERM releases the lease: the standby leads, with a term of its own.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(leader.child().id()).expect("pid fits"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the leader");
    wait_for("the new leader's report pass", &standby, async || {
        (leads(&standby) && standby.metric("kube_guardian_report_passes_total") >= Some(1.0))
            .then_some(())
    })
    .await;
    let uid = wait_for("the report", &standby, async || {
        report_uid(&client, &ns).await
    })
    .await;
    reports(&client, &ns)
        .delete("kube-guardian", &DeleteParams::default())
        .await
        .expect("delete the report");
    wait_for(
        "the deleted report written again by the new leader",
        &standby,
        async || report_uid(&client, &ns).await.filter(|u| *u != uid),
    )
    .await;
    drop(leader);
}
