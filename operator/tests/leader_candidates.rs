//! Candidate records against a real kube-apiserver: two replicas each write one, the cluster
//! layer (as the console and `scan` run it) lists one holder and one standby, and a replica that
//! shuts down deletes its record while the other takes over.

use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::kubeconfig::{self, ContextSelection};
use guardian_cluster::lease::candidate_selector;
use guardian_cluster::operator_state::{OperatorState, Role, operator_state};
use guardian_cluster::{ClusterOptions, ClusterSet, ClusterSnapshot};
use guardian_operator::leader::{LeaderElection, LeaderHandle, LeaseConfig};
use guardian_operator::metrics::Metrics;
use guardian_testenv::{ControlPlane, unique_name};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::ListParams;
use tokio::sync::watch;

/// Generous: the first election and the cluster's first lists on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// Short timings, as in leader_election.rs: renewals (the Lease's and the record's) every second.
fn config(lease: &str, namespace: &str, identity: &str) -> LeaseConfig {
    let mut config = LeaseConfig::new(lease, namespace, identity);
    config.lease_duration = Duration::from_secs(4);
    config.renew_deadline = Duration::from_secs(3);
    config.retry_period = Duration::from_secs(1);
    config.candidate_renew = Duration::from_secs(1);
    config
}

fn start(client: &kube::Client, lease: &str, namespace: &str, identity: &str) -> LeaderHandle {
    let metrics = Metrics::new().expect("metrics");
    LeaderElection::start(client.clone(), config(lease, namespace, identity), metrics)
        .expect("the election starts")
        .0
}

