//! The reducer: every change to [`State`] goes through [`update`]. Pure (no I/O, no clock of
//! its own), so it is tested without a terminal.

use k8s_openapi::jiff::SignedDuration;

use super::data;
use super::filter::Filter;
use super::keyed::Change;
use super::state::Request;
use super::state::{Cursor, Mode, Scope, State, TOAST_SECONDS, Toast};
use super::violations::{self, Column, Line, Sort};
use crate::action::{Action, Command};
use crate::views::Screen;

/// Applies one action. Returns whether anything visible changed (the loop redraws only then).
pub fn update(state: &mut State, action: Action) -> bool {
    // What the user does acts on the table as the data is now: bring it up to date first, and
    // again after (the action may have shown the Violations screen).
    let user = !matches!(
        action,
        Action::Delta(_)
            | Action::Table(_)
            | Action::TableFailed(_)
            | Action::Tick(_)
            | Action::Object(_)
            | Action::Focus(_)
    );
    // A row the user's own keys put under the cursor counts as seen (`G` then `Ctrl-d`); one a
    // delta put there does not (see `edit::selection`).
    let write = matches!(
        action,
        Action::Command(
            Command::Edit
                | Command::Enforcement
                | Command::CreateException
                | Command::ExtendException
                | Command::RevokeException
        )
    );
    if user {
        prepare(state);
    }
    let changed = apply_action(state, action);
    if user {
        prepare(state);
        want_object(state);
        if !write && state.seen.is_some() {
            crate::edit::selection::drawn(state);
        }
    }
    crate::edit::dialogs::settle(state);
    changed
}

fn apply_action(state: &mut State, action: Action) -> bool {
    if let Some(changed) = crate::edit::ui::modal_action(state, &action) {
        return changed;
    }
    match action {
        Action::Command(command) => command_(state, command),
        Action::PickCluster(n) => pick(state, n),
        Action::Input(c) => edit(state, |input| input.push(c)),
        Action::Erase => edit(state, |input| {
            input.pop();
        }),
        Action::Complete => complete(state),
        Action::Submit => submit(state),
        Action::Cancel => cancel(state),
        Action::Delta(delta) => data::apply(state, *delta),
        Action::Table(built) => super::building::built(state, *built),
        // The loop ends on it (see `runtime`); nothing to show.
        Action::TableFailed(_) => false,
        Action::Tick(now) => data::tick(state, now),
        Action::Object(object) => data::object(state, *object),
        Action::Focus(focused) => {
            state.focused = focused;
            false
        }
        Action::Resize { height, .. } => {
            // Header, borders, column titles, hint bar.
            state.page = usize::from(height.saturating_sub(6)).max(1);
            clamp(state, state.screen);
            true
        }
        Action::OpenEditor(opened) => {
            // Opened by `settle` once no dialog is open and nothing is being typed.
            state.reading = None;
            state.editor = Some(opened);
            false
        }
        Action::NotEditable(modal) => {
            state.reading = None;
            crate::edit::dialogs::show(state, *modal);
            true
        }
        Action::Modal(modal) => match crate::edit::preview::impact_job(state, modal) {
            Ok(job) => {
                state.requests.push(Request::Impact(job));
                crate::edit::ui::toast(state, "computing the edit's impact…".to_owned());
                true
            }
            Err(modal) => {
                crate::edit::dialogs::show(state, *modal);
                true
            }
        },
        Action::Impact(modal) => {
            crate::edit::dialogs::show(state, *modal);
            true
        }
        Action::Toast(text) => {
            toast(state, text);
            true
        }
    }
}

/// A message shown for [`TOAST_SECONDS`]; the newest three stay.
pub fn toast(state: &mut State, text: String) {
    let until = state.now + SignedDuration::from_secs(TOAST_SECONDS);
    state.toasts.push_back(Toast { text, until });
    while state.toasts.len() > 3 {
        state.toasts.pop_front();
    }
}

