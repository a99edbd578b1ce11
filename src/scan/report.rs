//! What `scan` reports, built from the clusters' snapshots at one moment: every output format
//! renders this.

use std::collections::BTreeMap;
use std::sync::Arc;

use guardian_cluster::aggregate::{Aggregate, aggregate};
use guardian_cluster::drift::{DriftReport, drift};
use guardian_cluster::operator_state::{OperatorState, operator_state};
use guardian_cluster::{
    ClusterSnapshot, ClusterState, Connection, KindState, KindStatus, Rejected,
};
use guardian_core::audit::Tally;
use guardian_core::engine::PolicySet;
use guardian_core::model::{Finding, RuleInfo, Severity};
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

/// One cluster's part of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    pub context: String,
    /// False when the cluster could not be scanned (the state says why); its counts are then
    /// those of its last data, if any.
    pub scanned: bool,
    pub connection: Connection,
    /// How old the data is, when the cluster could not be scanned but was synced before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_seconds: Option<u64>,
    /// Watched resources not shown (forbidden, not installed, failing).
    pub hidden_kinds: Vec<KindStatus>,
    pub operator: OperatorState,
    /// Policies and exceptions that do not compile, left out of the evaluation.
    pub rejected: Vec<Rejected>,
    /// PolicyReports and Warning Events about GuardianPolicies the cluster holds (absent when
    /// they could not be listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_reports: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_events: Option<usize>,
    /// Its counts (the same numbers as in the aggregate's cluster list).
    #[serde(flatten)]
    pub tally: Tally,
    /// [`Tally::score`] of its counts.
    pub score: u8,
}

/// A finding with the cluster it was found in, borrowed from the snapshots (a scan of large
/// clusters holds hundreds of thousands; a copy would double the memory).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterFinding<'a> {
    pub cluster: &'a str,
    #[serde(flatten)]
    pub finding: &'a Finding,
}

/// Everything one `scan` found, in deterministic order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport<'a> {
    /// The moment the report describes.
    pub scanned_at: Timestamp,
    /// In the order the contexts were selected.
    pub clusters: Vec<ClusterReport>,
    pub aggregate: Aggregate,
    /// Every finding (violations and excepted ones), by cluster, then resource, policy, rule and
    /// path.
    pub findings: Vec<ClusterFinding<'a>>,
    pub drift: DriftReport,
    /// Every rule of every cluster's policies, sorted by id (for SARIF).
    #[serde(skip)]
    pub rules: Vec<RuleInfo>,
}

/// Whether a cluster in `state` was scanned: its workloads were evaluated with its own policies
/// (`Forbidden` and `Degraded` only hide some kinds, named in the report).
pub fn scanned(state: &ClusterState) -> bool {
    matches!(
        state,
        ClusterState::Synced | ClusterState::Degraded { .. } | ClusterState::Forbidden { .. }
    )
}

