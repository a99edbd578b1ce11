//! A background result waits behind the open dialog; `e` reads once; the editor waits for the
//! dialogs to close.

use std::path::PathBuf;

use guardian_cluster::write::{Fetched, ObjectKey};
use guardian_core::crd::Enforcement;
use serde_json::json;

use super::*;
use crate::action::{Action, Command};
use crate::app::{State, update};
use crate::edit::Session;
use crate::edit::ui::Modal;
use crate::testing::{at, policy, state, synced};
use crate::views::Screen;

fn on_policies() -> State {
    let mut snapshot = synced("demo-a");
    snapshot.policies = vec![policy("no-privileged", Enforcement::Audit, Some(at(0)))];
    let mut s = state(vec![snapshot], at(10));
    update(&mut s, Action::Command(Command::Show(Screen::Policies)));
    s
}

fn confirm() -> Modal {
    Modal::Confirm {
        title: "Revoke".to_owned(),
        lines: vec!["Delete?".to_owned()],
        protected: None,
        typed: String::new(),
        on_yes: Request::RevokeException {
            cluster: 0,
            key: ObjectKey::exception("pay", "legacy"),
        },
        kept: None,
    }
}

fn read() -> Box<(usize, Session)> {
    let key = ObjectKey::policy("no-privileged");
    let session = Session::open_for_tests(
        "demo-a",
        PathBuf::from("/edits/p.yaml"),
        Fetched {
            key,
            editable: json!({}),
            resource_version: "1".to_owned(),
            status: None,
            generation: Some(1),
        },
    );
    Box::new((0, session))
}

fn title(s: &State) -> String {
    s.modal.as_ref().map(|m| m.view().0).unwrap_or_default()
}

#[test]
fn a_background_failure_waits_behind_the_open_confirm() {
    let mut s = on_policies();
    update(&mut s, Action::Modal(Box::new(confirm())));
    let failed = Modal::message("Failed: creating an exception", vec!["timeout".to_owned()]);
    update(&mut s, Action::Modal(Box::new(failed)));
    assert_eq!(title(&s), "Revoke", "the confirm stays open");
    update(&mut s, Action::Input('y'));
    assert_eq!(s.requests.len(), 1, "the confirmed write is requested");
    assert_eq!(title(&s), "Failed: creating an exception");
    update(&mut s, Action::Cancel);
    assert!(s.modal.is_none());
}

#[test]
fn e_reads_once_and_the_editor_waits_until_no_dialog_is_open() {
    let mut s = on_policies();
    update(&mut s, Action::Command(Command::Edit));
    update(&mut s, Action::Command(Command::Edit));
    let edits = s
        .requests
        .iter()
        .filter(|r| matches!(r, Request::Edit { .. }))
        .count();
    assert_eq!(edits, 1, "{:?}", s.requests);
    assert!(
        s.toasts.iter().any(|t| t.text.starts_with("reading")),
        "{:?}",
        s.toasts
    );
    s.requests.clear();
    // A dialog opens while the read is out; the editor must not take over.
    update(&mut s, Action::Modal(Box::new(confirm())));
    update(&mut s, Action::OpenEditor(read()));
    assert!(s.requests.is_empty(), "{:?}", s.requests);
    update(&mut s, Action::Input('n'));
    assert!(
        matches!(s.requests.as_slice(), [Request::OpenEditor(_)]),
        "{:?}",
        s.requests
    );
    // The read is done: `e` reads again.
    s.requests.clear();
    update(&mut s, Action::Command(Command::Edit));
    assert!(matches!(s.requests.as_slice(), [Request::Edit { .. }]));
}

#[test]
fn a_failed_read_lets_e_read_again() {
    let mut s = on_policies();
    update(&mut s, Action::Command(Command::Edit));
    let why = Modal::message("Cannot edit", vec!["forbidden".to_owned()]);
    update(&mut s, Action::NotEditable(Box::new(why)));
    assert_eq!(title(&s), "Cannot edit");
    update(&mut s, Action::Cancel);
    s.requests.clear();
    update(&mut s, Action::Command(Command::Edit));
    assert!(matches!(s.requests.as_slice(), [Request::Edit { .. }]));
}
