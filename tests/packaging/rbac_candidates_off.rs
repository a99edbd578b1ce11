//! The chart with `leaderElection.candidates=false`, proven like rbac.rs: the real operator with
//! the chart's ServiceAccount token alone leads without a single Forbidden and writes no candidate
//! record, and the Lease policy, still installed, keeps the Role's `create` on Leases of any name
//! (RBAC cannot name a create) to the election Lease alone.

use std::time::Duration;

use guardian_testenv::operator_process::OperatorProcess;
use guardian_testenv::{ControlPlane, unique_name};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};

use crate::rbac_identity::{assert_not_refused, install_identity, wait_for};
use crate::rbac_leases::{lease_doc, refused};
use crate::support::render;

/// The chart's default `leaderElection.leaseName`.
const LEASE: &str = "kube-guardian-operator";
const POLL: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_candidate_records_the_operator_leads_and_may_create_no_other_lease() {
    let cp = ControlPlane::shared().await.expect("control plane");
    guardian_testenv::demo::install_crds(cp)
        .await
        .expect("CRDs");
    let admin = cp.client().expect("client");
    let release_ns = cp.create_namespace("kg-off").await.expect("namespace");
    let release = unique_name("kg");
    let docs = render(
        &release,
        &release_ns,
        &["--set", "leaderElection.candidates=false"],
    );
    let account = install_identity(&admin, &docs).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let token = cp
        .service_account_token(&release_ns, &account)
        .await
        .expect("a token");
    cp.write_kubeconfig_with_token(&token, &kubeconfig)
        .expect("kubeconfig");
    let op = OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        &kubeconfig,
        cp.context_name(),
    )
    .name("kg-off")
    .leader_election(
        LEASE,
        &release_ns,
        Duration::from_secs(15),
        Duration::from_secs(10),
    )
    .arg("--lease-candidates=false")
    .log_level("info,guardian_operator=debug")
    .start(dir.path())
    .expect("the operator starts");

    let leases: Api<Lease> = Api::namespaced(admin.clone(), &release_ns);
    wait_for("the Lease to name it", &op, async || {
        let holder = guardian_testenv::lease::holder(&leases, LEASE).await?;
        holder.starts_with("kg-off").then_some(())
    })
    .await;
    wait_for("readiness", &op, async || {
        (op.readyz()? == 200).then_some(())
    })
    .await;
    let names: Vec<String> = leases
        .list(&Default::default())
        .await
        .expect("Leases")
        .items
        .into_iter()
        .filter_map(|lease| lease.metadata.name)
        .collect();
    assert_eq!(names, [LEASE], "the election Lease alone");
    assert_not_refused(&op);

    // With its token: another Lease cannot be created (the policy loads asynchronously: wait
    // generously for the first refusal), nor a labelled candidate record.
    let operator = cp
        .client_for_existing_service_account(&release_ns, &account)
        .await
        .expect("a client as the operator's ServiceAccount");
    let mine: Api<Lease> = Api::namespaced(operator, &release_ns);
    let post = PostParams::default();
    other_leases_refused(&mine, &post).await;
    let label = guardian_cluster::lease::candidate_label(LEASE);
    let record = format!("{LEASE}-candidate-kg-off");
    let created = mine.create(&post, &lease_doc(&record, Some(&label))).await;
    assert!(
        refused(&created),
        "a candidate record with candidates off: {created:?}"
    );
}

/// Waits (up to 60 s) for the policy to refuse creating another Lease (a new name each try, so
/// a try admitted before the policy loaded does not turn the next into a conflict).
async fn other_leases_refused(leases: &Api<Lease>, post: &PostParams) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for attempt in 0.. {
        let other = format!("other-{attempt}");
        let created = leases.create(post, &lease_doc(&other, None)).await;
        if refused(&created) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the operator's ServiceAccount may create another Lease ({other}): {created:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
