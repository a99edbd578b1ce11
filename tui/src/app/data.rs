//! What changes the state without the user: a cluster's new rows, and the clock.

use std::sync::Arc;

use guardian_cluster::Connection;
use k8s_openapi::jiff::Timestamp;

use super::state::{ERRORS, ErrorEntry, HISTORY, ObjectText, State, UNFOCUSED_TICK};
use super::update::clamp;
use crate::action::Delta;
use crate::views::Screen;

/// A cluster's new rows. Older generations than the one shown are dropped.
pub(super) fn apply(state: &mut State, delta: Delta) -> bool {
    let Some(cluster) = state.clusters.get_mut(delta.cluster) else {
        return false;
    };
    let old = cluster.rows.snapshot.clone();
    let new = delta.rows.snapshot.clone();
    if new.generation < old.generation {
        return false;
    }
    // The sparkline gets a point when a live cluster's score changed.
    let score = delta.rows.tally.score();
    if new.connection.state.is_live() && cluster.history.back() != Some(&score) {
        cluster.history.push_back(score);
        while cluster.history.len() > HISTORY {
            cluster.history.pop_front();
        }
    }
    // A state change with a reason goes to the Errors ring (never a toast).
    if new.connection.state != old.connection.state
        && let Some((operation, message)) = error_of(&new.connection.state)
    {
        let context = cluster.context.clone();
        state.errors.push_back(ErrorEntry {
            at: new.connection.since,
            cluster: context,
            operation,
            message,
        });
        while state.errors.len() > ERRORS {
            state.errors.pop_front();
        }
    }
    let Some(cluster) = state.clusters.get_mut(delta.cluster) else {
        return false;
    };
    let replaced = std::mem::replace(&mut cluster.rows, delta.rows);
    // The same findings (a Lease renewal): the forwarder kept the rows, the same `Arc`s (O(1),
    // where comparing the snapshots walks every evaluation); the table's rows still hold.
    let findings = !Arc::ptr_eq(&replaced.violations, &cluster.rows.violations);
    state.violations.outdated |= findings;
    let screens = super::screens::observe(state, delta.cluster, &replaced);
    // Rows derived anew may leave the replaced ones the last holder of a cluster's rows: they
    // are dropped off the UI thread. Kept rows share them: dropping here costs reference counts.
    if findings {
        state.retired.push(replaced);
    }
    clamp(state, Screen::Fleet);
    // A Lease renewal changes the Lease alone: every screen but the two that show it (Fleet,
    // Leases) stays as drawn, with its panes, modal and the header's chips. Events stay
    // right: a recorded event marks `screens`.
    let quiet = !findings
        && !screens
        && same_connection(&old.connection, &new.connection)
        && !matches!(state.screen, Screen::Fleet | Screen::Leases);
    !quiet
}

/// Whether the header's chip (state, retry, staleness) reads the same for both.
fn same_connection(a: &Connection, b: &Connection) -> bool {
    a.state == b.state
        && a.since == b.since
        && a.next_retry == b.next_retry
        && (a.state.is_live() || a.last_synced == b.last_synced)
}

fn error_of(state: &guardian_cluster::ClusterState) -> Option<(&'static str, String)> {
    use guardian_cluster::ClusterState as S;
    match state {
        S::Unreachable { reason, detail } => {
            Some(("connect", format!("unreachable ({reason:?}): {detail}")))
        }
        S::Unauthorized { detail } => Some(("connect", format!("unauthorized: {detail}"))),
        S::Forbidden { missing } => Some((
            "watch",
            format!(
                "forbidden: {}",
                missing
                    .iter()
                    .map(|a| format!("{} {}", a.verb, a.resource))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        S::Degraded { failing } => Some((
            "watch",
            failing
                .iter()
                .map(|f| format!("{}: {}", f.resource, f.error))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        S::NoCrds => Some((
            "watch",
            "the GuardianPolicy CRD is not installed".to_owned(),
        )),
        S::Connecting | S::Synced => None,
    }
}

/// The clock moved: toasts expire; ages on screen change (so a redraw is due).
pub(super) fn tick(state: &mut State, now: Timestamp) -> bool {
    // Unfocused (the terminal reports it), ages move every few seconds only: idle means idle.
    let elapsed = now.as_second().saturating_sub(state.now.as_second());
    if !state.focused && elapsed < UNFOCUSED_TICK && state.toasts.is_empty() {
        return false;
    }
    state.now = now;
    state.toasts.retain(|t| t.until > now);
    true
}

/// An object read for the detail pane: kept if it is still the one asked for.
pub(super) fn object(state: &mut State, object: ObjectText) -> bool {
    let wanted = state
        .violations
        .requested
        .as_ref()
        .is_some_and(|(cluster, resource)| object.is_of(*cluster, resource));
    if wanted {
        state.violations.object = Some(object);
    }
    wanted
}
