//! Key presses as the loop turns them into actions ([`actions`]), through the reducer.

use crossterm::event::{KeyEvent, KeyModifiers};
use guardian_core::model::Severity;

use super::*;
use crate::action::Command;
use crate::app::violations::{Column, Line, row};
use crate::testing::{at, deployment, finding, state, synced};
use crate::views::Screen;

fn violations() -> State {
    let mut a = synced("demo-a");
    a.evaluations = ["api", "ledger", "web"]
        .into_iter()
        .map(|name| {
            let f = finding("restricted", "run-as-non-root", Severity::High);
            deployment("shop", name, &["restricted"], vec![f])
        })
        .collect();
    let mut s = state(vec![a], at(60));
    update(&mut s, Action::Command(Command::Show(Screen::Violations)));
    prepare(&mut s);
    s
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, modifiers))
}

/// Types `keys` as a user does (capitals with Shift), each through the keymap and the reducer.
fn press(state: &mut State, keys: &str) {
    for c in keys.chars() {
        let shift = if c.is_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        for action in actions(state, key(KeyCode::Char(c), shift)) {
            update(state, action);
        }
    }
    prepare(state);
}

fn names(state: &State) -> Vec<String> {
    let table = &state.violations.table;
    table
        .lines
        .iter()
        .filter_map(|line| match line {
            Line::Row(r) => row(table, *r).map(|(_, shown)| shown.object.name.clone()),
            Line::Group(_) => None,
        })
        .collect()
}

#[test]
fn capital_o_reverses_the_sort_of_the_current_column_both_ways() {
    let mut s = violations();
    press(&mut s, "N");
    assert_eq!(names(&s), ["api", "ledger", "web"]);
    press(&mut s, "O");
    assert_eq!(s.violations.sort.column, Column::Resource);
    assert_eq!(names(&s), ["web", "ledger", "api"]);
    press(&mut s, "O");
    assert_eq!(names(&s), ["api", "ledger", "web"]);
    // `o` moves on to the next column, ascending; `O` reverses that one.
    press(&mut s, "O");
    press(&mut s, "o");
    let next = Column::Resource.next();
    assert_eq!(
        (s.violations.sort.column, s.violations.sort.reverse),
        (next, false)
    );
    press(&mut s, "O");
    assert_eq!(
        (s.violations.sort.column, s.violations.sort.reverse),
        (next, true)
    );
}

#[test]
fn ctrl_c_quits_with_the_filter_the_palette_or_a_dialog_open() {
    let ctrl_c = || key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    type Open = fn(&mut State);
    let opened: [(&str, Open); 4] = [
        ("the table", |_| {}),
        ("the filter line", |s| press(s, "/sho")),
        ("the palette", |s| press(s, ":lea")),
        ("a dialog", |s| {
            let modal = crate::edit::ui::Modal::message("title", vec!["line".to_owned()]);
            update(s, Action::NotEditable(Box::new(modal)));
        }),
    ];
    for (what, open) in opened {
        let mut s = violations();
        open(&mut s);
        let open = s.mode != Mode::Normal || s.modal.is_some();
        assert_eq!(open, what != "the table", "{what}");
        assert!(!s.quit, "{what}");
        for action in actions(&s, ctrl_c()) {
            update(&mut s, action);
        }
        assert!(s.quit, "Ctrl-C with {what} open must quit");
    }
}

/// The keys that quit from a line come from the keymap: rebound to `q` only, Ctrl-C quits
/// nowhere (and types nothing); rebound to Ctrl-X, Ctrl-X quits from the filter line too.
#[test]
fn quitting_from_a_line_follows_the_keymap() {
    let rebound = |keys: &[&str]| {
        let overrides = [(
            "quit".to_owned(),
            keys.iter().map(|k| (*k).to_owned()).collect(),
        )]
        .into_iter()
        .collect();
        let keymap = crate::keymap::Keymap::new(crate::keymap::defaults(), &overrides)
            .expect("a valid keymap");
        let mut s = crate::testing::state_with(
            vec![synced("demo-a")],
            at(60),
            keymap,
            &std::collections::BTreeSet::new(),
        );
        press(&mut s, "/ab");
        assert_eq!(
            s.mode,
            Mode::Filter {
                input: "ab".to_owned()
            },
            "{keys:?}"
        );
        s
    };
    let send = |s: &mut State, code: char| {
        for action in actions(s, key(KeyCode::Char(code), KeyModifiers::CONTROL)) {
            update(s, action);
        }
    };
    let mut s = rebound(&["q"]);
    send(&mut s, 'c');
    assert!(!s.quit, "Ctrl-C is not bound to quit");
    assert_eq!(
        s.mode,
        Mode::Filter {
            input: "ab".to_owned()
        },
        "typed nothing"
    );
    press(&mut s, "q");
    assert!(!s.quit, "q is text in the filter line");
    let mut s = rebound(&["ctrl-x"]);
    send(&mut s, 'c');
    assert!(!s.quit);
    send(&mut s, 'x');
    assert!(s.quit, "Ctrl-X is bound to quit");
}
