//! A cluster's rows, formatted once per snapshot (off the UI thread, in the cluster's forwarder
//! task), so drawing a frame only slices them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::aggregate::aggregate;
use guardian_core::audit::Tally;
use guardian_core::crd::Enforcement;
use guardian_core::model::{Finding, Outcome, Severity};
use k8s_openapi::jiff::Timestamp;

use super::order::Orders;

/// One cluster's snapshot with what the screens show of it.
#[derive(Debug, Clone)]
pub struct ClusterRows {
    pub snapshot: Arc<ClusterSnapshot>,
    /// Every evaluated object counted (the score is [`Tally::score`] of it).
    pub tally: Tally,
    /// One row per finding, violations and waived findings alike.
    pub violations: Vec<ViolationRow>,
    /// The rows pre-sorted by every column (the Violations table merges the clusters' orders).
    pub orders: Orders,
    /// The widest of each row's [`ViolationRow::widths`] (the table's widths when no filter).
    pub widths: [u8; 4],
    /// The Policies screen's rows of this cluster (drift is marked across clusters later).
    pub policies: Vec<super::policies::PolicyRow>,
}

impl ClusterRows {
    pub fn generation(&self) -> u64 {
        self.snapshot.generation
    }
}

/// One finding as the Violations table shows it.
#[derive(Debug, Clone)]
pub struct ViolationRow {
    pub severity: Severity,
    pub namespace: Arc<str>,
    /// `Kind/name`.
    pub resource: String,
    pub policy: Arc<str>,
    pub rule: Arc<str>,
    /// The policy's enforcement (`Deny`, `Warn`, `Audit`), `-` when the policy is gone.
    pub enforcement: &'static str,
    pub message: String,
    /// The exception that waives it.
    pub waived_by: Option<String>,
    /// When the console first saw it (objects carry no age of their findings).
    pub first_seen: Timestamp,
    /// Where the finding sits in the snapshot: evaluation, then finding index.
    pub at: (u32, u32),
    /// Lower-case text the filter searches.
    pub haystack: String,
    /// Characters of namespace, resource, policy and rule (capped), for column widths.
    pub widths: [u8; 4],
}

impl ViolationRow {
    /// The finding behind the row.
    pub fn finding<'s>(&self, snapshot: &'s ClusterSnapshot) -> Option<&'s Finding> {
        let (e, f) = self.at;
        snapshot
            .evaluations
            .get(usize::try_from(e).ok()?)?
            .findings
            .get(usize::try_from(f).ok()?)
    }
}

/// Identifies a finding across snapshots, to keep its first-seen time: a hash of its namespace,
/// object, policy, rule and field path. The texts themselves would cost about 200 bytes a
/// finding (hundreds of thousands of them at scale, twice while a snapshot is derived); a
/// collision only shows one finding's age for another's.
type SeenKey = u64;

fn seen_key(namespace: &str, resource: &str, finding: &Finding) -> SeenKey {
    let mut hasher = std::hash::DefaultHasher::new();
    (
        namespace,
        resource,
        &*finding.policy,
        &*finding.rule,
        &finding.path,
    )
        .hash(&mut hasher);
    hasher.finish()
}

/// Builds a cluster's rows from each new snapshot, remembering when each finding first showed.
#[derive(Debug, Default)]
pub struct Deriver {
    first_seen: HashMap<SeenKey, Timestamp>,
}