impl<'a> ScanReport<'a> {
    pub fn build(snapshots: &'a [Arc<ClusterSnapshot>], now: Timestamp) -> ScanReport<'a> {
        let refs: Vec<&ClusterSnapshot> = snapshots.iter().map(Arc::as_ref).collect();
        let aggregate = aggregate(&refs);
        let clusters = refs
            .iter()
            .zip(&aggregate.clusters)
            .map(|(snapshot, tally)| ClusterReport {
                context: snapshot.context.clone(),
                // Judged by policies it never read, a cluster would look clean: not scanned.
                scanned: scanned(&snapshot.connection.state) && snapshot.policies_known(),
                connection: snapshot.connection.clone(),
                // A partly scanned cluster's data is live; only a lost one's goes stale.
                stale_seconds: (!scanned(&snapshot.connection.state))
                    .then(|| snapshot.connection.stale_for(now))
                    .flatten()
                    .map(|d| d.as_secs()),
                hidden_kinds: snapshot
                    .kinds
                    .iter()
                    .filter(|k| k.state != KindState::Synced)
                    .cloned()
                    .collect(),
                operator: operator_state(snapshot, now),
                rejected: snapshot.rejected.clone(),
                policy_reports: snapshot.policy_reports,
                warning_events: snapshot.warning_events,
                tally: tally.tally.clone(),
                score: tally.score,
            })
            .collect();
        let mut findings: Vec<ClusterFinding<'a>> = snapshots
            .iter()
            .flat_map(|snapshot| {
                snapshot.evaluations.iter().flat_map(|evaluation| {
                    evaluation.findings.iter().map(|finding| ClusterFinding {
                        cluster: &snapshot.context,
                        finding,
                    })
                })
            })
            .collect();
        let order: BTreeMap<&str, usize> = refs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.context.as_str(), i))
            .collect();
        findings.sort_by(|a, b| {
            let (x, y) = (a.finding, b.finding);
            order
                .get(a.cluster)
                .cmp(&order.get(b.cluster))
                .then_with(|| x.resource.cmp(&y.resource))
                .then_with(|| x.policy().cmp(y.policy()))
                .then_with(|| x.rule_id().cmp(y.rule_id()))
                .then_with(|| x.path.cmp(&y.path))
        });
        ScanReport {
            scanned_at: now,
            clusters,
            aggregate,
            findings,
            drift: drift(&refs),
            rules: rules(&refs),
        }
    }

    /// Clusters that could not be scanned.
    pub fn not_scanned(&self) -> impl Iterator<Item = &ClusterReport> + '_ {
        self.clusters.iter().filter(|c| !c.scanned)
    }

    /// Violations (not excepted) at or above `threshold`, in every cluster.
    pub fn failures_at_or_above(&self, threshold: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.finding.is_failure() && f.finding.severity() >= threshold)
            .count()
    }
}

/// The rules of every cluster's policies, by id; a rule in several clusters once.
fn rules(snapshots: &[&ClusterSnapshot]) -> Vec<RuleInfo> {
    let mut by_id: BTreeMap<String, RuleInfo> = BTreeMap::new();
    for snapshot in snapshots {
        let policies: Vec<_> = snapshot.policies.iter().map(|p| (**p).clone()).collect();
        // Rejected policies have no rules to describe; the cluster's operator reports them.
        let (set, _rejected) = PolicySet::compile_partial(&policies, &[]);
        for rule in set.rules() {
            by_id.entry(rule.id.clone()).or_insert_with(|| rule.clone());
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use guardian_cluster::{Access, UnreachableReason, WatchFailure};

    use super::*;

    #[test]
    fn a_cluster_whose_policies_were_never_listed_is_not_scanned_and_exits_2() {
        use guardian_cluster::drift::POLICIES_RESOURCE;
        use guardian_cluster::{KindState, KindStatus};

        let now = Timestamp::UNIX_EPOCH;
        let mut snapshot = ClusterSnapshot::connecting("prod", now);
        snapshot.connection.state = ClusterState::Forbidden {
            missing: vec![Access {
                verb: "list".into(),
                resource: POLICIES_RESOURCE.into(),
            }],
        };
        snapshot.connection.last_synced = Some(now);
        snapshot.kinds = vec![KindStatus {
            resource: POLICIES_RESOURCE.into(),
            state: KindState::Forbidden {
                verb: "list".into(),
            },
            objects: 0,
            listed: false,
        }];
        let snapshots = [Arc::new(snapshot)];
        let report = ScanReport::build(&snapshots, now);
        assert_eq!(report.not_scanned().count(), 1);
        assert_eq!(super::super::exit_code(&report, Severity::Info), 2);
    }

    #[test]
    fn only_clusters_whose_workloads_were_evaluated_count_as_scanned() {
        let partly = [
            ClusterState::Synced,
            ClusterState::Degraded {
                failing: vec![WatchFailure {
                    resource: "jobs.batch".into(),
                    error: "boom".into(),
                }],
            },
            ClusterState::Forbidden {
                missing: vec![Access {
                    verb: "list".into(),
                    resource: "cronjobs.batch".into(),
                }],
            },
        ];
        let lost = [
            ClusterState::Connecting,
            ClusterState::Unreachable {
                reason: UnreachableReason::Dns,
                detail: "no such host".into(),
            },
            ClusterState::Unauthorized {
                detail: "401".into(),
            },
            ClusterState::NoCrds,
        ];
        assert!(partly.iter().all(scanned));
        assert!(!lost.iter().any(scanned), "{lost:?}");
    }
}
