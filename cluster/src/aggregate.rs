//! Tallies over the snapshots of several clusters: by cluster, policy, namespace and severity,
//! and across all of them. Every group is a core [`Tally`], so the compliance score comes from
//! [`Tally::score`] and nowhere else.

use std::collections::BTreeMap;

use guardian_core::audit::{Tally, is_violation};
use guardian_core::model::Severity;
use serde::Serialize;

use crate::snapshot::ClusterSnapshot;

/// One group's tally with its score, as every face shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The cluster's context, the policy's name, or the namespace (empty for cluster-scoped
    /// objects).
    pub name: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// [`Tally::score`] of `tally`.
    pub score: u8,
}

impl Group {
    fn new(name: String, tally: Tally) -> Self {
        let score = tally.score();
        Group { name, tally, score }
    }
}

/// A tally with its score, for the total across clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub tally: Tally,
    /// [`Tally::score`] of `tally`.
    pub score: u8,
}

/// Violations of one severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeverityGroup {
    pub severity: Severity,
    pub violations: u64,
    /// Objects with at least one violation of this severity.
    pub failing_objects: u64,
}

/// Everything the snapshots add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregate {
    /// Across every cluster.
    pub total: Scored,
    /// One per snapshot, in the order given.
    pub clusters: Vec<Group>,
    /// Per policy name across clusters, sorted by name: the objects it matched and its findings.
    pub policies: Vec<Group>,
    /// Per namespace name across clusters, sorted by name.
    pub namespaces: Vec<Group>,
    /// Most severe first, every severity listed.
    pub severities: Vec<SeverityGroup>,
}

/// Adds up every evaluated object of every snapshot.
pub fn aggregate(snapshots: &[&ClusterSnapshot]) -> Aggregate {
    let mut total = Tally::default();
    let mut clusters = Vec::with_capacity(snapshots.len());
    let mut policies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut namespaces: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut severities: BTreeMap<Severity, (u64, u64)> = BTreeMap::new();
    for snapshot in snapshots {
        let mut cluster = Tally::default();
        for evaluation in &snapshot.evaluations {
            cluster.add_object(&evaluation.findings);
            let namespace = evaluation.resource.namespace.as_deref().unwrap_or_default();
            namespaces
                .entry(namespace)
                .or_default()
                .add_object(&evaluation.findings);
            for policy in &evaluation.matched_policies {
                policies.entry(policy).or_default().add_object(
                    evaluation
                        .findings
                        .iter()
                        .filter(|f| f.policy() == &**policy),
                );
            }
            let mut seen = [false; Severity::ALL.len()];
            for finding in evaluation.findings.iter().filter(|f| is_violation(f)) {
                let entry = severities.entry(finding.severity()).or_default();
                entry.0 += 1;
                let index = finding.severity() as usize;
                if !seen[index] {
                    seen[index] = true;
                    entry.1 += 1;
                }
            }
        }
        total.merge(&cluster);
        clusters.push(Group::new(snapshot.context.clone(), cluster));
    }
    let groups = |map: BTreeMap<&str, Tally>| -> Vec<Group> {
        map.into_iter()
            .map(|(name, tally)| Group::new(name.to_owned(), tally))
            .collect()
    };
    Aggregate {
        total: Scored {
            score: total.score(),
            tally: total,
        },
        clusters,
        policies: groups(policies),
        namespaces: groups(namespaces),
        severities: Severity::ALL
            .iter()
            .map(|&severity| {
                let (violations, failing_objects) =
                    severities.get(&severity).copied().unwrap_or_default();
                SeverityGroup {
                    severity,
                    violations,
                    failing_objects,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{evaluation, finding, skipped, snapshot};

    #[test]
    fn groups_add_up_by_cluster_policy_namespace_and_severity() {
        let a = snapshot(
            "a",
            vec![
                evaluation(
                    "shop",
                    "web",
                    &["baseline", "labels"],
                    vec![
                        finding("baseline", Severity::Critical),
                        finding("baseline", Severity::High),
                        finding("labels", Severity::Low),
                    ],
                ),
                evaluation("shop", "db", &["baseline"], vec![]),
            ],
        );
        let b = snapshot(
            "b",
            vec![evaluation(
                "monitoring",
                "agent",
                &["baseline"],
                vec![
                    finding("baseline", Severity::High),
                    skipped("baseline", Severity::Critical),
                ],
            )],
        );
        let all = aggregate(&[&a, &b]);

        assert_eq!(all.total.tally.objects, 3);
        assert_eq!(all.total.tally.violations, 4);
        assert_eq!(all.total.tally.skipped, 1);
        // web loses 1 (critical), agent 0.7 (high): (3 - 1.7) / 3 = 43.3%.
        assert_eq!(all.total.score, 43);

        let clusters: Vec<(&str, u64, u8)> = all
            .clusters
            .iter()
            .map(|g| (g.name.as_str(), g.tally.violations, g.score))
            .collect();
        assert_eq!(clusters, [("a", 3, 50), ("b", 1, 30)]);

        let policies: Vec<(&str, u64, u64, u8)> = all
            .policies
            .iter()
            .map(|g| {
                (
                    g.name.as_str(),
                    g.tally.objects,
                    g.tally.violations,
                    g.score,
                )
            })
            .collect();
        // baseline matched all three objects; labels only web, where its one finding is low.
        assert_eq!(policies, [("baseline", 3, 3, 43), ("labels", 1, 1, 90)]);

        let namespaces: Vec<(&str, u64)> = all
            .namespaces
            .iter()
            .map(|g| (g.name.as_str(), g.tally.objects))
            .collect();
        assert_eq!(namespaces, [("monitoring", 1), ("shop", 2)]);

        let severities: Vec<(Severity, u64, u64)> = all
            .severities
            .iter()
            .map(|s| (s.severity, s.violations, s.failing_objects))
            .collect();
        assert_eq!(
            severities,
            [
                (Severity::Critical, 1, 1),
                (Severity::High, 2, 2),
                (Severity::Medium, 0, 0),
                (Severity::Low, 1, 1),
                (Severity::Info, 0, 0),
            ]
        );
    }

    #[test]
    fn the_total_is_the_merge_of_the_clusters() {
        let a = snapshot(
            "a",
            vec![evaluation(
                "x",
                "one",
                &["p"],
                vec![finding("p", Severity::Medium)],
            )],
        );
        let b = snapshot("b", vec![evaluation("x", "two", &["p"], vec![])]);
        let all = aggregate(&[&a, &b]);
        let mut merged = all.clusters[0].tally.clone();
        merged.merge(&all.clusters[1].tally);
        assert_eq!(all.total.tally, merged);
        assert_eq!(all.total.score, merged.score());
        // One namespace of the same name in two clusters is one group.
        assert_eq!(all.namespaces.len(), 1);
        assert_eq!(all.namespaces[0].tally.objects, 2);
    }

    #[test]
    fn no_snapshot_scores_100_with_every_severity_listed() {
        let all = aggregate(&[]);
        assert_eq!(all.total.score, 100);
        assert!(all.clusters.is_empty() && all.policies.is_empty());
        assert_eq!(all.severities.len(), 5);
    }
}
