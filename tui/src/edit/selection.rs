//! The write keys act on the row the user saw selected. Deltas rebuild the tables between a
//! frame and a key, and a cursor that kept its line number would then be on another row: each
//! frame (and each of the user's own keys) records which row is selected, and a write key on a
//! row that changed since is refused (the next frame shows the row now selected; pressing
//! again acts on it).

use super::ui::toast;
use crate::app::State;
use crate::app::violations::{self, Line};
use crate::views::Screen;

/// The selected row, as the last frame showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub screen: Screen,
    pub row: Option<String>,
}

/// What the row under the cursor of the shown screen is: a Violations row by its cluster,
/// policy, rule and object, a Policies row by its cluster, kind and name.
pub fn selected(state: &State) -> Option<String> {
    match state.screen {
        Screen::Violations => {
            let line = state.cursor(Screen::Violations).selected;
            let Some(Line::Row(r)) = state.violations.table.lines.get(line) else {
                return None;
            };
            let (cluster, row) = violations::row(&state.violations.table, *r)?;
            let finding = row.finding;
            Some(format!(
                "{} {} {} {}",
                cluster.context,
                finding.policy(),
                finding.rule_id(),
                finding.resource
            ))
        }
        Screen::Policies => {
            let row = crate::app::screens::visible(state, Screen::Policies)
                .get(state.cursor(Screen::Policies).selected)
                .and_then(|&i| state.screens.policies.get(i))?;
            Some(crate::app::policies::identity(row))
        }
        _ => None,
    }
}

/// Called after each frame is drawn, and after each key that is not a write.
pub fn drawn(state: &mut State) {
    state.seen = Some(Seen {
        screen: state.screen,
        row: selected(state),
    });
}

/// Whether the row under the cursor is the one the last frame showed; says so when not. Before
/// the first frame (reducer tests) there is nothing to compare with.
pub fn as_seen(state: &mut State) -> bool {
    let Some(seen) = &state.seen else {
        return true;
    };
    if seen.screen == state.screen && seen.row == selected(state) {
        return true;
    }
    toast(
        state,
        "the list changed under the cursor: check the selected row and press again".to_owned(),
    );
    false
}

#[cfg(test)]
#[path = "selection_tests.rs"]
mod tests;
