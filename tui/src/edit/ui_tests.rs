//! `e` and the confirm dialog in the reducer; read-only mode leaves `e` out of the keymap.

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use guardian_cluster::write::{Fetched, ObjectKey};
use guardian_core::crd::Enforcement;
use serde_json::json;

use super::*;
use crate::action::{Action, Command};
use crate::app::{State, update};
use crate::testing::{at, policy, state, synced};

fn with_policy() -> State {
    let mut snapshot = synced("demo-a");
    snapshot.policies = vec![policy("no-privileged", Enforcement::Audit, Some(at(0)))];
    let mut s = state(vec![synced("demo-b"), snapshot], at(10));
    update(&mut s, Action::Command(Command::Show(Screen::Policies)));
    s
}

fn pending() -> Arc<Pending> {
    let key = ObjectKey::policy("no-privileged");
    let session = Session::open_for_tests(
        "demo-a",
        PathBuf::from("/state/edits/demo-a-guardianpolicy-no-privileged-1.yaml"),
        Fetched {
            key: key.clone(),
            editable: json!({}),
            resource_version: "7".to_owned(),
            status: None,
            generation: Some(1),
        },
    );
    Arc::new(Pending {
        cluster: 1,
        session,
        edited: json!({"spec": {}}),
    })
}

fn confirm(protected: Option<&str>) -> Modal {
    Modal::Confirm {
        title: "Apply".to_owned(),
        lines: vec!["+ x".to_owned()],
        protected: protected.map(str::to_owned),
        typed: String::new(),
        on_yes: Request::Apply(pending()),
        kept: Some(pending().session.path.clone()),
    }
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn e_on_a_policy_asks_the_loop_to_edit_it_in_its_cluster() {
    let mut s = with_policy();
    let action = s
        .keymap
        .dispatch(Screen::Policies, &key('e'), s.is_readonly())
        .expect("e is bound on Policies");
    update(&mut s, action);
    assert_eq!(
        s.requests,
        [Request::Edit {
            cluster: 1,
            key: ObjectKey::policy("no-privileged")
        }]
    );
}

#[test]
fn read_only_offers_no_edit_anywhere() {
    let mut s = with_policy();
    s.readonly = true;
    assert!(
        s.keymap
            .dispatch(Screen::Policies, &key('e'), s.is_readonly())
            .is_none()
    );
    assert!(
        !s.keymap
            .hints(Screen::Policies, true)
            .iter()
            .any(|(_, label)| *label == "edit"),
        "no hint"
    );
    assert!(
        !s.keymap.active(true).any(|b| b.command == Command::Edit),
        "no help line"
    );
    // Even sent directly, the reducer refuses.
    update(&mut s, Action::Command(Command::Edit));
    assert!(s.requests.is_empty());
    // A read-only context in scope does the same.
    let mut s = with_policy();
    s.clusters[1].readonly = true;
    update(&mut s, Action::Command(Command::Edit));
    assert!(s.requests.is_empty());
    assert!(
        s.keymap
            .dispatch(Screen::Policies, &key('e'), s.is_readonly())
            .is_none()
    );
}

#[test]
fn y_applies_n_and_esc_cancel_keeping_the_file() {
    let mut s = with_policy();
    update(&mut s, Action::Modal(Box::new(confirm(None))));
    // Keys go to the dialog, not the screen.
    update(&mut s, Action::Input('q'));
    assert!(!s.quit && s.modal.is_some());
    update(&mut s, Action::Input('y'));
    assert!(s.modal.is_none());
    assert_eq!(s.requests, [Request::Apply(pending())]);

    for cancel in [Action::Input('n'), Action::Cancel] {
        let mut s = with_policy();
        update(&mut s, Action::Modal(Box::new(confirm(None))));
        update(&mut s, cancel);
        assert!(s.modal.is_none() && s.requests.is_empty());
        let toast = &s.toasts.back().expect("a toast").text;
        assert!(
            toast.contains("kept in /state/edits/demo-a-guardianpolicy"),
            "{toast}"
        );
    }
}

#[test]
fn a_protected_context_needs_its_name_typed() {
    let mut s = with_policy();
    update(&mut s, Action::Modal(Box::new(confirm(Some("demo-a")))));
    update(&mut s, Action::Input('y'));
    update(&mut s, Action::Submit);
    assert!(s.requests.is_empty(), "y is not the name");
    assert!(
        s.modal
            .as_ref()
            .is_some_and(|m| m.prompt().contains("type demo-a"))
    );
    for c in "demo-a".chars() {
        update(&mut s, Action::Input(c));
    }
    update(&mut s, Action::Submit);
    assert_eq!(s.requests, [Request::Apply(pending())]);
    assert!(s.modal.is_none());
}

#[test]
fn a_message_stays_until_dismissed() {
    let mut s = with_policy();
    let modal = Modal::message("Cannot edit", vec!["no permission".to_owned()]);
    update(&mut s, Action::Modal(Box::new(modal)));
    update(&mut s, Action::Tick(at(3600)));
    assert!(s.modal.is_some(), "time does not close it");
    update(&mut s, Action::Submit);
    assert!(s.modal.is_none());
}
