//! The rows of the Policies screen: every GuardianPolicy and GuardianException of the selected
//! clusters, with the operator's sync state, violations (from the cluster layer's aggregate)
//! and drift (from the cluster layer's drift report; nothing is recomputed here).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::aggregate::aggregate;
use guardian_cluster::drift::{DriftKind, DriftReport};
use guardian_cluster::operator_state::{PolicySync, policy_state};
use guardian_core::crd::{Enforcement, GuardianException, GuardianPolicy};
use guardian_core::model::Outcome;
use k8s_openapi::jiff::Timestamp;

/// An exception expiring within this long is highlighted.
pub const SOON: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The object a row shows, for describe and YAML.
#[derive(Debug, Clone)]
pub enum Object {
    Policy(Arc<GuardianPolicy>),
    Exception(Arc<GuardianException>),
}

/// How a policy or exception differs across the selected clusters.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftMark {
    /// The same everywhere it was compared.
    None,
    /// Missing in these clusters (and maybe also different).
    Missing(Vec<String>),
    /// Present everywhere, with this many differing fields.
    Differs(usize),
}

impl DriftMark {
    /// The drift column's text.
    pub fn label(&self) -> String {
        match self {
            DriftMark::None => String::new(),
            DriftMark::Missing(clusters) => format!("missing in {}", clusters.join(", ")),
            DriftMark::Differs(fields) if *fields == 1 => "1 field differs".to_owned(),
            DriftMark::Differs(fields) => format!("{fields} fields differ"),
        }
    }
}

/// One row of the Policies screen.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub cluster: String,
    pub kind: DriftKind,
    /// The policy's name, or the exception's `namespace/name`.
    pub name: String,
    /// Policies: their enforcement; exceptions: none.
    pub enforcement: Option<Enforcement>,
    /// The Ready condition's status (`True`, `False`, `Unknown`); none when not written yet.
    pub ready: Option<String>,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub sync: Option<PolicySync>,
    /// Violations of this policy in this cluster; exceptions: the findings they waive.
    pub violations: u64,
    pub drift: DriftMark,
    /// Index of the drift in the report the rows were built with.
    pub drift_index: Option<usize>,
    pub created: Option<Timestamp>,
    /// Exceptions: the policy they waive, their owner and expiry.
    pub waives: Option<String>,
    pub owner: Option<String>,
    pub expires: Option<Timestamp>,
    pub object: Object,
}

impl PolicyRow {
    /// An exception expiring within [`SOON`] of `now` (or expired already).
    pub fn expires_soon(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|expires| {
            let left = expires.as_second().saturating_sub(now.as_second());
            left < SOON.as_secs() as i64
        })
    }

    /// `3/2` for generation 3 observed at 2, `-` where unknown.
    pub fn generations(&self) -> String {
        let show = |g: Option<i64>| g.map_or("-".to_owned(), |g| g.to_string());
        match self.kind {
            DriftKind::GuardianPolicy => format!(
                "{}/{}",
                show(self.generation),
                show(self.observed_generation)
            ),
            DriftKind::GuardianException => String::new(),
        }
    }
}

/// The rows of one cluster, without drift (built off the UI thread with the cluster's other
/// rows; [`with_drift`] marks them once every cluster's rows are known).
pub fn cluster_rows(snapshot: &ClusterSnapshot) -> Vec<PolicyRow> {
    let cluster = snapshot.context.as_str();
    let tally = aggregate(&[snapshot]);
    let violations = |policy: &str| {
        tally
            .policies
            .iter()
            .find(|g| g.name == policy)
            .map_or(0, |g| g.tally.violations)
    };
    let waived = waived(snapshot);
    let mut rows = Vec::with_capacity(snapshot.policies.len() + snapshot.exceptions.len());
    for policy in &snapshot.policies {
        let state = policy_state(policy);
        let ready = state
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status.clone());
        rows.push(PolicyRow {
            cluster: cluster.to_owned(),
            kind: DriftKind::GuardianPolicy,
            violations: violations(&state.name),
            name: state.name,
            enforcement: Some(policy.spec.enforcement),
            ready,
            generation: state.generation,
            observed_generation: state.observed_generation,
            sync: Some(state.sync),
            drift: DriftMark::None,
            drift_index: None,
            created: policy.metadata.creation_timestamp.as_ref().map(|t| t.0),
            waives: None,
            owner: None,
            expires: None,
            object: Object::Policy(Arc::clone(policy)),
        });
    }
    for exception in &snapshot.exceptions {
        let name = format!(
            "{}/{}",
            exception.metadata.namespace.as_deref().unwrap_or_default(),
            exception.metadata.name.as_deref().unwrap_or_default()
        );
        let violations = waived.get(name.as_str()).copied().unwrap_or(0);
        rows.push(PolicyRow {
            cluster: cluster.to_owned(),
            kind: DriftKind::GuardianException,
            name,
            enforcement: None,
            ready: None,
            generation: None,
            observed_generation: None,
            sync: None,
            violations,
            drift: DriftMark::None,
            drift_index: None,
            created: exception.metadata.creation_timestamp.as_ref().map(|t| t.0),
            waives: Some(exception.spec.policy.clone()),
            owner: Some(exception.spec.owner.clone()),
            expires: Some(exception.spec.expires_at.0),
            object: Object::Exception(Arc::clone(exception)),
        });
    }
    rows
}

/// Every cluster's rows in one table (policies first, then exceptions; by name, then
/// cluster), each marked with its drift in `report`.
pub fn with_drift<'a>(
    clusters: impl IntoIterator<Item = &'a [PolicyRow]>,
    report: &DriftReport,
) -> Vec<PolicyRow> {
    let mut rows: Vec<PolicyRow> = clusters.into_iter().flatten().cloned().collect();
    let drifts: BTreeMap<(DriftKind, &str), usize> = report
        .drifts
        .iter()
        .enumerate()
        .map(|(i, d)| ((d.kind, d.name.as_str()), i))
        .collect();
    for row in &mut rows {
        let index = drifts.get(&(row.kind, row.name.as_str())).copied();
        (row.drift, row.drift_index) = mark(report, index);
    }
    rows.sort_by(|a, b| (a.kind, &a.name, &a.cluster).cmp(&(b.kind, &b.name, &b.cluster)));
    rows
}

/// Findings waived, per exception (`namespace/name`).
fn waived(snapshot: &ClusterSnapshot) -> HashMap<&str, u64> {
    let mut waived = HashMap::new();
    for finding in snapshot.evaluations.iter().flat_map(|e| &e.findings) {
        if let Outcome::Skip { exception, .. } = &finding.outcome {
            *waived.entry(exception.as_str()).or_default() += 1;
        }
    }
    waived
}

fn mark(report: &DriftReport, index: Option<usize>) -> (DriftMark, Option<usize>) {
    let Some(drift) = index.and_then(|i| report.drifts.get(i)) else {
        return (DriftMark::None, None);
    };
    let mark = if drift.missing_in.is_empty() {
        DriftMark::Differs(drift.fields.len())
    } else {
        DriftMark::Missing(drift.missing_in.clone())
    };
    (mark, index)
}

/// A row's identity across rebuilds: its cluster, kind and name.
pub fn identity(row: &PolicyRow) -> String {
    format!("{} {} {}", row.cluster, row.kind.as_str(), row.name)
}
