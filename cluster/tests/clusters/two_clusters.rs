//! Real control planes lost and back: losing one never stops the other, the lost one comes back
//! without restarting anything, and a server that hangs is found out by the health probe.

use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::{
    ClusterOptions, ClusterSet, ClusterSnapshot, ClusterState, UnreachableReason,
};
use guardian_testenv::ControlPlane;
use k8s_openapi::jiff::Timestamp;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::support::{DEADLINE, create_pod, evaluates, is, options, targets, wait_for};

async fn plane(context: &str) -> ControlPlane {
    let cp = ControlPlane::builder()
        .context_name(context)
        .use_existing_cluster(false)
        .start()
        .await
        .expect("the control plane starts");
    cp.install_crds().await.expect("CRDs");
    cp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_is_unreachable_while_the_other_keeps_updating_and_it_comes_back() {
    let (mut alpha, beta) = tokio::join!(plane("alpha"), plane("beta"));
    let alpha_ns = alpha.create_namespace("alpha").await.expect("namespace");
    let beta_ns = beta.create_namespace("beta").await.expect("namespace");
    create_pod(&alpha, &alpha_ns, "before", true).await;
    create_pod(&beta, &beta_ns, "before", true).await;

    let set = ClusterSet::start(
        targets(&[alpha.kubeconfig_path(), beta.kubeconfig_path()]),
        options(),
    );
    let mut receivers = set.subscribe();
    let (mut alpha_rx, mut beta_rx) = (receivers.remove(0), receivers.remove(0));
    assert_eq!(alpha_rx.borrow().context, "alpha");
    assert_eq!(beta_rx.borrow().context, "beta");
    wait_for(&mut alpha_rx, "alpha synced with its Pod", |s| {
        is("Synced")(s) && evaluates(s, "Pod", &alpha_ns, "before")
    })
    .await;
    wait_for(&mut beta_rx, "beta synced", is("Synced")).await;

    alpha.stop_apiserver().expect("alpha's apiserver stops");
    let lost = wait_for(&mut alpha_rx, "alpha unreachable", |s| {
        matches!(
            s.connection.state,
            ClusterState::Unreachable {
                reason: UnreachableReason::Refused,
                ..
            }
        )
    })
    .await;
    // Its last data is kept, marked stale, with the next attempt announced.
    assert!(evaluates(&lost, "Pod", &alpha_ns, "before"));
    let last_synced = lost.connection.last_synced.expect("it was synced once");
    let next_retry = lost
        .connection
        .next_retry
        .expect("the next retry is announced");
    assert!(next_retry > lost.connection.since, "{:?}", lost.connection);
    assert!(
        lost.connection.stale_for(Timestamp::now()).is_some(),
        "stale since {last_synced}"
    );

    // The other cluster is not held up: a Pod created there shows in its next snapshots.
    let beta_before = Arc::clone(&beta_rx.borrow());
    create_pod(&beta, &beta_ns, "during", false).await;
    let updated = wait_for(&mut beta_rx, "beta shows the new Pod", |s| {
        evaluates(s, "Pod", &beta_ns, "during")
    })
    .await;
    assert_eq!(updated.connection.state, ClusterState::Synced);
    // Only the new Pod was evaluated; the other kept its evaluation.
    assert!(evaluates(&updated, "Pod", &beta_ns, "before"));
    assert_eq!(updated.evaluated, 1);
    // Kept, not copied: both snapshots share that evaluation (a big cluster's findings are held once).
    let before = |s: &ClusterSnapshot| {
        s.evaluations
            .iter()
            .find(|e| e.resource.name == "before")
            .cloned()
            .expect("the Pod created before is evaluated")
    };
    assert!(Arc::ptr_eq(&before(&beta_before), &before(&updated)));
    assert!(
        !alpha_rx.borrow().connection.state.is_live(),
        "alpha is still down: {:?}",
        alpha_rx.borrow().connection
    );

    // Back without restarting the set: the same task reconnects after its backoff.
    alpha
        .start_apiserver()
        .await
        .expect("alpha's apiserver starts");
    let back = wait_for(&mut alpha_rx, "alpha synced again", is("Synced")).await;
    assert!(evaluates(&back, "Pod", &alpha_ns, "before"));
    assert_eq!(back.connection.next_retry, None);
    assert_eq!(back.connection.stale_for(Timestamp::now()), None);
    assert_eq!(beta_rx.borrow().connection.state, ClusterState::Synced);

    // Dropping the set stops every cluster's task: their senders go away.
    set.shutdown();
    for rx in [&mut alpha_rx, &mut beta_rx] {
        let ended =
            tokio::time::timeout(DEADLINE, async { while rx.changed().await.is_ok() {} }).await;
        assert!(ended.is_ok(), "the task stops with its set");
    }
}

/// Sends `signal` to the control plane's kube-apiserver process.
fn signal_apiserver(cp: &ControlPlane, signal: Signal) {
    let (_, pid) = cp
        .process_ids()
        .into_iter()
        .find(|(name, _)| *name == "kube-apiserver")
        .expect("a local kube-apiserver");
    let pid = i32::try_from(pid).expect("a pid fits in i32");
    nix::sys::signal::kill(Pid::from_raw(pid), signal).expect("the signal is sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_hangs_with_its_connections_open_turns_unreachable_by_timeout() {
    let cp = plane("hanging").await;
    let short = Duration::from_secs(3);
    let set = ClusterSet::start(
        targets(&[cp.kubeconfig_path()]),
        ClusterOptions {
            request_timeout: short,
            connect_timeout: short,
            health_interval: Duration::from_secs(2),
            ..options()
        },
    );
    let mut rx = set.subscribe().remove(0);
    wait_for(&mut rx, "synced", is("Synced")).await;

    // Stopped, not killed: connections stay open and nothing answers, no watch ends.
    signal_apiserver(&cp, Signal::SIGSTOP);
    let hung = wait_for(&mut rx, "unreachable by timeout", |s| {
        matches!(
            s.connection.state,
            ClusterState::Unreachable {
                reason: UnreachableReason::Timeout,
                ..
            }
        )
    })
    .await;
    signal_apiserver(&cp, Signal::SIGCONT);
    assert!(hung.connection.next_retry.is_some());
    wait_for(&mut rx, "synced again", is("Synced")).await;
}
