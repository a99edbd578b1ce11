//! Quick actions in the reducer: the enforcement preview before the switch, the exception form
//! (required fields, expiry within the maximum), extend and revoke; each ends in a request.

use guardian_cluster::write::ObjectKey;
use guardian_core::crd::{Enforcement, GuardianException};
use guardian_core::model::Severity;
use k8s_openapi::jiff::SignedDuration;

use super::*;
use crate::action::{Action, Command};
use crate::app::{State, update};
use crate::testing::{at, deployment, finding, policy, state, synced};

fn cluster() -> State {
    let mut a = synced("demo-a");
    a.policies = vec![policy("no-privileged", Enforcement::Audit, Some(at(0)))];
    a.exceptions = vec![std::sync::Arc::new(
        serde_json::from_value::<GuardianException>(serde_json::json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianException",
            "metadata": {"name": "legacy", "namespace": "pay"},
            "spec": {"policy": "no-privileged", "owner": "team-pay", "justification": "old",
                     "expiresAt": "2030-01-01T00:00:00Z",
                     "resources": {"names": ["ledger"]}}
        }))
        .expect("exception"),
    )];
    a.evaluations = vec![
        deployment(
            "shop",
            "web",
            &["no-privileged"],
            vec![finding(
                "no-privileged",
                "pss-privileged",
                Severity::Critical,
            )],
        ),
        deployment("shop", "clean", &["no-privileged"], vec![]),
    ];
    state(vec![a], at(60))
}

fn cmd(s: &mut State, command: Command) {
    update(s, Action::Command(command));
}

fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        update(s, Action::Input(c));
    }
}

fn shown(s: &State) -> String {
    let (title, lines) = s.modal.as_ref().expect("a dialog").view();
    format!("{title}\n{}", lines.join("\n"))
}

#[test]
fn switching_to_deny_previews_the_workloads_it_would_stop_then_asks() {
    let mut s = cluster();
    cmd(&mut s, Command::Show(Screen::Policies));
    cmd(&mut s, Command::Enforcement);
    assert!(matches!(s.modal, Some(Modal::Enforcement { .. })));
    // Habitual Policies keys (describe, YAML, the chooser's own key) choose nothing.
    for c in ['d', 'y', 'm', 'a', 'w'] {
        update(&mut s, Action::Input(c));
    }
    assert!(s.requests.is_empty());
    assert!(shown(&s).contains("> Audit (now)"), "{}", shown(&s));
    cmd(&mut s, Command::Down);
    cmd(&mut s, Command::Down);
    cmd(&mut s, Command::Down);
    assert!(shown(&s).contains("> Deny"), "{}", shown(&s));
    update(&mut s, Action::Submit);
    let dialog = shown(&s);
    assert!(
        dialog.contains("Switch no-privileged in demo-a to Deny?"),
        "{dialog}"
    );
    assert!(dialog.contains("1 workload(s) in demo-a"), "{dialog}");
    assert!(
        dialog.contains("Deployment/shop/web (pss-privileged)"),
        "{dialog}"
    );
    assert!(!dialog.contains("clean"), "{dialog}");
    update(&mut s, Action::Input('y'));
    update(&mut s, Action::Submit);
    assert!(s.requests.is_empty(), "Deny needs `deny` typed, not y");
    typed(&mut s, "deny");
    update(&mut s, Action::Submit);
    assert_eq!(
        s.requests,
        [Request::SetEnforcement {
            cluster: 0,
            policy: "no-privileged".to_owned(),
            to: Enforcement::Deny
        }]
    );
}

#[test]
fn enter_on_the_enforcement_a_policy_has_switches_nothing() {
    let mut s = cluster();
    cmd(&mut s, Command::Show(Screen::Policies));
    cmd(&mut s, Command::Enforcement);
    update(&mut s, Action::Submit);
    assert!(s.modal.is_none() && s.requests.is_empty());
    assert!(
        s.toasts.iter().any(|t| t.text.contains("already Audit")),
        "{:?}",
        s.toasts
    );
    // Warn needs only y.
    cmd(&mut s, Command::Enforcement);
    cmd(&mut s, Command::Down);
    update(&mut s, Action::Submit);
    update(&mut s, Action::Input('y'));
    assert!(matches!(
        s.requests.as_slice(),
        [Request::SetEnforcement {
            to: Enforcement::Warn,
            ..
        }]
    ));
}

#[test]
fn an_exception_for_a_violation_needs_owner_justification_and_an_expiry_within_the_maximum() {
    let mut s = cluster();
    s.max_exception_days = 30;
    cmd(&mut s, Command::Show(Screen::Violations));
    cmd(&mut s, Command::CreateException);
    let form = shown(&s);
    assert!(form.contains("pss-privileged of no-privileged"), "{form}");
    assert!(
        form.contains("expires in days: 30"),
        "default: the maximum when under 90: {form}"
    );
    // Enter through empty fields: owner is required.
    for _ in 0..3 {
        update(&mut s, Action::Submit);
    }
    assert!(shown(&s).contains("! owner is required"), "{}", shown(&s));
    update(&mut s, Action::Complete); // back to the first field
    typed(&mut s, "team-shop");
    update(&mut s, Action::Submit);
    typed(&mut s, "migrating");
    update(&mut s, Action::Submit);
    update(&mut s, Action::Erase);
    update(&mut s, Action::Erase);
    typed(&mut s, "45");
    update(&mut s, Action::Submit);
    assert!(shown(&s).contains("between 1 and 30"), "{}", shown(&s));
    update(&mut s, Action::Erase);
    update(&mut s, Action::Erase);
    typed(&mut s, "7");
    update(&mut s, Action::Submit);
    let confirm = shown(&s);
    // Named after the workload and rule, with a suffix: an expired exception still stored under
    // `web-pss-privileged` does not make the name taken.
    assert!(
        confirm.contains("Create GuardianException shop/web-pss-privileged-"),
        "{confirm}"
    );
    assert!(confirm.contains("+   owner: team-shop"), "{confirm}");
    update(&mut s, Action::Input('y'));
    let [Request::CreateException { cluster, exception }] = s.requests.as_slice() else {
        panic!("{:?}", s.requests);
    };
    assert_eq!(*cluster, 0);
    assert_eq!(exception.justification, "migrating");
    assert_eq!(
        (exception.kind.as_str(), exception.resource.as_str()),
        ("Deployment", "web")
    );
    assert_eq!(
        exception.expires_at,
        at(60) + SignedDuration::from_hours(24 * 7)
    );
}

