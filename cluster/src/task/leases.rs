//! The operator's Leases in one cluster's task: the election Lease (by name) and its candidate
//! records (by label), watched apart from everything else. They change every retry period per
//! replica, so a change to them alone refreshes the snapshot's Leases without evaluating anything
//! (see `Data::updated`): the evaluations stay the very same `Arc`s.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::runtime::watcher;

use super::data::{Resource, whole};
use crate::lease::candidate_selector;
use crate::snapshot::ClusterSnapshot;
use crate::watches::{Objects, values};

/// The two Lease watches and whether they changed since the last snapshot.
#[derive(Debug, Default)]
pub struct Leases {
    election: Objects<Lease>,
    candidates: Objects<Lease>,
    /// Where the two watches are in the task's resources.
    at: [usize; 2],
    dirty: bool,
}

impl Leases {
    /// Adds the two watches (named as `kubectl auth can-i` takes them) for election `lease_name`.
    pub fn watch(
        &mut self,
        lease_name: &str,
        names: &mut Vec<String>,
        resources: &mut Vec<Resource>,
    ) {
        let by_name = format!("metadata.name={lease_name}");
        let by_label = candidate_selector(lease_name);
        self.at[0] = resources.len();
        names.push("leases.coordination.k8s.io".to_owned());
        resources.push(whole(&self.election, move |client| {
            let config = watcher::Config::default().fields(&by_name);
            watcher::watcher(Api::all(client), config).boxed()
        }));
        self.at[1] = resources.len();
        names.push("leases.coordination.k8s.io".to_owned());
        resources.push(whole(&self.candidates, move |client| {
            let config = watcher::Config::default().labels(&by_label);
            watcher::watcher(Api::all(client), config).boxed()
        }));
    }

    /// Whether resource `index` is one of the Lease watches.
    pub fn owns(&self, index: usize) -> bool {
        self.at.contains(&index)
    }

    /// The Leases changed: the next snapshot reads them again.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// Where the Lease watches are, to count their objects.
    pub fn indices(&self) -> [usize; 2] {
        self.at
    }

    /// Sets the snapshot's election Lease and candidate records when they changed since the last
    /// call, or always with `force`.
    pub fn refresh(&mut self, snapshot: &mut ClusterSnapshot, force: bool) {
        if !std::mem::take(&mut self.dirty) && !force {
            return;
        }
        snapshot.lease = current_lease(values(&self.election));
        // The candidates of the live election only: a leftover install in another namespace
        // has candidates of its own.
        let namespace = snapshot
            .lease
            .as_ref()
            .and_then(|l| l.metadata.namespace.clone());
        let mut candidates: Vec<Arc<Lease>> = values(&self.candidates)
            .into_iter()
            .filter(|c| namespace.is_none() || c.metadata.namespace == namespace)
            .collect();
        candidates.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        snapshot.candidates = candidates;
    }

    /// The election Lease and candidate maps, for tests.
    #[cfg(test)]
    pub fn maps(&self) -> (&Objects<Lease>, &Objects<Lease>) {
        (&self.election, &self.candidates)
    }
}

/// Of the Leases with the operator's name (one per namespace it runs in), the one renewed last:
/// a leftover install elsewhere must not hide the live operator.
fn current_lease(leases: Vec<Arc<Lease>>) -> Option<Arc<Lease>> {
    leases.into_iter().max_by_key(|lease| {
        lease
            .spec
            .as_ref()
            .and_then(|spec| spec.renew_time.as_ref())
            .map(|time| time.0)
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn lease(namespace: &str, renewed: Option<i64>) -> Arc<Lease> {
        Arc::new(Lease {
            metadata: kube::api::ObjectMeta {
                name: Some("kube-guardian-operator".into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                renew_time: renewed.map(|s| MicroTime(Timestamp::from_second(s).expect("a time"))),
                ..LeaseSpec::default()
            }),
        })
    }

    #[test]
    fn the_lease_renewed_last_is_the_operators_whatever_its_namespace() {
        let leftover = lease("a-old-install", Some(1_000));
        let live = lease("kube-guardian", Some(2_000));
        let never = lease("b", None);
        let chosen = current_lease(vec![leftover, live.clone(), never]);
        assert!(chosen.is_some_and(|l| Arc::ptr_eq(&l, &live)));
        assert!(current_lease(Vec::new()).is_none());
    }

    #[test]
    fn only_the_live_elections_candidates_are_kept_and_only_on_change() {
        let mut leases = Leases::default();
        let (election, candidates) = leases.maps();
        let insert = |map: &Objects<Lease>, key: &str, lease: Arc<Lease>| {
            if let Ok(mut map) = map.write() {
                map.insert(key.to_owned(), lease);
            }
        };
        insert(election, "old/l", lease("old", Some(1_000)));
        insert(election, "live/l", lease("live", Some(2_000)));
        let candidate = |namespace: &str, name: &str| {
            let mut c = (*lease(namespace, Some(2_000))).clone();
            c.metadata.name = Some(name.into());
            insert(candidates, &format!("{namespace}/{name}"), Arc::new(c));
        };
        candidate("live", "b");
        candidate("old", "x");
        candidate("live", "a");
        let mut snapshot = ClusterSnapshot::connecting("a", Timestamp::UNIX_EPOCH);
        leases.refresh(&mut snapshot, false);
        assert!(snapshot.lease.is_none(), "nothing changed yet");
        leases.changed();
        leases.refresh(&mut snapshot, false);
        let names: Vec<_> = snapshot
            .candidates
            .iter()
            .filter_map(|c| c.metadata.name.as_deref())
            .collect();
        assert_eq!(names, ["a", "b"]);
        let namespace = snapshot
            .lease
            .as_ref()
            .and_then(|l| l.metadata.namespace.as_deref());
        assert_eq!(namespace, Some("live"));
    }
}
