//! A change to the operator's Leases alone (renewals, several per replica and minute) refreshes
//! the snapshot's Leases without evaluating the cluster again; any other change evaluates.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

use super::*;

fn index_of(data: &Data, resource: &str) -> Vec<usize> {
    data.kinds
        .statuses()
        .iter()
        .enumerate()
        .filter(|(_, k)| k.resource == resource)
        .map(|(i, _)| i)
        .collect()
}

fn lease(name: &str, holder: &str, renewed: i64) -> Arc<Lease> {
    Arc::new(Lease {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("kube-system".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).expect("a time"))),
            ..LeaseSpec::default()
        }),
    })
}

/// A privileged Pod, as the Pods' watch caches it.
fn pod(data: &Data, name: &str) {
    let pods = workload_resources()
        .into_iter()
        .find(|ar| ar.kind == "Pod")
        .expect("Pods are a workload kind");
    let obj: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "team-a", "uid": name},
        "spec": {"containers": [{
            "name": "app", "image": "nginx:1.27",
            "securityContext": {"privileged": true}
        }]}
    }))
    .expect("a pod");
    data.workloads.insert_for_tests(obj, &pods);
}

#[tokio::test]
async fn a_lease_only_change_refreshes_the_leases_without_evaluating() {
    let now = Timestamp::from_second(1_900_000_000).expect("a time");
    let mut data = Data::new(&ClusterOptions::default());
    let policy: GuardianPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": "no-privileged", "uid": "p"},
        "spec": {"enforcement": "Audit", "rules": [{"id": "pss-privileged"}]}
    }))
    .expect("a policy");
    if let Ok(mut map) = data.policies.write() {
        map.insert("no-privileged".into(), Arc::new(policy));
    }
    pod(&data, "first");
    // Every watch listed, as the task hears it.
    for i in 0..data.kinds.statuses().len() {
        assert!(data.apply_watch(Update::Listed(i)).is_none());
    }
    let mut snapshot = ClusterSnapshot::connecting("a", now);
    data.refresh(&mut snapshot, now).await;
    assert_eq!(data.evaluations_run(), 1);
    assert_eq!(snapshot.evaluations.len(), 1, "the pod is evaluated");
    let before = snapshot.clone();

    // A renewal of the election Lease and a new candidate record, as their watches report them.
    let lease_watches = index_of(&data, "leases.coordination.k8s.io");
    assert_eq!(
        lease_watches.len(),
        2,
        "the election Lease and its candidates"
    );
    let (election, candidates) = data.leases.maps();
    if let (Ok(mut election), Ok(mut candidates)) = (election.write(), candidates.write()) {
        election.insert("k/l".into(), lease("kube-guardian-operator", "pod-1", 10));
        candidates.insert("k/c".into(), lease("candidate-pod-2", "pod-2", 10));
    }
    for &i in &lease_watches {
        assert!(data.apply_watch(Update::Changed(i)).is_none());
    }
    data.refresh(&mut snapshot, now).await;
    assert_eq!(
        data.evaluations_run(),
        1,
        "a Lease change evaluated the cluster"
    );
    assert!(
        Arc::ptr_eq(&snapshot.evaluations[0], &before.evaluations[0])
            && snapshot.same_findings(&before),
        "the findings' Arcs were replaced"
    );
    let holder = snapshot
        .lease
        .as_ref()
        .and_then(|l| l.spec.as_ref()?.holder_identity.clone());
    assert_eq!(holder.as_deref(), Some("pod-1"));
    assert_eq!(snapshot.candidates.len(), 1);
    assert_eq!(data.kinds.statuses()[lease_watches[1]].objects, 1);

    // A workload's change is evaluated again.
    pod(&data, "second");
    let pods = index_of(&data, "pods");
    assert_eq!(pods.len(), 1);
    assert!(data.apply_watch(Update::Changed(pods[0])).is_none());
    data.refresh(&mut snapshot, now).await;
    assert_eq!(
        data.evaluations_run(),
        2,
        "a workload change was not evaluated"
    );
    assert_eq!(snapshot.evaluations.len(), 2, "the new pod is evaluated");
}
