//! A key's rebuild of the Violations table (filter, sort, grouping, scope): here when the rows
//! in scope are few, else off the UI thread the way new data's tables are (see
//! [`super::building`]): at 200,000 rows a filter keystroke took 130–167 ms, several frames.
//! Meanwhile the frame shows the table as it was, with a word saying what is being done; the
//! built table goes in when it comes (latest wins, so typing fast builds only the newest
//! filter once a build is done: the loop keeps one job waiting, a newer one replaces it).

use super::building;
use super::state::State;

/// Rows in scope from which a key's rebuild goes off the UI thread. Below it the new table is
/// in the key's own frame (a filter keystroke built here at 10,000 rows: 2.4–2.7 ms p50, 5.4
/// p99; at 20,000: 5.7–6.4 ms p50, 9–13 p99; at 100,000: 38–59 ms p50, on a loaded machine;
/// off the UI thread the key and its frame take about 1 ms, the swap and its frame 2 ms, a
/// frame later); see the README's console row.
pub const LARGE: usize = 20_000;

/// What a key changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A character typed into (or erased from) the filter: the selection goes to the first
    /// line, as it does when the table is built at once.
    Typed,
    /// The filter cleared (Esc).
    Filter,
    Sort,
    Group,
    Scope,
}

impl Change {
    /// The word the table's title shows while its rebuild runs.
    pub fn doing(self) -> &'static str {
        match self {
            Change::Typed | Change::Filter => "filtering…",
            Change::Sort => "sorting…",
            Change::Group => "grouping…",
            Change::Scope => "scoping…",
        }
    }
}

/// A key's table being built off the UI thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The table's number (see [`building`]).
    pub number: u64,
    pub change: Change,
}

/// Rebuilds the table after a key changed it: at once when small, else asks the loop for it.
/// Either way the table goes in through [`building::built`], one policy for where the
/// selection goes.
pub(super) fn rebuild(state: &mut State, change: Change) {
    // The number the key's table gets (the next asked for).
    let number = state.violations.asked + 1;
    state.violations.pending = Some(Pending { number, change });
    if change == Change::Typed {
        state.violations.top = number;
    }
    if building::off_thread(state) && rows_in_scope(state) >= large_from() {
        building::ask(state);
    } else {
        building::build_now(state);
    }
}

/// What the title says while a key's table is being built: nothing once it (or a newer one)
/// is shown.
pub fn doing(state: &State) -> Option<&'static str> {
    let v = &state.violations;
    let pending = v.pending?;
    (pending.number > v.shown).then_some(pending.change.doing())
}

/// Whether a table numbered `number` holds a key's change not yet shown.
pub(super) fn carries_key(state: &State, number: u64) -> bool {
    let v = &state.violations;
    v.pending
        .is_some_and(|p| p.number <= number && p.number > v.shown)
}

/// Whether a filter was typed since the table shown was asked for, which a table numbered
/// `number` holds; consumes the mark when it does.
pub(super) fn to_top(state: &mut State, number: u64) -> bool {
    let top = state.violations.top;
    if top == 0 || number < top {
        return false;
    }
    state.violations.top = 0;
    true
}

/// Rows in scope from which a key's rebuild goes off the UI thread: [`LARGE`], lowered by tests.
#[cfg(not(test))]
fn large_from() -> usize {
    LARGE
}

#[cfg(test)]
thread_local! {
    /// This test's threshold (each test runs on a thread of its own).
    static LARGE_FROM: std::cell::Cell<usize> = const { std::cell::Cell::new(LARGE) };
}

#[cfg(test)]
fn large_from() -> usize {
    LARGE_FROM.get()
}

/// Rows of the clusters in scope (what a rebuild reads, before the filter).
fn rows_in_scope(state: &State) -> usize {
    let clusters = state.clusters.iter().enumerate();
    clusters
        .filter(|(i, _)| state.scope.includes(*i))
        .map(|(_, c)| c.rows.violations.len())
        .sum()
}

#[cfg(test)]
#[path = "keyed_tests.rs"]
mod tests;
