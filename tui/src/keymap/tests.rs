use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

use super::*;

fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent {
        code,
        modifiers,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    }
}

fn command(action: Option<Action>) -> Option<Command> {
    match action {
        Some(Action::Command(c)) => Some(c),
        _ => None,
    }
}

#[test]
fn keys_parse_and_print_back() {
    for text in [
        "q",
        "S",
        "/",
        "ctrl-c",
        "alt-x",
        "esc",
        "pgdown",
        "f5",
        "space",
        "ctrl-alt-k",
    ] {
        let key = parse_key(text).expect(text);
        assert_eq!(key.to_string(), text);
    }
    for bad in ["", "ctrl-", "qq", "f13", "hyper-x"] {
        assert!(parse_key(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn only_presses_dispatch_and_shifted_letters_match_their_capital() {
    let keymap = Keymap::standard();
    let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
    assert_eq!(
        command(keymap.dispatch(Screen::Fleet, &q, false)),
        Some(Command::Quit)
    );
    for kind in [KeyEventKind::Repeat, KeyEventKind::Release] {
        let event = KeyEvent { kind, ..q };
        assert!(
            keymap.dispatch(Screen::Fleet, &event, false).is_none(),
            "{kind:?}"
        );
    }
    let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        command(keymap.dispatch(Screen::Fleet, &ctrl_c, false)),
        Some(Command::Quit)
    );
    let shift_s = press(KeyCode::Char('S'), KeyModifiers::SHIFT);
    assert_eq!(
        command(keymap.dispatch(Screen::Violations, &shift_s, false)),
        Some(Command::SortSeverity)
    );
    assert!(
        keymap.dispatch(Screen::Fleet, &shift_s, false).is_none(),
        "sorting is the Violations table's"
    );
}

#[test]
fn digits_pick_clusters_with_their_value() {
    let keymap = Keymap::standard();
    let three = press(KeyCode::Char('3'), KeyModifiers::NONE);
    assert!(matches!(
        keymap.dispatch(Screen::Violations, &three, false),
        Some(Action::PickCluster(3))
    ));
    let zero = press(KeyCode::Char('0'), KeyModifiers::NONE);
    assert_eq!(
        command(keymap.dispatch(Screen::Fleet, &zero, false)),
        Some(Command::AllClusters)
    );
}

#[test]
fn the_config_rebinds_by_command_name_and_rejects_unknown_names_and_keys() {
    let overrides = BTreeMap::from([("quit".to_owned(), vec!["x".to_owned()])]);
    let keymap = Keymap::new(defaults(), &overrides).expect("keymap");
    let x = press(KeyCode::Char('x'), KeyModifiers::NONE);
    let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
    assert_eq!(
        command(keymap.dispatch(Screen::Fleet, &x, false)),
        Some(Command::Quit)
    );
    assert!(keymap.dispatch(Screen::Fleet, &q, false).is_none());
    assert!(
        keymap
            .hints(Screen::Fleet, false)
            .contains(&("x".to_owned(), "quit"))
    );

    let unknown = BTreeMap::from([("explode".to_owned(), vec!["x".to_owned()])]);
    let err = Keymap::new(defaults(), &unknown).expect_err("unknown command");
    assert!(err.to_string().contains("explode"), "{err}");
    let bad_key = BTreeMap::from([("quit".to_owned(), vec!["ctrl-".to_owned()])]);
    assert!(Keymap::new(defaults(), &bad_key).is_err());
    let screen = BTreeMap::from([("screen_violations".to_owned(), vec!["f2".to_owned()])]);
    let keymap = Keymap::new(defaults(), &screen).expect("keymap");
    let f2 = press(KeyCode::F(2), KeyModifiers::NONE);
    assert_eq!(
        command(keymap.dispatch(Screen::Fleet, &f2, false)),
        Some(Command::Show(Screen::Violations))
    );
}

#[test]
fn read_only_removes_write_commands_from_dispatch_hints_and_help() {
    let mut bindings = defaults();
    let write = Binding {
        writes: true,
        ..Binding::new(Command::GroupBy, &["W"], "a write command").hint("write")
    };
    bindings.push(write);
    let keymap = Keymap::new(bindings, &BTreeMap::new()).expect("keymap");
    let w = press(KeyCode::Char('W'), KeyModifiers::SHIFT);
    assert!(keymap.dispatch(Screen::Fleet, &w, false).is_some());
    assert!(keymap.dispatch(Screen::Fleet, &w, true).is_none());
    assert!(
        keymap
            .hints(Screen::Fleet, false)
            .iter()
            .any(|(_, l)| *l == "write")
    );
    assert!(
        !keymap
            .hints(Screen::Fleet, true)
            .iter()
            .any(|(_, l)| *l == "write")
    );
    assert!(keymap.active(true).all(|b| !b.writes));
    assert_eq!(
        keymap.active(false).count(),
        keymap.active(true).count() + 1 + defaults().iter().filter(|b| b.writes).count()
    );
}

#[test]
fn every_command_has_a_distinct_config_name() {
    let names: Vec<String> = defaults().iter().map(|b| command_name(b.command)).collect();
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(names.iter().all(|n| !n.is_empty()));
    assert!(names.contains(&"page_down".to_owned()));
}
