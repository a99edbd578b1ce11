use guardian_cluster::drift::{EXCEPTIONS_RESOURCE, POLICIES_RESOURCE};
use guardian_cluster::{KindState, KindStatus};
use guardian_core::crd::{Enforcement, GuardianPolicy};
use guardian_core::model::Severity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::action::Command;
use crate::app::policies::DriftMark;
use crate::app::reconcile::Outcome;
use crate::app::{State, prepare, update};
use crate::testing::{at, deployment, finding, lease, policy, state, synced, unreachable, warning};
use crate::views::Screen;

/// A cluster with a finding, a reconciled policy, a Warning Event about it and a Lease.
fn cluster() -> ClusterSnapshot {
    let mut s = synced("demo-a");
    let f = finding("restricted", "run-as-non-root", Severity::High);
    s.evaluations = vec![deployment("shop", "web", &["restricted"], vec![f])];
    s.policies = vec![policy("restricted", Enforcement::Deny, Some(at(1)))];
    s.warnings = vec![warning("restricted", "u1", 1, at(1))];
    s.lease = Some(lease("demo-a-1", at(0)));
    s
}

/// The snapshot a Lease renewal publishes: the same findings, policies, exceptions and
/// events (the same `Arc`s), a newer Lease.
fn renewed(s: &ClusterSnapshot, seconds: i64) -> Arc<ClusterSnapshot> {
    let mut s = s.clone();
    s.generation += 1;
    s.lease = Some(lease("demo-a-1", at(seconds)));
    Arc::new(s)
}

/// The shown snapshot, changed by `edit`, as the cluster task publishes it.
fn changed(s: &State, edit: impl FnOnce(&mut ClusterSnapshot)) -> Arc<ClusterSnapshot> {
    let mut s = ClusterSnapshot::clone(s.clusters[0].snapshot());
    s.generation += 1;
    edit(&mut s);
    Arc::new(s)
}

fn delta(rows: Arc<ClusterRows>) -> Action {
    Action::Delta(Box::new(Delta { cluster: 0, rows }))
}

/// The state showing `screen` with its rows built, and a forwarder that sent them.
fn shown(screen: Screen) -> (State, Rows) {
    let mut s = state(vec![cluster()], at(2));
    update(&mut s, Action::Command(Command::Show(screen)));
    prepare(&mut s);
    let mut rows = Rows::default();
    let (sent, _) = rows.of(Arc::clone(&s.clusters[0].rows.snapshot), at(2));
    update(&mut s, delta(sent));
    prepare(&mut s);
    (s, rows)
}

/// Where the shown screen's rows live (a rebuild allocates them anew), and how many.
fn built(s: &State) -> (*const (), usize) {
    match s.screen {
        Screen::Violations => {
            let lines = &s.violations.table.lines;
            (lines.as_ptr().cast(), lines.len())
        }
        Screen::Policies => (s.screens.policies.as_ptr().cast(), s.screens.policies.len()),
        _ => (
            s.screens.reconcile.as_ptr().cast(),
            s.screens.reconcile.len(),
        ),
    }
}

#[test]
fn a_lease_renewal_shares_the_rows_and_new_findings_derive_them() {
    let mut rows = Rows::default();
    let first = Arc::new(cluster());
    let (derived, fresh) = rows.of(Arc::clone(&first), at(0));
    assert!(fresh);
    let (kept, fresh) = rows.of(renewed(&first, 2), at(2));
    assert!(!fresh, "a Lease renewal must not derive the rows again");
    // Shared, not derived again nor copied (a copy allocated 1.8 MB at 30,000 findings in the
    // memory bench).
    assert!(Arc::ptr_eq(&kept.violations, &derived.violations));
    assert!(Arc::ptr_eq(&kept.orders, &derived.orders));
    assert!(Arc::ptr_eq(&kept.policies, &derived.policies));
    assert_eq!(kept.snapshot.lease, Some(lease("demo-a-1", at(2))));
    // A changed finding is a new evaluation: derived (the row holds its new severity), and
    // the next renewal keeps those rows.
    let mut lowered = cluster();
    let f = finding("restricted", "run-as-non-root", Severity::Low);
    lowered.evaluations = vec![deployment("shop", "web", &["restricted"], vec![f])];
    let (new, fresh) = rows.of(Arc::new(lowered), at(4));
    assert!(fresh);
    assert_eq!(
        new.violations[0].severity,
        Severity::Low,
        "the old rows kept"
    );
    assert_eq!(derived.violations[0].severity, Severity::High);
    let (kept, _) = rows.of(renewed(&new.snapshot, 6), at(6));
    assert!(Arc::ptr_eq(&kept.violations, &new.violations));
}

