//! A policy deleted with no reconcile stops being enforced: `kube-guardian operator` as a
//! standby, with the API server calling its webhook. In a test binary of its own: its control
//! plane must have no leading operator (another test's would reconcile the deletion).

// `pub`: this binary uses a few of the shared helpers only.
#[path = "support/operator_webhook.rs"]
pub mod operator_webhook;

use std::time::Duration;

use guardian_testenv::operator_process::free_addr;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};
use operator_webhook::*;

/// The webhook's allowed admission reviews (dry runs are not counted).
const ALLOWED: &str = "kube_guardian_admission_requests_total{decision=\"allowed\"";

/// A Lease held by someone else for an hour: an operator running for it stays a standby, which
/// serves the webhook but writes nothing and adds no finalizer.
async fn held_lease(client: &kube::Client) -> String {
    let name = guardian_testenv::unique_name("held");
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("elsewhere".to_owned()),
            lease_duration_seconds: Some(3600),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..LeaseSpec::default()
        }),
    };
    Api::<Lease>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &lease)
        .await
        .expect("the held Lease");
    name
}

/// A policy deleted with no reconcile (no leader ever added its finalizer, so nothing reconciles
/// its deletion) stops being enforced by the webhook on its own: the compiled set follows the
/// policy watch, with no workload change or resync to prompt a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_deleted_without_a_reconcile_stops_being_enforced() {
    // This binary's own control plane: no other test's operator leads on it, which would add the
    // finalizer and reconcile the deletion.
    let DenySetup {
        cp,
        client,
        ns,
        name,
        policies,
        pods,
    } = deny_setup("unenforce").await;

    let lease = held_lease(&client).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = webhook_certs(dir.path());
    let webhook = free_addr().expect("a free port");
    let op = operator(cp, dir.path(), webhook)
        .leader_election(
            &lease,
            "default",
            Duration::from_secs(15),
            Duration::from_secs(10),
        )
        .resync(Duration::from_secs(3600))
        .start(dir.path())
        .expect("the operator starts");
    register_webhook(&client, webhook, &ca, &ns).await;
    let dry = dry_run();
    wait_for(
        "the standby's webhook to deny a privileged Pod",
        &op,
        async || {
            denied_by_us(&pods.create(&dry, &privileged_pod("probe", None)).await).then_some(())
        },
    )
    .await;
    assert_eq!(op.metric("kube_guardian_leader"), Some(0.0), "a standby");
    let created = policies.get(&name).await.expect("policy");
    assert!(
        created.metadata.finalizers.unwrap_or_default().is_empty(),
        "no leader, no finalizer: the deletion is never reconciled"
    );

    policies
        .delete(&name, &DeleteParams::default())
        .await
        .expect("the policy is deleted");
    // Dry runs only: no workload change that could prompt a rebuild. Polled until admitted: a
    // transient webhook failure (a 500, a timeout) is neither a denial nor an admission.
    let mut last = None;
    wait_for("the webhook to admit the privileged Pod", &op, async || {
        let result = pods.create(&dry, &privileged_pod("after", None)).await;
        let admitted = result.is_ok();
        last = Some(result.map(|p| p.metadata.name));
        admitted.then_some(())
    })
    .await;
    // Admitted for real (counted, unlike the dry runs) by the webhook, not by a failure policy.
    let allowed = || op.metric(ALLOWED).unwrap_or(0.0);
    let allowed_before = allowed();
    let pod = pods
        .create(&PostParams::default(), &privileged_pod("admitted", None))
        .await;
    assert!(pod.is_ok(), "after {last:?}: {pod:?}");
    assert!(
        allowed() > allowed_before,
        "admitted ({last:?}), but not by the webhook's allow\n--- operator:\n{}",
        op.logs()
    );
}