impl Deriver {
    pub fn derive(&mut self, snapshot: Arc<ClusterSnapshot>, now: Timestamp) -> ClusterRows {
        let enforcement: HashMap<&str, &'static str> = snapshot
            .policies
            .iter()
            .filter_map(|p| Some((p.metadata.name.as_deref()?, label(p.spec.enforcement))))
            .collect();
        // Counted by the cluster layer's aggregation, as every face counts (score: Tally::score).
        let tally = aggregate(&[&*snapshot])
            .clusters
            .pop()
            .map(|group| group.tally)
            .unwrap_or_default();
        let mut violations = Vec::new();
        let mut seen = HashMap::with_capacity(self.first_seen.len());
        for (e, evaluation) in snapshot.evaluations.iter().enumerate() {
            let r = &evaluation.resource;
            let namespace: Arc<str> = Arc::from(r.namespace.as_deref().unwrap_or_default());
            let resource = format!("{}/{}", r.kind, r.name);
            for (f, finding) in evaluation.findings.iter().enumerate() {
                let key = seen_key(&namespace, &resource, finding);
                let first_seen = *self.first_seen.get(&key).unwrap_or(&now);
                seen.insert(key, first_seen);
                let waived_by = match &finding.outcome {
                    Outcome::Skip { exception, .. } => Some(exception.clone()),
                    Outcome::Fail | Outcome::Error => None,
                };
                let enforcement = enforcement.get(&*finding.policy).copied().unwrap_or("-");
                let haystack = format!(
                    "{namespace} {resource} {} {} {} {} {}",
                    finding.policy, finding.rule, finding.severity, enforcement, finding.message
                )
                .to_lowercase();
                violations.push(ViolationRow {
                    severity: finding.severity,
                    namespace: namespace.clone(),
                    resource: resource.clone(),
                    policy: finding.policy.clone(),
                    rule: finding.rule.clone(),
                    enforcement,
                    message: finding.message.clone(),
                    waived_by,
                    first_seen,
                    at: (index(e), index(f)),
                    widths: [
                        width(&namespace),
                        width(&resource),
                        width(&finding.policy),
                        width(&finding.rule),
                    ],
                    haystack,
                });
            }
        }
        // Findings that went away are forgotten: if they come back, they are new again.
        self.first_seen = seen;
        let widths = violations.iter().fold([0; 4], |mut widest, row| {
            for (w, r) in widest.iter_mut().zip(row.widths) {
                *w = (*w).max(r);
            }
            widest
        });
        ClusterRows {
            orders: Orders::compute(&violations),
            widths,
            policies: super::policies::cluster_rows(&snapshot),
            snapshot,
            tally,
            violations,
        }
    }
}

/// Wider texts are cut in the table (the detail pane shows them whole).
pub const MAX_WIDTH: u8 = 40;

fn width(text: &str) -> u8 {
    u8::try_from(text.chars().count()).map_or(MAX_WIDTH, |n| n.min(MAX_WIDTH))
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn label(enforcement: Enforcement) -> &'static str {
    match enforcement {
        Enforcement::Audit => "Audit",
        Enforcement::Warn => "Warn",
        Enforcement::Deny => "Deny",
    }
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::testing::{at, deployment, finding, synced};

    fn snapshot(names: &[&str]) -> Arc<ClusterSnapshot> {
        let mut s = synced("demo-a");
        s.evaluations = names
            .iter()
            .map(|n| {
                let f = finding("restricted", "run-as-non-root", Severity::High);
                deployment("shop", n, &["restricted"], vec![f])
            })
            .collect();
        Arc::new(s)
    }

    fn ages(rows: &ClusterRows) -> Vec<(String, Timestamp)> {
        let rows = rows.violations.iter();
        rows.map(|r| (r.resource.clone(), r.first_seen)).collect()
    }

    #[test]
    fn a_finding_keeps_when_it_was_first_seen_until_it_goes_away() {
        let mut deriver = Deriver::default();
        deriver.derive(snapshot(&["web"]), at(0));
        let rows = deriver.derive(snapshot(&["web", "api"]), at(10));
        let web = ("Deployment/web".to_owned(), at(0));
        assert_eq!(ages(&rows), [web, ("Deployment/api".to_owned(), at(10))]);
        deriver.derive(snapshot(&["api"]), at(20));
        let rows = deriver.derive(snapshot(&["api", "web"]), at(30));
        let api = ("Deployment/api".to_owned(), at(10));
        assert_eq!(ages(&rows), [api, ("Deployment/web".to_owned(), at(30))]);
    }
}