fn command_(state: &mut State, command: Command) -> bool {
    // Policies, Reconcile and the other screens of `screens` handle their own commands first.
    if let Some(changed) = super::screens::command(state, command) {
        return changed;
    }
    let screen = state.screen;
    match command {
        Command::Quit => state.quit = true,
        Command::Help => show(state, Screen::Help),
        Command::Show(target) => show(state, target),
        Command::Palette => {
            state.mode = Mode::Palette {
                input: String::new(),
            }
        }
        Command::Filter => {
            let input = state
                .filters
                .get(&screen)
                .map(|f| f.text.clone())
                .unwrap_or_default();
            state.mode = Mode::Filter { input };
        }
        Command::Back => back(state),
        Command::Up => step(state, -1),
        Command::Down => step(state, 1),
        Command::PageUp => step(state, -page(state)),
        Command::PageDown => step(state, page(state)),
        Command::Top => move_to(state, 0),
        Command::Bottom => move_to(state, state.lines(screen).saturating_sub(1)),
        Command::Select => select(state),
        Command::AllClusters => return set_scope(state, Scope::All),
        // Bound keys arrive as `Action::PickCluster(digit)`.
        Command::PickCluster => return false,
        Command::GroupBy => {
            state.violations.group = state.violations.group.next();
            refresh_violations(state, Change::Group);
        }
        Command::SortNext => {
            let column = state.violations.sort.column.next();
            state.violations.sort = Sort {
                column,
                reverse: false,
            };
            refresh_violations(state, Change::Sort);
        }
        Command::SortReverse => sort_by(state, state.violations.sort.column),
        Command::SortSeverity => sort_by(state, Column::Severity),
        Command::SortCluster => sort_by(state, Column::Cluster),
        Command::SortName => sort_by(state, Column::Resource),
        Command::SortPolicy => sort_by(state, Column::Policy),
        Command::SortAge => sort_by(state, Column::Age),
        // Handled by `screens` on the screens that have them.
        Command::Describe | Command::Yaml | Command::FailuresOnly => return false,
        Command::Edit => return crate::edit::ui::edit_selected(state),
        Command::Enforcement => return crate::edit::quick::enforcement(state),
        Command::CreateException => return crate::edit::quick::create_exception(state),
        Command::ExtendException => return crate::edit::quick::extend(state),
        Command::RevokeException => return crate::edit::quick::revoke(state),
    }
    true
}

fn page(state: &State) -> isize {
    isize::try_from(state.page).unwrap_or(isize::MAX)
}

/// Goes to a screen, remembering where it came from.
fn show(state: &mut State, target: Screen) {
    if state.screen != target {
        state.nav.push(state.screen);
        state.screen = target;
    }
    state.mode = Mode::Normal;
}

/// Esc: the detail pane closes, else the filter clears, else the previous screen shows.
fn back(state: &mut State) {
    let screen = state.screen;
    if screen == Screen::Violations && state.violations.detail {
        state.violations.detail = false;
        state.violations.gone = None;
        // Read again when reopened: the object may have been fixed meanwhile.
        state.violations.requested = None;
        state.violations.object = None;
    } else if state.filters.remove(&screen).is_some_and(|f| !f.is_empty()) {
        if screen == Screen::Violations {
            refresh_violations(state, Change::Filter);
        }
    } else if let Some(previous) = state.nav.pop() {
        state.screen = previous;
    }
}

fn select(state: &mut State) {
    match state.screen {
        Screen::Fleet => {
            let cluster = state.cursor(Screen::Fleet).selected;
            if cluster < state.clusters.len() {
                set_scope(state, Scope::One(cluster));
                show(state, Screen::Violations);
            }
        }
        Screen::Violations => {
            state.violations.detail = !state.violations.table.lines.is_empty();
        }
        _ => {}
    }
}

/// `1`–`9`: the cluster at that position (1-based), if there is one.
fn pick(state: &mut State, n: usize) -> bool {
    if n == 0 {
        return set_scope(state, Scope::All);
    }
    if n > state.clusters.len() {
        let count = state.clusters.len();
        let text = format!("no cluster {n}: {count} followed (0 shows all)");
        return apply_action(state, Action::Toast(text));
    }
    set_scope(state, Scope::One(n - 1))
}

fn set_scope(state: &mut State, scope: Scope) -> bool {
    if state.scope == scope {
        return false;
    }
    state.scope = scope;
    refresh_violations(state, Change::Scope);
    // Fewer lines may remain on the screen shown: the selection stays on one of them.
    clamp(state, state.screen);
    true
}

fn sort_by(state: &mut State, column: Column) {
    let sort = &mut state.violations.sort;
    *sort = Sort {
        column,
        reverse: sort.column == column && !sort.reverse,
    };
    refresh_violations(state, Change::Sort);
}

fn step(state: &mut State, by: isize) {
    let current = state.cursor(state.screen).selected;
    move_to(state, current.saturating_add_signed(by));
}

