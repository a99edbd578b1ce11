//! A change to the operator's Leases alone (a renewal every retry period per replica) refreshes
//! the snapshot's Leases without evaluating the cluster again; any other change evaluates.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

use super::*;
use crate::kinds::EXCEPTIONS;

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

#[tokio::test]
async fn a_lease_only_change_refreshes_the_leases_without_evaluating() {
    let now = Timestamp::from_second(1_900_000_000).expect("a time");
    let mut data = Data::new(&ClusterOptions::default());
    for resource in [POLICIES, EXCEPTIONS] {
        for i in index_of(&data, resource) {
            data.kinds.listed(i);
        }
    }
    let mut snapshot = ClusterSnapshot::connecting("a", now);
    data.refresh(&mut snapshot, now).await;
    assert_eq!(data.evaluations_run(), 1);
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
        data.updated(i);
    }
    data.refresh(&mut snapshot, now).await;
    assert_eq!(
        data.evaluations_run(),
        1,
        "a Lease change evaluated the cluster"
    );
    assert!(
        snapshot.same_findings(&before),
        "the findings' Arcs were replaced"
    );
    let holder = snapshot
        .lease
        .as_ref()
        .and_then(|l| l.spec.as_ref()?.holder_identity.clone());
    assert_eq!(holder.as_deref(), Some("pod-1"));
    assert_eq!(snapshot.candidates.len(), 1);
    assert_eq!(data.kinds.statuses()[lease_watches[1]].objects, 1);

    // Anything else (here a workload kind) is evaluated again.
    data.updated(0);
    data.refresh(&mut snapshot, now).await;
    assert_eq!(
        data.evaluations_run(),
        2,
        "a workload change was not evaluated"
    );
}