#[test]
fn a_lease_renewal_keeps_every_table_and_redraws_only_where_the_lease_shows() {
    let tables = [Screen::Policies, Screen::Reconcile, Screen::Violations];
    let others = [
        Screen::Events,
        Screen::Errors,
        Screen::Contexts,
        Screen::Help,
    ];
    // (screen, with a dialog open over it)
    let quiet = tables.iter().chain(&others).map(|&s| (s, false));
    for (screen, modal) in quiet.chain([(Screen::Policies, true)]) {
        let (mut s, mut rows) = shown(screen);
        if modal {
            update(&mut s, Action::Command(Command::Enforcement));
            assert!(s.modal.is_some(), "the enforcement chooser is open");
        }
        let before = built(&s);
        s.retired.clear();
        if tables.contains(&screen) {
            assert_ne!(before.1, 0, "{screen:?}: no rows to keep");
        }
        let (kept, _) = rows.of(renewed(s.clusters[0].snapshot(), 4), at(4));
        let redraw = update(&mut s, delta(kept));
        prepare(&mut s);
        assert_eq!(built(&s), before, "{screen:?}: the rows were rebuilt");
        assert!(
            !redraw,
            "{screen:?} (modal: {modal}): nothing on it changed"
        );
        assert!(
            s.retired.is_empty(),
            "{screen:?}: kept rows need no thread to drop"
        );
        let renewal = s.clusters[0].snapshot().lease.clone();
        assert_eq!(renewal, Some(lease("demo-a-1", at(4))), "{screen:?}");
    }
    for screen in [Screen::Fleet, Screen::Leases] {
        let (mut s, mut rows) = shown(screen);
        let (kept, _) = rows.of(renewed(s.clusters[0].snapshot(), 4), at(4));
        assert!(update(&mut s, delta(kept)), "{screen:?} shows the Lease");
    }
}

/// Both kinds of the guardian listed and `state`, and Pods counted `pods`.
fn kinds(exceptions: KindState, pods: usize) -> Vec<KindStatus> {
    let kind = |resource: &str, state: KindState, objects| KindStatus {
        resource: resource.to_owned(),
        state,
        objects,
        listed: true,
    };
    vec![
        kind(POLICIES_RESOURCE, KindState::Synced, 1),
        kind(EXCEPTIONS_RESOURCE, exceptions, 0),
        kind("pods", KindState::Synced, pods),
    ]
}

