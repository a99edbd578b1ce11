//! The state of the Policies, Reconcile, Leases, Events, Errors and Contexts screens, and the
//! reducer's part for them (called from [`super::update`]): what a new snapshot changes, which
//! rows the scope and filter leave, and the commands these screens own (describe, YAML, the
//! drift diff, the reconcile timeline, failures only).

use std::collections::HashSet;
use std::sync::Arc;

use guardian_cluster::drift::{DriftReport, comparable, drift};

use super::describe;
use super::filter::Filter;
use super::history::History;
use super::policies::{self, PolicyRow};
use super::reconcile::{self, Outcome, ReconcileRow};
use super::rows::ClusterRows;
use super::state::State;
use crate::action::Command;
use crate::views::Screen;

/// A scrollable text pane beside a table: describe, YAML, a drift's diff, a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    /// The screen it was opened on (it shows there only).
    pub screen: Screen,
    pub title: String,
    pub lines: Vec<String>,
    /// The first line shown.
    pub scroll: usize,
}

/// A context as the Contexts screen shows it (from the kubeconfig).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextInfo {
    pub server: Option<String>,
    pub user: Option<String>,
}

/// What the screens of this module keep between frames.
#[derive(Debug, Clone, Default)]
pub struct Screens {
    pub history: History,
    /// Every cluster's policies and exceptions, marked with their drift.
    pub policies: Vec<PolicyRow>,
    /// The cluster layer's drift report across every selected cluster.
    pub drift: DriftReport,
    pub reconcile: Vec<ReconcileRow>,
    /// `Ctrl-z` on Reconcile: failed policies only.
    pub failures_only: bool,
    pub pane: Option<Pane>,
    /// Per cluster position, its server and user.
    pub contexts: Vec<ContextInfo>,
    /// Deltas arrived since the Policies and Reconcile rows were built.
    pub outdated: bool,
}

impl Screens {
    /// The pane open on `screen`, if any.
    pub fn pane(&self, screen: Screen) -> Option<&Pane> {
        self.pane.as_ref().filter(|p| p.screen == screen)
    }
}

/// Whether the screen is one of this module's.
pub fn owns(screen: Screen) -> bool {
    matches!(
        screen,
        Screen::Policies
            | Screen::Reconcile
            | Screen::Leases
            | Screen::Events
            | Screen::Errors
            | Screen::Contexts
    )
}

/// After cluster `index` got new rows (`old`: the ones they replaced): record what changed
/// (every snapshot counts for the history). The Policies and Reconcile rows are rebuilt later
/// (see [`prepare`]), and only when what they are built from changed: an operator renews its
/// Lease every 2 s, and each renewal's snapshot holds the same policies, exceptions,
/// conditions and events. Returns whether they are to be rebuilt.
pub fn observe(state: &mut State, index: usize, old: &ClusterRows) -> bool {
    let now = state.now;
    let Some(cluster) = state.clusters.get(index) else {
        return false;
    };
    let recorded = state.screens.history.observe(cluster.snapshot(), now);
    let changed = recorded || !same_inputs(old, &cluster.rows);
    state.screens.outdated |= changed;
    changed
}

/// Whether the Policies and Reconcile rows built with `old` hold for `new` (the history aside):
/// the same policy rows (kept, not derived again: see `forward`, which keeps them only for the
/// very same policies and exceptions, their conditions with them), and the cluster compared
/// for drift in both or in neither (a kind turning forbidden or uninstalled changes what is
/// missing where; its object counts, churning with Pods and Events, change nothing here).
fn same_inputs(old: &ClusterRows, new: &ClusterRows) -> bool {
    let (a, b) = (&*old.snapshot, &*new.snapshot);
    let kept = Arc::ptr_eq(&old.policies, &new.policies);
    debug_assert!(
        !kept || a.same_findings(b),
        "policy rows kept for other policies"
    );
    kept && comparable(a) == comparable(b)
}

/// Before a frame or a key: rebuilds the Policies and Reconcile rows once if deltas made them
/// outdated and one of them is shown (with many clusters streaming, at most once a frame).
/// Returns whether it did.
pub fn prepare(state: &mut State) -> bool {
    if !state.screens.outdated || !matches!(state.screen, Screen::Policies | Screen::Reconcile) {
        return false;
    }
    rebuild(state);
    true
}

/// The Policies rows with the cluster layer's drift across every cluster, and the Reconcile
/// rows with the history.
pub fn rebuild(state: &mut State) {
    state.screens.outdated = false;
    // The Policies selection follows its row (rows come and go above it).
    let selected = visible(state, Screen::Policies)
        .get(state.cursor(Screen::Policies).selected)
        .and_then(|&i| state.screens.policies.get(i))
        .map(policies::identity);
    let snapshots: Vec<_> = state.clusters.iter().map(|c| c.snapshot()).collect();
    let report = drift(&snapshots);
    let rows = state.clusters.iter().map(|c| c.rows.policies.as_slice());
    state.screens.policies = policies::with_drift(rows, &report);
    state.screens.drift = report;
    state.screens.reconcile = reconcile::rows(&snapshots, &state.screens.history);
    if let Some(selected) = selected {
        let now = visible(state, Screen::Policies).iter().position(|&i| {
            state
                .screens
                .policies
                .get(i)
                .is_some_and(|r| policies::identity(r) == selected)
        });
        if let Some(line) = now {
            state.cursors.entry(Screen::Policies).or_default().selected = line;
        }
    }
}