fn move_to(state: &mut State, line: usize) {
    let screen = state.screen;
    if screen == Screen::Violations {
        state.violations.gone = None;
    }
    let last = state.lines(screen).saturating_sub(1);
    let cursor = state.cursors.entry(screen).or_default();
    cursor.selected = line.min(last);
    clamp(state, screen);
}

/// Keeps the selection inside the table and on the page.
pub(super) fn clamp(state: &mut State, screen: Screen) {
    let last = state.lines(screen).saturating_sub(1);
    let page = state.page.max(1);
    let Cursor {
        mut selected,
        mut offset,
    } = state.cursor(screen);
    selected = selected.min(last);
    if selected < offset {
        offset = selected;
    } else if selected >= offset + page {
        offset = selected + 1 - page;
    }
    offset = offset.min(last.saturating_sub(page - 1));
    state.cursors.insert(screen, Cursor { selected, offset });
}

/// While the detail pane is open, the selected finding's object is asked for once.
fn want_object(state: &mut State) {
    if state.screen != Screen::Violations || !state.violations.detail {
        return;
    }
    let selected = state.cursor(Screen::Violations).selected;
    let Some(Line::Row(r)) = state.violations.table.lines.get(selected) else {
        return;
    };
    let Some((_, row)) = violations::row(&state.violations.table, *r) else {
        return;
    };
    let cluster = usize::try_from(r.cluster).unwrap_or(usize::MAX);
    let finding = row.finding;
    let resource = finding.resource.clone();
    let asked = state
        .violations
        .requested
        .as_ref()
        .is_some_and(|(c, res)| *c == cluster && **res == *resource);
    if !asked {
        state.violations.requested = Some((cluster, resource.clone()));
        state.requests.push(Request::Object { cluster, resource });
    }
}

/// Rebuilds what deltas made outdated, once, before a frame or a user action: with many
/// clusters streaming, the Violations table is rebuilt at most once per frame, and only while
/// it is shown.
pub fn prepare(state: &mut State) {
    if state.violations.outdated && state.screen == Screen::Violations {
        state.violations.outdated = false;
        if super::building::off_thread(state) {
            // Built by the loop; the table shown stays until then (it holds its rows).
            super::building::ask(state);
        } else {
            super::building::build_now(state);
        }
    }
    if super::screens::prepare(state) {
        clamp(state, state.screen);
    }
}

fn refresh_violations(state: &mut State, change: Change) {
    state.violations.outdated = false;
    state.violations.gone = None;
    super::keyed::rebuild(state, change);
    clamp(state, Screen::Violations);
    if state.violations.table.lines.is_empty() {
        state.violations.detail = false;
    }
}

fn edit(state: &mut State, change: impl FnOnce(&mut String)) -> bool {
    match &mut state.mode {
        Mode::Normal => return false,
        Mode::Palette { input } => change(input),
        Mode::Filter { input } => {
            change(input);
            // The filter applies as it is typed.
            let filter = Filter::parse(input);
            let screen = state.screen;
            state.filters.insert(screen, filter);
            state.cursors.insert(screen, Cursor::default());
            if screen == Screen::Violations {
                refresh_violations(state, Change::Typed);
            }
        }
    }
    true
}

/// Tab in the palette: the screen names starting with the input; one completes it.
pub fn completions(input: &str) -> Vec<Screen> {
    let input = input.trim().to_ascii_lowercase();
    Screen::ALL
        .into_iter()
        .filter(|s| s.name().starts_with(&input))
        .collect()
}

fn complete(state: &mut State) -> bool {
    let Mode::Palette { input } = &mut state.mode else {
        return false;
    };
    match completions(input).as_slice() {
        [one] => *input = one.name().to_owned(),
        _ => return false,
    }
    true
}

fn submit(state: &mut State) -> bool {
    match std::mem::take(&mut state.mode) {
        Mode::Normal => return false,
        Mode::Filter { .. } => {}
        Mode::Palette { input } => match Screen::find(&input) {
            Some(screen) => show(state, screen),
            None if input.trim().is_empty() => {}
            None => {
                return update(
                    state,
                    Action::Toast(format!("no screen named {:?}; tab completes", input.trim())),
                );
            }
        },
    }
    true
}

fn cancel(state: &mut State) -> bool {
    match std::mem::take(&mut state.mode) {
        Mode::Normal => return false,
        Mode::Palette { .. } => {}
        Mode::Filter { .. } => {
            let screen = state.screen;
            if state.filters.remove(&screen).is_some() && screen == Screen::Violations {
                refresh_violations(state, Change::Filter);
            }
        }
    }
    true
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
