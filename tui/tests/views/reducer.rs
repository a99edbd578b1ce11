//! The reducer's part for these screens: keys reach them, toggles and panes, without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use guardian_tui::action::{Action, Command};
use guardian_tui::app::{State, update};
use guardian_tui::views::Screen;

use crate::fixture;

fn press(state: &mut State, code: KeyCode, modifiers: KeyModifiers) {
    let event = KeyEvent::new(code, modifiers);
    let action = state
        .keymap
        .dispatch(state.screen, &event, state.is_readonly());
    if let Some(action) = action {
        update(state, action);
    }
}

fn key(state: &mut State, c: char) {
    press(state, KeyCode::Char(c), KeyModifiers::NONE);
}

#[test]
fn each_screen_opens_by_its_key_and_by_the_palette() {
    let mut state = fixture::fleet();
    for (c, screen) in [
        ('p', Screen::Policies),
        ('R', Screen::Reconcile),
        ('L', Screen::Leases),
        ('E', Screen::Events),
        ('X', Screen::Errors),
        ('K', Screen::Contexts),
    ] {
        key(&mut state, c);
        assert_eq!(state.screen, screen, "key {c}");
    }
    for (name, screen) in [
        ("pol", Screen::Policies),
        ("rec", Screen::Reconcile),
        ("ctx", Screen::Contexts),
    ] {
        update(&mut state, Action::Command(Command::Palette));
        for c in name.chars() {
            update(&mut state, Action::Input(c));
        }
        update(&mut state, Action::Submit);
        if name == "ctx" {
            // Not a prefix of any screen name: the screen stays.
            assert_eq!(state.screen, Screen::Reconcile);
        } else {
            assert_eq!(state.screen, screen, ":{name}");
        }
    }
}

#[test]
fn ctrl_z_keeps_failed_reconciles_only_and_back() {
    let mut state = fixture::fleet();
    key(&mut state, 'R');
    assert_eq!(state.lines(Screen::Reconcile), 5);
    press(&mut state, KeyCode::Char('z'), KeyModifiers::CONTROL);
    assert!(state.screens.failures_only);
    assert_eq!(
        state.lines(Screen::Reconcile),
        1,
        "only demo-b's best-practices failed"
    );
    press(&mut state, KeyCode::Char('z'), KeyModifiers::CONTROL);
    assert_eq!(state.lines(Screen::Reconcile), 5);
    // Ctrl-z means nothing on Policies.
    key(&mut state, 'p');
    press(&mut state, KeyCode::Char('z'), KeyModifiers::CONTROL);
    assert!(!state.screens.failures_only);
}

#[test]
fn enter_on_a_drifted_policy_opens_its_diff_and_esc_closes_it() {
    let mut state = fixture::fleet();
    key(&mut state, 'p');
    key(&mut state, 'j');
    key(&mut state, 'j');
    press(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    let pane = state.screens.pane(Screen::Policies).expect("a pane");
    assert_eq!(pane.title, "drift: restricted-security");
    assert!(
        pane.lines.iter().any(|l| l == "spec.enforcement"),
        "{:?}",
        pane.lines
    );
    // j scrolls the pane, not the table, while it is open.
    key(&mut state, 'j');
    assert_eq!(
        state.screens.pane(Screen::Policies).map(|p| p.scroll),
        Some(1)
    );
    assert_eq!(state.cursor(Screen::Policies).selected, 2);
    press(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    assert!(state.screens.pane(Screen::Policies).is_none());
    assert_eq!(
        state.screen,
        Screen::Policies,
        "Esc closed the pane, nothing more"
    );
}

#[test]
fn d_describes_and_y_shows_the_yaml_of_the_selected_row() {
    let mut state = fixture::fleet();
    key(&mut state, 'p');
    key(&mut state, 'd');
    let lines = &state
        .screens
        .pane(Screen::Policies)
        .expect("describe")
        .lines;
    assert!(
        lines.contains(&"Name:         best-practices".to_owned()),
        "{lines:?}"
    );
    key(&mut state, 'y');
    let lines = &state.screens.pane(Screen::Policies).expect("yaml").lines;
    assert!(
        lines.contains(&"kind: GuardianPolicy".to_owned()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("managedFields")));
    // Not on another screen: `d` on Leases opens nothing.
    key(&mut state, 'L');
    key(&mut state, 'd');
    assert!(state.screens.pane(Screen::Leases).is_none());
}

#[test]
fn scope_and_filter_narrow_these_screens_too() {
    let mut state = fixture::fleet();
    key(&mut state, 'p');
    let all = state.lines(Screen::Policies);
    assert_eq!(all, 7, "5 policies and 2 exceptions");
    key(&mut state, 'G');
    key(&mut state, '2');
    assert_eq!(state.lines(Screen::Policies), 2, "demo-b's policies");
    assert_eq!(
        state.cursor(Screen::Policies).selected,
        1,
        "the selection stays on a line that remains"
    );
    key(&mut state, '0');
    update(&mut state, Action::Command(Command::Filter));
    for c in "exc".chars() {
        update(&mut state, Action::Input(c));
    }
    assert_eq!(state.lines(Screen::Policies), 2, "the exceptions");
    key(&mut state, 'E');
    assert_eq!(state.lines(Screen::Events), 3);
}

#[test]
fn the_leases_cursor_reaches_every_replica_row_and_the_filter_finds_a_standby() {
    let mut state = fixture::fleet();
    key(&mut state, 'L');
    let rows = guardian_tui::app::leases::shown(&state);
    // The fixture's demo-a has a holder, a standby and a gone replica beside demo-b's holder.
    assert!(rows.len() > state.clusters.len(), "{rows:?}");
    key(&mut state, 'G');
    assert_eq!(state.cursor(Screen::Leases).selected, rows.len() - 1);
    // A standby's identity keeps its cluster, with every replica row of it.
    update(&mut state, Action::Command(Command::Filter));
    for c in "c2d4".chars() {
        update(&mut state, Action::Input(c));
    }
    update(&mut state, Action::Submit);
    let shown = guardian_tui::app::leases::shown(&state);
    assert!(
        shown.iter().all(|r| r.cluster == "demo-a") && !shown.is_empty(),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|r| r.holder.as_deref() == Some("kube-guardian-c2d4")),
        "{shown:?}"
    );
}