/// The lines of `screen` the scope and filter leave, as indices into its rows (Policies,
/// Reconcile: the cached rows; Leases, Contexts: the clusters; Events: the ring, newest
/// first by time; Errors: the error ring, newest first).
pub fn visible(state: &State, screen: Screen) -> Vec<usize> {
    let filter = state.filter(screen);
    let in_scope: HashSet<&str> = state
        .clusters
        .iter()
        .enumerate()
        .filter(|(i, _)| state.scope.includes(*i))
        .map(|(_, c)| c.context.as_str())
        .collect();
    // A row's texts are searched in place, each on its own, only when a filter has words.
    let keep = |cluster: &str, texts: &dyn Fn(&Filter) -> bool| {
        in_scope.contains(cluster) && filter.is_none_or(|f| f.cluster(cluster) && texts(f))
    };
    let screens = &state.screens;
    match screen {
        Screen::Policies => indices(&screens.policies, |r| {
            keep(&r.cluster, &|f| {
                f.texts(&[
                    r.kind.as_str(),
                    &r.name,
                    r.enforcement.map(|e| e.label()).unwrap_or_default(),
                    r.owner.as_deref().unwrap_or_default(),
                    &r.drift.label(),
                ])
            })
        }),
        Screen::Reconcile => indices(&screens.reconcile, |r| {
            (!screens.failures_only || r.outcome == Outcome::Failed)
                && keep(&r.cluster, &|f| {
                    f.texts(&[&r.policy, &r.reason, &r.message])
                })
        }),
        // A cluster stays when the filter matches its holder or any replica's identity.
        Screen::Leases => indices(&state.clusters, |c| {
            keep(&c.context, &|f| {
                let snapshot = c.snapshot();
                let identities: Vec<&str> = std::iter::once(&snapshot.lease)
                    .flatten()
                    .chain(&snapshot.candidates)
                    .filter_map(|l| l.spec.as_ref()?.holder_identity.as_deref())
                    .collect();
                f.texts(&identities)
            })
        }),
        Screen::Contexts => indices(&state.clusters, |c| {
            filter.is_none_or(|f| f.cluster(&c.context) && f.texts(&[&c.context]))
        }),
        Screen::Events => {
            let events: Vec<_> = screens.history.events().collect();
            let mut shown: Vec<usize> = (0..events.len())
                .rev()
                .filter(|&i| {
                    let e = events[i];
                    keep(&e.cluster, &|f| {
                        f.texts(&[&e.object, &e.reason, &e.message])
                    })
                })
                .collect();
            // Newest first by when it happened (an Event's own time, a change's), not by when
            // the console heard of it; stable, so arrival order breaks ties.
            shown.sort_by_key(|&i| std::cmp::Reverse(events[i].time));
            shown
        }
        Screen::Errors => (0..state.errors.len())
            .rev()
            .filter(|&i| {
                let e = &state.errors[i];
                keep(&e.cluster, &|f| f.texts(&[e.operation, &e.message]))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn indices<T>(rows: &[T], keep: impl Fn(&T) -> bool) -> Vec<usize> {
    (0..rows.len()).filter(|&i| keep(&rows[i])).collect()
}

/// The selected row's index into the screen's rows.
fn selected(state: &State, screen: Screen) -> Option<usize> {
    visible(state, screen)
        .get(state.cursor(screen).selected)
        .copied()
}

/// A command on one of these screens; `None` when the shared reducer handles it.
pub fn command(state: &mut State, command: Command) -> Option<bool> {
    let screen = state.screen;
    if !owns(screen) {
        return None;
    }
    if let Some(pane) = state.screens.pane.as_mut().filter(|p| p.screen == screen) {
        let page = state.page.max(1);
        let last = pane.lines.len().saturating_sub(1);
        let scroll = &mut pane.scroll;
        match command {
            Command::Up => *scroll = scroll.saturating_sub(1),
            Command::Down => *scroll = (*scroll + 1).min(last),
            Command::PageUp => *scroll = scroll.saturating_sub(page),
            Command::PageDown => *scroll = (*scroll + page).min(last),
            Command::Top => *scroll = 0,
            Command::Bottom => *scroll = last,
            Command::Back => state.screens.pane = None,
            _ => return open(state, screen, command),
        }
        return Some(true);
    }
    open(state, screen, command)
}

/// Enter, `d`, `y` and `Ctrl-z`: the pane they open, or the toggle.
fn open(state: &mut State, screen: Screen, command: Command) -> Option<bool> {
    let pane = match (screen, command) {
        (Screen::Reconcile, Command::FailuresOnly) => {
            state.screens.failures_only = !state.screens.failures_only;
            state.cursors.remove(&Screen::Reconcile);
            state.screens.pane = None;
            return Some(true);
        }
        (Screen::Policies, Command::Select | Command::Describe | Command::Yaml) => {
            let row = state.screens.policies.get(selected(state, screen)?)?;
            let drifted = row
                .drift_index
                .and_then(|i| state.screens.drift.drifts.get(i));
            match (command, drifted) {
                (Command::Select, Some(drift)) => {
                    (format!("drift: {}", row.name), describe::diff(drift))
                }
                (Command::Yaml, _) => (
                    format!("{} ({}) YAML", row.name, row.cluster),
                    describe::yaml(&row.object),
                ),
                _ => (
                    format!("{} ({})", row.name, row.cluster),
                    describe::describe(&row.cluster, &row.object),
                ),
            }
        }
        (Screen::Reconcile, Command::Select) => {
            let row = state.screens.reconcile.get(selected(state, screen)?)?;
            (
                format!("{} ({}) over time", row.policy, row.cluster),
                reconcile::timeline(row, &state.screens.history),
            )
        }
        _ => return None,
    };
    let (title, lines) = pane;
    state.screens.pane = Some(Pane {
        screen,
        title,
        lines,
        scroll: 0,
    });
    Some(true)
}