/// Waits until the operator state in the cluster's snapshots satisfies `condition`.
async fn wait_for(
    receiver: &mut watch::Receiver<Arc<ClusterSnapshot>>,
    what: &str,
    mut condition: impl FnMut(&OperatorState) -> bool,
) -> OperatorState {
    let waited = tokio::time::timeout(DEADLINE, async {
        loop {
            let state = operator_state(&receiver.borrow_and_update(), Timestamp::now());
            if condition(&state) {
                return state;
            }
            // Renew ages change with the clock alone: look again at least every second.
            let _ = tokio::time::timeout(Duration::from_secs(1), receiver.changed()).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        let state = operator_state(&receiver.borrow(), Timestamp::now());
        panic!("{what}: not within {DEADLINE:?}; last state: {state:#?}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_show_as_one_holder_and_one_standby_and_a_stopped_one_leaves() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let namespace = cp
        .create_namespace("kg-candidates")
        .await
        .expect("namespace");
    let lease = unique_name("kg-election");
    let mut replicas = vec![
        Some(start(&client, &lease, &namespace, "replica-a")),
        Some(start(&client, &lease, &namespace, "replica-b")),
    ];

    let targets = kubeconfig::select(&ContextSelection {
        kubeconfigs: vec![cp.kubeconfig_path().to_path_buf()],
        contexts: Vec::new(),
        all_contexts: true,
    })
    .expect("the kubeconfig selects");
    let options = ClusterOptions {
        lease_name: lease.clone(),
        publish_interval: Duration::from_millis(100),
        ..ClusterOptions::default()
    };
    let set = ClusterSet::start(targets, options);
    let mut receiver = set.subscribe().remove(0);

    let state = wait_for(&mut receiver, "one holder and one standby", |state| {
        let holder = state.leader.as_ref().and_then(|l| l.holder.as_deref());
        state.candidates.len() == 2
            && state.candidates[0].role == Role::Holder
            && holder == Some(state.candidates[0].identity.as_str())
            && state.standbys().count() == 1
    })
    .await;
    let holder = state.candidates[0].identity.clone();
    let standby = state.candidates[1].identity.clone();
    assert_ne!(holder, standby);
    assert!(["replica-a", "replica-b"].contains(&holder.as_str()));

    // Two records in the API, one per replica, selected by the election's label.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let records = leases
        .list(&ListParams::default().labels(&candidate_selector(&lease)))
        .await
        .expect("list the candidate records");
    let mut identities: Vec<String> = records
        .items
        .iter()
        .filter_map(|r| r.spec.as_ref()?.holder_identity.clone())
        .collect();
    identities.sort();
    assert_eq!(identities, ["replica-a", "replica-b"]);

    // The holder shuts down gracefully: it releases the Lease and deletes its record.
    let index = usize::from(holder == "replica-b");
    let stopping = replicas[index].take().expect("the holder's handle");
    stopping.release().await.expect("a clean release");
    let state = wait_for(
        &mut receiver,
        "the standby as the only candidate, holding",
        |state| {
            let leads = state.leader.as_ref().and_then(|l| l.holder.as_deref());
            state.candidates.len() == 1
                && state.candidates[0].identity == standby
                && state.candidates[0].role == Role::Holder
                && leads == Some(standby.as_str())
        },
    )
    .await;
    assert_eq!(state.standbys().count(), 0);
    set.shutdown();
    drop(replicas);
}

/// Counts of `kube_guardian_errors_total{kind="lease_candidate"}` in `metrics`.
fn candidate_errors(metrics: &Metrics) -> f64 {
    metrics
        .render()
        .lines()
        .find(|line| line.starts_with("kube_guardian_errors_total{kind=\"lease_candidate\"}"))
        .and_then(|line| line.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_candidate_record_is_counted_and_does_not_stop_leading() {
    use k8s_openapi::api::admissionregistration::v1::{
        ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    };
    use kube::api::PostParams;

    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let namespace = cp.create_namespace("kg-refused").await.expect("namespace");
    let lease = unique_name("kg-election");
    let label = guardian_cluster::lease::CANDIDATE_FOR;
    // The API server refuses every candidate record in this namespace (a policy of the
    // cluster's, standing in for an RBAC or admission rule the operator did not expect).
    let name = unique_name("kg-no-candidates");
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["coordination.k8s.io"], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["leases"]
            }]},
            "validations": [{
                "expression": format!(
                    "!has(object.metadata.labels) || !('{label}' in object.metadata.labels)"
                ),
                "message": "no candidate records here"
            }]
        }
    }))
    .expect("a policy");
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": namespace
            }}}
        }
    }))
    .expect("a binding");
    let post = PostParams::default();
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .create(&post, &policy)
        .await
        .expect("create the policy");
    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .create(&post, &binding)
        .await
        .expect("create the binding");
    // The policy applies once the API server has loaded it: wait until a labelled Lease is refused.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let probe: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "probe", "labels": {label: "probe"}}
    }))
    .expect("a lease");
    tokio::time::timeout(DEADLINE, async {
        loop {
            match leases.create(&post, &probe).await {
                Err(kube::Error::Api(status)) if status.code == 422 || status.code == 403 => return,
                // Admitted (the policy is not loaded yet), or left over from such a try: delete
                // it and try again.
                Ok(_) => {
                    let _ = leases.delete("probe", &Default::default()).await;
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    let _ = leases.delete("probe", &Default::default()).await;
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the policy refuses candidate records in time");

    let mut config = config(&lease, &namespace, "replica-a");
    // "Led throughout" is asserted below: a renew deadline that a loaded API server can miss
    // would end the term for a reason other than the refused records. Long ones leave only
    // those (still written every second) to stop it.
    config.lease_duration = Duration::from_secs(60);
    config.renew_deadline = Duration::from_secs(40);
    let metrics = Metrics::new().expect("metrics");
    let (handle, mut leader) =
        LeaderElection::start(client.clone(), config, metrics.clone()).expect("starts");
    tokio::time::timeout(DEADLINE, leader.wait_for(|leads| *leads))
        .await
        .expect("it leads in time")
        .expect("the election runs");
    tokio::time::timeout(DEADLINE, async {
        while candidate_errors(&metrics) < 2.0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the refused writes are counted, and retried");
    // Led throughout: not merely leading again at this instant.
    assert!(
        *leader.borrow() && !leader.has_changed().unwrap_or(true),
        "it stopped leading over its candidate record"
    );
    assert!(!handle.is_finished());
    let records = leases
        .list(&ListParams::default().labels(&candidate_selector(&lease)))
        .await
        .expect("list");
    assert!(records.items.is_empty());
    handle.release().await.expect("a clean release");
    let _ = Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .delete(&name, &Default::default())
        .await;
    let _ = Api::<ValidatingAdmissionPolicy>::all(client)
        .delete(&name, &Default::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_prunes_a_long_stale_record_and_keeps_a_fresh_one() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let namespace = cp.create_namespace("kg-prune").await.expect("namespace");
    let lease = unique_name("kg-election");
    let leases: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let label = guardian_cluster::lease::candidate_label(&lease);
    // Records as a crashed replica leaves them: one renewed an hour ago (5 s duration), one
    // renewed just now (a live replica of another process, 1 h duration).
    let record = |name: &str, renewed: Timestamp, seconds: i32| -> Lease {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name,
                "labels": {guardian_cluster::lease::CANDIDATE_FOR: label},
            },
            "spec": {
                "holderIdentity": name,
                "leaseDurationSeconds": seconds,
                "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(renewed),
            },
        }))
        .expect("a lease")
    };
    let hour_ago = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(3600);
    let post = kube::api::PostParams::default();
    leases
        .create(&post, &record("crashed", hour_ago, 5))
        .await
        .expect("the stale record");
    leases
        .create(&post, &record("alive", Timestamp::now(), 3600))
        .await
        .expect("the fresh record");

    let replica = start(&client, &lease, &namespace, "replica-a");
    tokio::time::timeout(DEADLINE, async {
        while leases.get_opt("crashed").await.ok().flatten().is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the leader prunes the stale record in time");
    assert!(
        leases.get_opt("alive").await.expect("get").is_some(),
        "a fresh record is kept"
    );
    replica.release().await.expect("a clean release");
}
