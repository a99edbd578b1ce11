//! A write key acts on the row the last frame showed selected: the Policies selection follows
//! its row across rebuilds; a Violations row that changed under the cursor is refused.

use guardian_core::crd::Enforcement;
use guardian_core::model::Severity;

use super::*;
use crate::action::{Action, Command};
use crate::app::update;
use crate::edit::ui::Modal;
use crate::testing::{at, deployment, feed, finding, policy, render, state, synced};
use crate::theme::Theme;

fn cmd(s: &mut State, command: Command) {
    update(s, Action::Command(command));
}

fn with_policies(names: &[&str]) -> guardian_cluster::ClusterSnapshot {
    let mut snapshot = synced("demo-a");
    snapshot.policies = names
        .iter()
        .map(|n| policy(n, Enforcement::Audit, Some(at(0))))
        .collect();
    snapshot
}

#[test]
fn a_policy_added_above_the_selection_does_not_move_m_to_another_policy() {
    let mut s = state(vec![with_policies(&["b-policy", "c-policy"])], at(10));
    cmd(&mut s, Command::Show(Screen::Policies));
    cmd(&mut s, Command::Down);
    render(&mut s, 120, 30, &Theme::plain());
    assert_eq!(
        selected(&s).as_deref(),
        Some("demo-a GuardianPolicy c-policy")
    );
    // A delta puts a row above the selection before the next frame.
    feed(
        &mut s,
        0,
        with_policies(&["a-policy", "b-policy", "c-policy"]),
    );
    cmd(&mut s, Command::Enforcement);
    let Some(Modal::Enforcement { policy, .. }) = &s.modal else {
        panic!("no chooser: {:?} {:?}", s.modal, s.toasts);
    };
    assert_eq!(policy, "c-policy");
}

fn with_findings(workloads: &[&str]) -> guardian_cluster::ClusterSnapshot {
    let mut snapshot = synced("demo-a");
    snapshot.policies = vec![policy("no-privileged", Enforcement::Audit, Some(at(0)))];
    snapshot.evaluations = workloads
        .iter()
        .map(|w| {
            deployment(
                "shop",
                w,
                &["no-privileged"],
                vec![finding("no-privileged", "pss-privileged", Severity::High)],
            )
        })
        .collect();
    snapshot
}

#[test]
fn x_on_a_violation_row_that_changed_since_the_frame_is_refused() {
    let mut s = state(vec![with_findings(&["api", "web"])], at(10));
    cmd(&mut s, Command::Show(Screen::Violations));
    cmd(&mut s, Command::Bottom);
    render(&mut s, 120, 30, &Theme::plain());
    let seen = selected(&s).expect("a row");
    // The selected finding goes away before the next frame: the cursor is on another row.
    let other = if seen.contains("web") { "api" } else { "web" };
    feed(&mut s, 0, with_findings(&[other]));
    cmd(&mut s, Command::CreateException);
    assert!(s.modal.is_none(), "{:?}", s.modal);
    assert!(
        s.toasts.iter().any(|t| t.text.contains("list changed")),
        "{:?}",
        s.toasts
    );
    // Once shown, the row now selected is the one `x` acts on.
    render(&mut s, 120, 30, &Theme::plain());
    cmd(&mut s, Command::CreateException);
    let (title, _) = s.modal.as_ref().expect("the form").view();
    assert!(title.contains(&format!("/shop/{other}")), "{title}");
}

#[test]
fn a_row_the_users_own_keys_selected_counts_as_seen() {
    let mut s = state(vec![with_policies(&["b-policy", "c-policy"])], at(10));
    cmd(&mut s, Command::Show(Screen::Policies));
    render(&mut s, 120, 30, &Theme::plain());
    // `G` then `m` before the next frame: `m` acts on the row `G` went to.
    cmd(&mut s, Command::Bottom);
    cmd(&mut s, Command::Enforcement);
    let Some(Modal::Enforcement { policy, .. }) = &s.modal else {
        panic!("no chooser: {:?} {:?}", s.modal, s.toasts);
    };
    assert_eq!(policy, "c-policy");
}
