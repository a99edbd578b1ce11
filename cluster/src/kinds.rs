//! Per watched resource, where its watch stands, and the cluster state that follows from them.

use crate::classify::Failure;
use crate::snapshot::{KindState, KindStatus};
use crate::state::{Access, ClusterState, WatchFailure};

/// The GuardianPolicy resource: not served means the CRDs are not installed (`NoCRDs`).
pub const POLICIES: &str = "guardianpolicies.guardian.kube-guardian.dev";
pub const EXCEPTIONS: &str = "guardianexceptions.guardian.kube-guardian.dev";
/// Optional resources: a cluster without them (no PolicyReport CRD) is not degraded.
const OPTIONAL: &[&str] = &["policyreports.wgpolicyk8s.io"];

/// The status of every watched resource of one cluster, in a fixed order.
#[derive(Debug, Clone)]
pub struct Kinds {
    statuses: Vec<KindStatus>,
}

/// Whether GuardianPolicies and GuardianExceptions are known: no watch of either is still
/// waiting for its first complete list.
pub fn policies_listed(statuses: &[KindStatus]) -> bool {
    !statuses
        .iter()
        .any(|k| (k.resource == POLICIES || k.resource == EXCEPTIONS) && !k.listed)
}

impl Kinds {
    /// Every resource `Listing`, with no objects.
    pub fn new(resources: impl IntoIterator<Item = String>) -> Kinds {
        Kinds {
            statuses: resources
                .into_iter()
                .map(|resource| KindStatus {
                    resource,
                    state: KindState::Listing,
                    objects: 0,
                    listed: false,
                })
                .collect(),
        }
    }

    /// A new connection lists everything again; the object counts stay until then.
    pub fn relist(&mut self) {
        for status in &mut self.statuses {
            status.state = KindState::Listing;
        }
    }

    /// Resource `index` has its (re)list: it streams.
    pub fn listed(&mut self, index: usize) {
        if let Some(status) = self.statuses.get_mut(index) {
            status.state = KindState::Synced;
            status.listed = true;
        }
    }

    /// Resource `index` failed with `failure` (not a connection failure: those are the
    /// cluster's, see `Failure::is_connection`).
    pub fn failed(&mut self, index: usize, failure: &Failure) {
        let Some(status) = self.statuses.get_mut(index) else {
            return;
        };
        status.state = match failure {
            Failure::Forbidden { verb, .. } => KindState::Forbidden {
                verb: verb.clone().unwrap_or_else(|| "list".to_owned()),
            },
            Failure::NotFound => KindState::NotInstalled,
            Failure::Unreachable { detail, .. }
            | Failure::Unauthorized { detail }
            | Failure::Other { detail } => KindState::Failing {
                error: detail.clone(),
            },
        };
    }

    /// Resource `index` delivers events again after failing: it streams.
    pub fn recovered(&mut self, index: usize) {
        if let Some(status) = self.statuses.get_mut(index)
            && matches!(status.state, KindState::Failing { .. })
        {
            status.state = KindState::Synced;
        }
    }

    pub fn set_objects(&mut self, index: usize, objects: usize) {
        if let Some(status) = self.statuses.get_mut(index) {
            status.objects = objects;
        }
    }

    /// Whether resource `index` currently streams (its objects are current).
    pub fn is_synced(&self, index: usize) -> bool {
        self.statuses
            .get(index)
            .is_some_and(|s| s.state == KindState::Synced)
    }

    pub fn statuses(&self) -> &[KindStatus] {
        &self.statuses
    }

