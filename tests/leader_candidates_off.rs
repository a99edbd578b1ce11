//! `kube-guardian operator --lease-candidates=false` (the chart's `leaderElection.candidates:
//! false`) as a real process against the real control plane: it leads with the election Lease
//! alone and writes no candidate record, while a replica with records on, in the same election,
//! does write its own.

use std::path::Path;
use std::time::Duration;

use guardian_cluster::lease::candidate_selector;
use guardian_testenv::operator_process::{self, OperatorProcess};
use guardian_testenv::{ControlPlane, unique_name};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};

fn start(
    cp: &ControlPlane,
    name: &str,
    candidates: bool,
    lease: &str,
    ns: &str,
    dir: &Path,
) -> OperatorProcess {
    OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        cp.kubeconfig_path(),
        cp.context_name(),
    )
    .name(name)
    .leader_election(lease, ns, Duration::from_secs(4), Duration::from_secs(3))
    .arg(&format!("--lease-candidates={candidates}"))
    .log_level("info,guardian_operator=debug")
    .start(dir)
    .expect("the operator starts")
}

/// The holder identities of the election's candidate records.
async fn record_holders(leases: &Api<Lease>, lease: &str) -> Option<Vec<String>> {
    let records = leases
        .list(&ListParams::default().labels(&candidate_selector(lease)))
        .await
        .ok()?;
    let mut holders: Vec<String> = records
        .items
        .into_iter()
        .filter_map(|record| record.spec?.holder_identity)
        .collect();
    holders.sort();
    Some(holders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_candidate_records_writes_the_election_lease_alone() {
    let cp = ControlPlane::shared().await.expect("control plane");
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("kg-records").await.expect("namespace");
    let lease = unique_name("kg-lease");
    let leases: Api<Lease> = Api::namespaced(client, &ns);
    let dir = tempfile::tempdir().expect("temp dir");
    let poll = Duration::from_millis(200);

    // Off: it leads. A record, were it written, goes out with the election's first steps.
    let off = start(cp, "kg-off", false, &lease, &ns, dir.path());
    operator_process::wait_for("kg-off to lead", poll, &[&off], async || {
        let holder = guardian_testenv::lease::holder(&leases, &lease).await?;
        holder.starts_with("kg-off").then_some(())
    })
    .await;
    // On, started after it leads: its record shows records do get written here and by now.
    let on = start(cp, "kg-on", true, &lease, &ns, dir.path());
    let holders =
        operator_process::wait_for("kg-on's candidate record", poll, &[&off, &on], async || {
            let holders = record_holders(&leases, &lease).await?;
            holders
                .iter()
                .any(|holder| holder.starts_with("kg-on"))
                .then_some(holders)
        })
        .await;
    assert_eq!(holders.len(), 1, "only kg-on's record: {holders:?}");
}