#[test]
fn a_guardian_kind_turning_unreadable_rebuilds_the_drift_and_pod_churn_does_not() {
    // demo-b lacks demo-a's policy: "missing in demo-b" while demo-b is compared.
    let mut a = cluster();
    a.kinds = kinds(KindState::Synced, 3);
    let mut b = synced("demo-b");
    b.kinds = kinds(KindState::Synced, 3);
    let mut s = state(vec![a, b], at(2));
    update(&mut s, Action::Command(Command::Show(Screen::Policies)));
    prepare(&mut s);
    let mut rows = Rows::default();
    let b = Arc::clone(&s.clusters[1].rows.snapshot);
    let (sent, _) = rows.of(b, at(2));
    let send = |s: &mut State, rows| {
        let redraw = update(s, Action::Delta(Box::new(Delta { cluster: 1, rows })));
        prepare(s);
        redraw
    };
    send(&mut s, sent);
    let mark = |s: &State| s.screens.policies[0].drift.clone();
    assert_eq!(mark(&s), DriftMark::Missing(vec!["demo-b".to_owned()]));
    let edit = |s: &State, edit: &dyn Fn(&mut ClusterSnapshot)| {
        let mut b = ClusterSnapshot::clone(s.clusters[1].snapshot());
        b.generation += 1;
        edit(&mut b);
        Arc::new(b)
    };

    // Pods come and go: the same findings and policies, the drift as it was.
    let before = built(&s);
    let churn = edit(&s, &|b| b.kinds = kinds(KindState::Synced, 7));
    let (sent, fresh) = rows.of(churn, at(3));
    assert!(!fresh);
    assert!(!send(&mut s, sent), "Pod churn changes nothing on Policies");
    assert_eq!(built(&s), before, "the Policies rows were rebuilt");

    // demo-b's GuardianException CRD removed: it can no longer be compared, so nothing is
    // missing there; only its kinds say so (no exceptions before or after).
    for state in [
        KindState::NotInstalled,
        KindState::Forbidden {
            verb: "list".to_owned(),
        },
    ] {
        let gone = edit(&s, &|b| b.kinds = kinds(state.clone(), 7));
        let (sent, fresh) = rows.of(gone, at(4));
        assert!(!fresh);
        assert!(send(&mut s, sent), "{state:?}: the drift mark changed");
        assert_ne!(
            built(&s).0,
            before.0,
            "{state:?}: the Policies rows were kept"
        );
        assert_eq!(mark(&s), DriftMark::None, "{state:?}");
        assert_eq!(s.screens.drift.compared, ["demo-a"], "{state:?}");
        // And back: compared again, missing again.
        let back = edit(&s, &|b| b.kinds = kinds(KindState::Synced, 7));
        let (sent, _) = rows.of(back, at(5));
        assert!(send(&mut s, sent));
        assert_eq!(mark(&s), DriftMark::Missing(vec!["demo-b".to_owned()]));
    }
}

#[test]
fn a_real_change_rebuilds_the_rows_it_touches() {
    // A policy turning Degraded: a new policy object (the rows are derived again).
    let (mut s, mut rows) = shown(Screen::Reconcile);
    let before = built(&s);
    let failing = changed(&s, |c| {
        let mut p = GuardianPolicy::clone(&c.policies[0]);
        if let Some(status) = p.status.as_mut() {
            status.conditions[0].status = "False".to_owned();
            status.conditions[0].reason = "RuleInvalid".to_owned();
            status.conditions[0].last_transition_time = Time(at(3));
        }
        c.policies = vec![Arc::new(p)];
    });
    let (sent, fresh) = rows.of(failing, at(4));
    assert!(fresh);
    s.retired.clear();
    assert!(update(&mut s, delta(sent)));
    assert_eq!(
        s.retired.len(),
        1,
        "derived anew: the old rows dropped off the UI thread"
    );
    prepare(&mut s);
    assert_ne!(built(&s).0, before.0);
    assert_eq!(s.screens.reconcile[0].outcome, Outcome::Failed);

    // A new Warning Event alone: the findings hold (the rows are kept), the Reconcile rows
    // count it.
    let before = built(&s);
    assert_eq!(s.screens.reconcile[0].warnings, 1);
    let warned = changed(&s, |c| {
        c.warnings.push(warning("restricted", "u2", 1, at(4)));
    });
    let (sent, fresh) = rows.of(warned, at(5));
    assert!(!fresh);
    assert!(update(&mut s, delta(sent)));
    prepare(&mut s);
    assert_ne!(built(&s).0, before.0);
    assert_eq!(s.screens.reconcile[0].warnings, 2);

    // The cluster unreachable, and its next try moving: the same findings and no event, a
    // new chip (`retry in …`).
    let (mut s, mut rows) = shown(Screen::Violations);
    let down = unreachable(s.clusters[0].snapshot().clone(), at(5), at(10));
    let (sent, _) = rows.of(Arc::new(down.clone()), at(5));
    assert!(update(&mut s, delta(sent)));
    let retry = unreachable(down, at(5), at(20));
    let (sent, fresh) = rows.of(Arc::new(retry), at(10));
    assert!(!fresh);
    assert!(update(&mut s, delta(sent)), "the header's chip changed");
}