    /// The state of a connected cluster: `Connecting` until every resource has listed or failed;
    /// then `NoCRDs` without GuardianPolicies, `Forbidden` naming every right missing (the other
    /// kinds still show), `Degraded` naming every failing watch, else `Synced`.
    pub fn state(&self) -> ClusterState {
        if self.statuses.iter().any(|s| s.state == KindState::Listing) {
            return ClusterState::Connecting;
        }
        if self
            .statuses
            .iter()
            .any(|s| s.resource == POLICIES && s.state == KindState::NotInstalled)
        {
            return ClusterState::NoCrds;
        }
        let mut missing: Vec<Access> = self
            .statuses
            .iter()
            .filter_map(|s| match &s.state {
                KindState::Forbidden { verb } => Some(Access {
                    verb: verb.clone(),
                    resource: s.resource.clone(),
                }),
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            missing.sort();
            // Two watches of one resource (the election Lease and its candidates) need one right.
            missing.dedup();
            return ClusterState::Forbidden { missing };
        }
        let failing: Vec<WatchFailure> = self
            .statuses
            .iter()
            .filter_map(|s| match &s.state {
                KindState::Failing { error } => Some(WatchFailure {
                    resource: s.resource.clone(),
                    error: error.clone(),
                }),
                KindState::NotInstalled if !OPTIONAL.contains(&s.resource.as_str()) => {
                    Some(WatchFailure {
                        resource: s.resource.clone(),
                        error: "the resource is not served (CRD not installed?)".to_owned(),
                    })
                }
                _ => None,
            })
            .collect();
        if failing.is_empty() {
            ClusterState::Synced
        } else {
            ClusterState::Degraded { failing }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Kinds {
        Kinds::new(
            [
                "pods",
                "cronjobs.batch",
                POLICIES,
                "policyreports.wgpolicyk8s.io",
            ]
            .map(str::to_owned),
        )
    }

    fn forbidden(verb: &str) -> Failure {
        Failure::Forbidden {
            verb: Some(verb.to_owned()),
            detail: "403".into(),
        }
    }

    #[test]
    fn connecting_until_every_resource_has_listed_or_failed() {
        let mut kinds = kinds();
        kinds.listed(0);
        kinds.failed(1, &forbidden("list"));
        kinds.listed(2);
        assert_eq!(kinds.state(), ClusterState::Connecting);
        kinds.failed(3, &Failure::NotFound);
        assert_eq!(
            kinds.state(),
            ClusterState::Forbidden {
                missing: vec![Access {
                    verb: "list".into(),
                    resource: "cronjobs.batch".into()
                }]
            },
            "no PolicyReport CRD is fine; the forbidden kind is named"
        );
        assert!(kinds.is_synced(0) && !kinds.is_synced(1));
        kinds.relist();
        assert_eq!(kinds.state(), ClusterState::Connecting);
    }

    #[test]
    fn two_forbidden_watches_of_one_resource_name_the_right_once() {
        let lease = "leases.coordination.k8s.io";
        let mut kinds = Kinds::new([POLICIES, lease, lease].map(str::to_owned));
        kinds.listed(0);
        kinds.failed(1, &forbidden("list"));
        kinds.failed(2, &forbidden("list"));
        assert_eq!(
            kinds.state(),
            ClusterState::Forbidden {
                missing: vec![Access {
                    verb: "list".into(),
                    resource: lease.into()
                }]
            }
        );
    }

    #[test]
    fn policies_are_unknown_until_both_kinds_listed_once_and_stay_known_over_relists() {
        let mut kinds = Kinds::new(["pods", POLICIES, EXCEPTIONS].map(str::to_owned));
        kinds.listed(0);
        kinds.listed(1);
        // Exceptions forbidden or failing before their first list: the set is unknown, and a
        // cluster judged by it would show excepted findings as violations.
        kinds.failed(2, &forbidden("list"));
        assert!(!policies_listed(kinds.statuses()));
        kinds.listed(2);
        assert!(policies_listed(kinds.statuses()));
        kinds.relist();
        kinds.failed(
            1,
            &Failure::Other {
                detail: "500".into(),
            },
        );
        assert!(
            policies_listed(kinds.statuses()),
            "the last listed set is kept"
        );
    }

    #[test]
    fn policies_not_served_is_no_crds_and_other_failures_degrade() {
        let mut kinds = kinds();
        for i in [0, 1, 3] {
            kinds.listed(i);
        }
        kinds.failed(2, &Failure::NotFound);
        assert_eq!(kinds.state(), ClusterState::NoCrds);
        kinds.listed(2);
        assert_eq!(kinds.state(), ClusterState::Synced);
        kinds.failed(
            0,
            &Failure::Other {
                detail: "500: etcd timeout".into(),
            },
        );
        assert_eq!(
            kinds.state(),
            ClusterState::Degraded {
                failing: vec![WatchFailure {
                    resource: "pods".into(),
                    error: "500: etcd timeout".into()
                }]
            }
        );
    }
}