#[test]
fn an_exception_is_extended_or_revoked_and_a_protected_context_needs_its_name() {
    let mut s = cluster();
    s.protected.insert("demo-a".to_owned());
    cmd(&mut s, Command::Show(Screen::Policies));
    // Policies first, then exceptions.
    cmd(&mut s, Command::Bottom);
    cmd(&mut s, Command::RevokeException);
    assert!(
        shown(&s).contains("Delete GuardianException pay/legacy?"),
        "{}",
        shown(&s)
    );
    update(&mut s, Action::Input('y'));
    assert!(s.requests.is_empty(), "protected: y is not enough");
    typed(&mut s, "emo-a");
    update(&mut s, Action::Submit);
    assert!(s.requests.is_empty(), "a wrong name clears what was typed");
    typed(&mut s, "demo-a");
    update(&mut s, Action::Submit);
    assert_eq!(
        s.requests,
        [Request::RevokeException {
            cluster: 0,
            key: ObjectKey::exception("pay", "legacy")
        }]
    );
    s.requests.clear();
    s.protected.clear();
    cmd(&mut s, Command::ExtendException);
    update(&mut s, Action::Submit);
    update(&mut s, Action::Input('y'));
    assert_eq!(
        s.requests,
        [Request::ExtendException {
            cluster: 0,
            key: ObjectKey::exception("pay", "legacy"),
            expires_at: at(60) + SignedDuration::from_hours(24 * 90),
        }]
    );
}

#[test]
fn read_only_offers_no_quick_action() {
    let mut s = cluster();
    s.readonly = true;
    cmd(&mut s, Command::Show(Screen::Policies));
    cmd(&mut s, Command::Enforcement);
    cmd(&mut s, Command::RevokeException);
    cmd(&mut s, Command::Show(Screen::Violations));
    cmd(&mut s, Command::CreateException);
    assert!(s.modal.is_none() && s.requests.is_empty());
    let offered: Vec<Command> = s.keymap.active(true).map(|b| b.command).collect();
    for write in [
        Command::Edit,
        Command::Enforcement,
        Command::CreateException,
        Command::ExtendException,
        Command::RevokeException,
    ] {
        assert!(!offered.contains(&write), "{write:?} offered read-only");
    }
}

#[test]
fn exception_names_differ_over_time_and_stay_dns_names() {
    let a = exception_name("web", "pss-privileged", at(60));
    let b = exception_name("web", "pss-privileged", at(61));
    assert!(a.starts_with("web-pss-privileged-") && a != b, "{a} {b}");
    let long = exception_name(&"w".repeat(80), "Rule_X", at(60));
    assert!(long.len() <= 63 && !long.contains("--"), "{long}");
}

#[test]
fn x_on_a_waived_violation_names_the_exception_instead() {
    let mut a = synced("demo-a");
    a.policies = vec![policy("no-privileged", Enforcement::Audit, Some(at(0)))];
    a.evaluations = vec![deployment(
        "shop",
        "web",
        &["no-privileged"],
        vec![crate::testing::waived(
            finding("no-privileged", "pss-privileged", Severity::Critical),
            "legacy",
        )],
    )];
    let mut s = state(vec![a], at(60));
    cmd(&mut s, Command::Show(Screen::Violations));
    cmd(&mut s, Command::CreateException);
    assert!(s.modal.is_none(), "{:?}", s.modal);
    assert!(
        s.toasts
            .iter()
            .any(|t| t.text.contains("already waived by")),
        "{:?}",
        s.toasts
    );
}

#[test]
fn a_policy_managed_by_gitops_warns_that_the_next_sync_may_revert_the_switch() {
    let mut s = cluster();
    cmd(&mut s, Command::Show(Screen::Policies));
    cmd(&mut s, Command::Enforcement);
    cmd(&mut s, Command::Down);
    update(&mut s, Action::Submit);
    assert!(!shown(&s).contains("Managed by"), "{}", shown(&s));

    let mut a = synced("demo-a");
    let mut managed = (*policy("no-privileged", Enforcement::Audit, Some(at(0)))).clone();
    managed.metadata.labels = Some(
        [(
            "kustomize.toolkit.fluxcd.io/name".to_owned(),
            "guardian-policies".to_owned(),
        )]
        .into(),
    );
    a.policies = vec![std::sync::Arc::new(managed)];
    let mut s = state(vec![a], at(60));
    cmd(&mut s, Command::Show(Screen::Policies));
    cmd(&mut s, Command::Enforcement);
    cmd(&mut s, Command::Down);
    update(&mut s, Action::Submit);
    let dialog = shown(&s);
    assert!(
        dialog.contains(
            "Managed by Flux Kustomization guardian-policies: its next sync may revert this change"
        ),
        "{dialog}"
    );
}
