//! The compiled set the webhook enforces follows the policies with no other activity: a policy
//! deleted without a reconcile (no finalizer: never reconciled by a leader) leaves the set.

// `pub`: this binary uses a few of the shared helpers only.
pub mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::GuardianPolicy;
use kube::api::{Api, DeleteParams};

fn enforced(store: &PolicyStore, name: &str) -> bool {
    store.snapshot().set.policies().any(|p| p.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_deleted_without_a_reconcile_leaves_the_webhooks_set_on_a_quiet_cluster() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    // A standby: it adds no finalizer and writes nothing, but serves the webhook.
    let store = Arc::new(PolicyStore::new());
    let op = Operator::start_as(
        client.clone(),
        Duration::from_secs(3600),
        InitialListFlag::Auto,
        false,
        store.clone(),
        2,
    )
    .await;
    let name = "quiet-deny";
    TestPolicy::new(name)
        .enforcement("Deny")
        .namespaces(["quiet-nowhere"])
        .profiles(["pss-baseline"])
        .created(&client)
        .await;
    eventually("the new policy in the webhook's set", || async {
        enforced(&store, name).then_some(())
    })
    .await;
    let created = policy(&client, name).await.expect("created");
    assert!(
        created.metadata.finalizers.unwrap_or_default().is_empty(),
        "no leader: no finalizer, so the deletion is not reconciled"
    );
    Api::<GuardianPolicy>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await
        .expect("deleted");
    // No reconcile (the controller skips objects gone from its store) and no workload change.
    eventually("the deleted policy gone from the webhook's set", || async {
        (!enforced(&store, name)).then_some(())
    })
    .await;
    op.stop().await;
}
