//! The rows of the Reconcile screen: per policy and cluster, the operator's last reconcile
//! outcome from the policy's status (via guardian-cluster's operator state), with the condition
//! transitions and Warning events the console saw (its [`History`]).

use std::collections::HashMap;

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::operator_state::{PolicyState, PolicySync, policy_state};
use k8s_openapi::jiff::Timestamp;

use super::history::History;

/// The operator's last reconcile of a policy, as its status tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Ready is not True, or Degraded is True.
    Failed,
    /// The operator has not acted on the latest spec (or never wrote a status).
    Pending,
    Reconciled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Failed => "✗ failed",
            Outcome::Pending => "… pending",
            Outcome::Reconciled => "✓ ok",
        }
    }
}

/// One row of the Reconcile screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileRow {
    pub cluster: String,
    pub policy: String,
    pub outcome: Outcome,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    /// The latest condition transition the operator wrote.
    pub last_transition: Option<Timestamp>,
    /// The failing condition's reason and message, else Ready's.
    pub reason: String,
    pub message: String,
    /// Condition transitions the console saw (the state found at start included).
    pub transitions: usize,
    /// Warning events about the policy the console saw.
    pub warnings: usize,
}

/// The outcome of a policy's state.
pub fn outcome(state: &PolicyState) -> Outcome {
    let failing = state.conditions.iter().any(|c| {
        (c.type_ == "Ready" && c.status == "False") || (c.type_ == "Degraded" && c.status == "True")
    });
    if failing {
        Outcome::Failed
    } else if state.sync == PolicySync::Pending || state.conditions.is_empty() {
        Outcome::Pending
    } else {
        Outcome::Reconciled
    }
}

/// The rows of `snapshots`, by policy, then cluster.
pub fn rows(snapshots: &[&ClusterSnapshot], history: &History) -> Vec<ReconcileRow> {
    // Warning events per (cluster, object), counted once rather than per row.
    let mut warned: HashMap<(&str, &str), usize> = HashMap::new();
    for event in history.events().filter(|e| e.warning) {
        *warned
            .entry((event.cluster.as_str(), event.object.as_str()))
            .or_default() += 1;
    }
    let mut rows = Vec::new();
    for snapshot in snapshots {
        let cluster = snapshot.context.as_str();
        for policy in &snapshot.policies {
            let state = policy_state(policy);
            let outcome = outcome(&state);
            let shown = state
                .conditions
                .iter()
                .find(|c| {
                    (c.type_ == "Degraded" && c.status == "True")
                        || (c.type_ == "Ready" && c.status != "True")
                })
                .or_else(|| state.conditions.iter().find(|c| c.type_ == "Ready"));
            let object = format!("GuardianPolicy/{}", state.name);
            let warnings = warned
                .get(&(cluster, object.as_str()))
                .copied()
                .unwrap_or(0);
            rows.push(ReconcileRow {
                cluster: cluster.to_owned(),
                outcome,
                generation: state.generation,
                observed_generation: state.observed_generation,
                last_transition: state.last_transition,
                reason: shown.map(|c| c.reason.clone()).unwrap_or_default(),
                message: shown.map(|c| c.message.clone()).unwrap_or_default(),
                transitions: history.transitions(cluster, &state.name).count(),
                warnings,
                policy: state.name,
            });
        }
    }
    rows.sort_by(|a, b| (&a.policy, &a.cluster).cmp(&(&b.policy, &b.cluster)));
    rows
}

/// The detail of one row: the conditions over time and the related Warning events.
pub fn timeline(row: &ReconcileRow, history: &History) -> Vec<String> {
    let mut lines = vec![format!("{} in {}", row.policy, row.cluster)];
    lines.push("conditions seen (oldest first):".to_owned());
    let mut any = false;
    for t in history.transitions(&row.cluster, &row.policy) {
        any = true;
        let mark = if t.failing() { "✗" } else { "✓" };
        lines.push(format!(
            "  {mark} {}  {}={}  {}  {}",
            t.time, t.type_, t.status, t.reason, t.message
        ));
    }
    if !any {
        lines.push("  none: the operator has not written a status".to_owned());
    }
    lines.push("warning events seen:".to_owned());
    let object = format!("GuardianPolicy/{}", row.policy);
    let mut warned = false;
    for event in history
        .events()
        .filter(|e| e.warning && e.cluster == row.cluster && e.object == object)
    {
        warned = true;
        lines.push(format!(
            "  {}  {}  {}",
            event.time, event.reason, event.message
        ));
    }
    if !warned {
        lines.push("  none".to_owned());
    }
    lines
}
