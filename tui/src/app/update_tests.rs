use guardian_core::crd::Enforcement;
use std::sync::Arc;

use guardian_core::model::{ResourceRef, Severity};

use super::*;
use crate::app::state::{ObjectText, Request};
use crate::app::violations::{GroupBy, Line};
use crate::testing::{
    at, deployment, epoch, feed, finding, policy, state, synced, unreachable, waived,
};

fn two_clusters() -> State {
    let mut a = synced("demo-a");
    a.policies = vec![policy("restricted", Enforcement::Deny, Some(epoch()))];
    a.evaluations = vec![
        deployment(
            "shop",
            "web",
            &["restricted"],
            vec![
                finding("restricted", "privileged", Severity::Critical),
                finding("restricted", "run-as-non-root", Severity::High),
            ],
        ),
        deployment(
            "pay",
            "ledger",
            &["restricted"],
            vec![waived(
                finding("restricted", "run-as-non-root", Severity::High),
                "pay/legacy",
            )],
        ),
    ];
    let mut b = synced("demo-b");
    b.evaluations = vec![deployment(
        "shop",
        "api",
        &["labels"],
        vec![finding("labels", "owner-label", Severity::Low)],
    )];
    state(vec![a, b], at(60))
}

fn cmd(state: &mut State, command: Command) -> bool {
    update(state, Action::Command(command))
}

fn resources(state: &State) -> Vec<String> {
    state
        .violations
        .table
        .lines
        .iter()
        .map(|line| match line {
            Line::Group(g) => format!("# {} {}", g.label, g.count),
            Line::Row(r) => {
                let (cluster, row) =
                    super::super::violations::row(&state.violations.table, *r).expect("row");
                format!(
                    "{} {} {}",
                    cluster.context,
                    row.resource(),
                    row.finding.rule_id()
                )
            }
        })
        .collect()
}

#[test]
fn rows_across_clusters_sort_most_severe_first_and_reverse_on_the_same_key() {
    let mut s = two_clusters();
    cmd(&mut s, Command::Show(Screen::Violations));
    assert_eq!(
        resources(&s),
        [
            "demo-a Deployment/web privileged",
            "demo-a Deployment/web run-as-non-root",
            "demo-a Deployment/ledger run-as-non-root",
            "demo-b Deployment/api owner-label",
        ],
        "waived after the violations of the same severity"
    );
    cmd(&mut s, Command::SortSeverity);
    assert_eq!(resources(&s)[0], "demo-b Deployment/api owner-label");
    cmd(&mut s, Command::SortName);
    assert_eq!(resources(&s)[0], "demo-b Deployment/api owner-label");
    assert_eq!(resources(&s)[3], "demo-a Deployment/web run-as-non-root");
    cmd(&mut s, Command::SortNext);
    assert_eq!(
        s.violations.sort.column,
        super::super::violations::Column::Policy
    );
}

#[test]
fn grouping_puts_a_header_with_its_count_over_each_group() {
    let mut s = two_clusters();
    cmd(&mut s, Command::GroupBy);
    assert_eq!(s.violations.group, GroupBy::Cluster);
    cmd(&mut s, Command::GroupBy);
    assert_eq!(s.violations.group, GroupBy::Policy);
    assert_eq!(
        resources(&s),
        [
            "# labels 1",
            "demo-b Deployment/api owner-label",
            "# restricted 3",
            "demo-a Deployment/web privileged",
            "demo-a Deployment/web run-as-non-root",
            "demo-a Deployment/ledger run-as-non-root",
        ]
    );
}

#[test]
fn the_filter_applies_as_typed_inverts_with_bang_scopes_with_at_and_esc_clears_it() {
    let mut s = two_clusters();
    s.screen = Screen::Violations;
    cmd(&mut s, Command::Filter);
    for c in "shop".chars() {
        update(&mut s, Action::Input(c));
    }
    assert_eq!(s.violations.table.shown, 3);
    for c in " !privileged".chars() {
        update(&mut s, Action::Input(c));
    }
    assert_eq!(s.violations.table.shown, 2);
    for c in " @demo-b".chars() {
        update(&mut s, Action::Input(c));
    }
    assert_eq!(resources(&s), ["demo-b Deployment/api owner-label"]);
    update(&mut s, Action::Submit);
    assert_eq!(s.mode, Mode::Normal);
    assert_eq!(s.violations.table.shown, 1, "enter keeps the filter");
    assert_eq!(s.violations.table.total, 4);
    cmd(&mut s, Command::Back);
    assert_eq!(s.violations.table.shown, 4, "esc clears the filter first");
    assert_eq!(s.screen, Screen::Violations);
}

#[test]
fn esc_closes_the_detail_then_goes_back() {
    let mut s = two_clusters();
    cmd(&mut s, Command::Show(Screen::Violations));
    cmd(&mut s, Command::Select);
    assert!(s.violations.detail);
    cmd(&mut s, Command::Back);
    assert!(!s.violations.detail);
    assert_eq!(s.screen, Screen::Violations);
    cmd(&mut s, Command::Back);
    assert_eq!(s.screen, Screen::Fleet);
    cmd(&mut s, Command::Back);
    assert_eq!(s.screen, Screen::Fleet, "nothing to go back to");
}

#[test]
fn enter_on_fleet_scopes_to_the_cluster_and_digits_pick_or_return_to_all() {
    let mut s = two_clusters();
    cmd(&mut s, Command::Down);
    cmd(&mut s, Command::Select);
    assert_eq!(s.scope, Scope::One(1));
    assert_eq!(s.screen, Screen::Violations);
    assert_eq!(resources(&s), ["demo-b Deployment/api owner-label"]);
    assert_eq!(s.scope_name(), "demo-b");
    update(&mut s, Action::PickCluster(1));
    assert_eq!(s.scope, Scope::One(0));
    assert_eq!(s.violations.table.total, 3);
    update(&mut s, Action::PickCluster(9));
    assert_eq!(s.scope, Scope::One(0), "no ninth cluster");
    assert_eq!(s.toasts.len(), 1, "the user is told");
    assert!(s.toasts[0].text.contains("2 followed"), "{:?}", s.toasts);
    cmd(&mut s, Command::AllClusters);
    assert_eq!(s.scope, Scope::All);
    assert_eq!(s.violations.table.total, 4);
}

#[test]
fn the_cursor_stays_in_the_table_and_pages_move_it_by_the_page_height() {
    let mut snapshot = synced("big");
    snapshot.evaluations = (0..100)
        .map(|i| {
            deployment(
                "ns",
                &format!("app-{i:03}"),
                &["p"],
                vec![finding("p", "r", Severity::Low)],
            )
        })
        .collect();
    let mut s = state(vec![snapshot], at(0));
    cmd(&mut s, Command::Show(Screen::Violations));
    update(
        &mut s,
        Action::Resize {
            width: 80,
            height: 26,
        },
    );
    assert_eq!(s.page, 20);
    cmd(&mut s, Command::PageDown);
    assert_eq!(
        s.cursor(Screen::Violations),
        Cursor {
            selected: 20,
            offset: 1
        }
    );
    cmd(&mut s, Command::Bottom);
    assert_eq!(
        s.cursor(Screen::Violations),
        Cursor {
            selected: 99,
            offset: 80
        }
    );
    cmd(&mut s, Command::Down);
    assert_eq!(s.cursor(Screen::Violations).selected, 99);
    cmd(&mut s, Command::Top);
    assert_eq!(
        s.cursor(Screen::Violations),
        Cursor {
            selected: 0,
            offset: 0
        }
    );
    cmd(&mut s, Command::Up);
    assert_eq!(s.cursor(Screen::Violations).selected, 0);
}

#[test]
fn older_generations_are_dropped_and_state_changes_go_to_errors_not_toasts() {
    let mut s = two_clusters();
    let down = unreachable(synced("demo-b"), at(30), at(45));
    let generation = down.generation;
    feed(&mut s, 1, down);
    assert_eq!(
        s.clusters[1].snapshot().connection.state.name(),
        "Unreachable"
    );
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.errors[0].cluster, "demo-b");
    assert_eq!(s.errors[0].operation, "connect");
    assert!(s.toasts.is_empty(), "background errors never toast");

    let mut old = synced("demo-b");
    old.generation = generation - 1;
    feed(&mut s, 1, old);
    assert_eq!(
        s.clusters[1].snapshot().connection.state.name(),
        "Unreachable"
    );
}

#[test]
fn the_score_history_gets_a_point_when_a_live_clusters_score_changes() {
    let mut s = two_clusters();
    let first = s.clusters[0].history.clone();
    assert_eq!(first.len(), 1);
    let mut better = synced("demo-a");
    better.generation = 5;
    better.evaluations = vec![deployment("shop", "web", &["restricted"], vec![])];
    feed(&mut s, 0, better.clone());
    better.generation = 6;
    feed(&mut s, 0, better);
    assert_eq!(
        s.clusters[0].history.iter().copied().collect::<Vec<_>>(),
        [first[0], 100]
    );
}

#[test]
fn the_palette_completes_screen_names_and_goes_there() {
    let mut s = two_clusters();
    cmd(&mut s, Command::Palette);
    update(&mut s, Action::Input('v'));
    update(&mut s, Action::Complete);
    assert_eq!(
        s.mode,
        Mode::Palette {
            input: "violations".to_owned()
        }
    );
    update(&mut s, Action::Submit);
    assert_eq!(s.screen, Screen::Violations);
    cmd(&mut s, Command::Palette);
    for c in "nope".chars() {
        update(&mut s, Action::Input(c));
    }
    update(&mut s, Action::Submit);
    assert_eq!(s.screen, Screen::Violations);
    assert_eq!(s.toasts.len(), 1, "a user-typed mistake is answered");
    update(&mut s, Action::Tick(at(3600)));
    assert!(s.toasts.is_empty(), "toasts expire");
}

#[test]
fn read_only_by_context_applies_while_that_context_is_in_scope() {
    let mut s = two_clusters();
    assert!(!s.is_readonly());
    s.clusters[1].readonly = true;
    assert!(s.is_readonly(), "all clusters include the read-only one");
    update(&mut s, Action::PickCluster(1));
    assert!(!s.is_readonly());
    update(&mut s, Action::PickCluster(2));
    assert!(s.is_readonly());
}

#[test]
fn deltas_mark_the_table_outdated_and_it_is_rebuilt_once_before_the_next_frame_or_key() {
    let mut s = two_clusters();
    cmd(&mut s, Command::Show(Screen::Violations));
    assert_eq!(s.violations.table.shown, 4);
    let mut gone = synced("demo-b");
    gone.generation = 9;
    for _ in 0..3 {
        feed(&mut s, 1, gone.clone());
    }
    assert_eq!(s.violations.table.shown, 4, "not rebuilt per delta");
    assert!(s.violations.outdated);
    prepare(&mut s);
    assert_eq!(s.violations.table.shown, 3);
    assert!(!s.violations.outdated);

    let mut back = two_clusters().clusters[1].snapshot().clone();
    back.generation = 10;
    feed(&mut s, 1, back);
    cmd(&mut s, Command::Bottom);
    assert_eq!(
        s.cursor(Screen::Violations).selected,
        3,
        "a key acts on the table as the data is now"
    );
}

#[test]
fn a_delta_hands_the_rows_it_replaces_to_the_loop_instead_of_freeing_them_on_the_ui_thread() {
    let mut s = two_clusters();
    s.retired.clear();
    let old = Arc::clone(&s.clusters[1].rows);
    let mut next = synced("demo-b");
    next.generation = 9;
    feed(&mut s, 1, next);
    assert_eq!(s.retired.len(), 1);
    assert!(
        Arc::ptr_eq(&s.retired[0], &old),
        "the replaced rows, kept alive"
    );
    assert_eq!(s.clusters[1].snapshot().generation, 9);
}

#[test]
fn the_open_detail_asks_once_per_object_and_keeps_only_the_answer_it_asked_for() {
    let mut s = two_clusters();
    cmd(&mut s, Command::Show(Screen::Violations));
    assert!(
        s.requests.is_empty(),
        "nothing read before the detail opens"
    );
    cmd(&mut s, Command::Select);
    let web = match s.requests.as_slice() {
        [
            Request::Object {
                cluster: 0,
                resource,
            },
        ] => resource.clone(),
        other => panic!("one read of demo-a's web: {other:?}"),
    };
    assert_eq!(web.name, "web");
    cmd(&mut s, Command::Down);
    assert_eq!(s.requests.len(), 1, "the same object is not read again");
    cmd(&mut s, Command::Down);
    assert_eq!(s.requests.len(), 2, "another object is");

    let answer = |resource: &Arc<ResourceRef>| {
        Action::Object(Box::new(ObjectText {
            cluster: 0,
            resource: resource.clone(),
            text: Ok("kind: Deployment\n".to_owned()),
        }))
    };
    assert!(
        !update(&mut s, answer(&web)),
        "a late answer for web is dropped"
    );
    assert!(s.violations.object.is_none());
    let Request::Object {
        resource: ledger, ..
    } = s.requests[1].clone()
    else {
        panic!("a read: {:?}", s.requests[1]);
    };
    assert!(update(&mut s, answer(&ledger)));
    assert!(s.violations.object.is_some());

    cmd(&mut s, Command::Back);
    assert!(
        s.violations.object.is_none(),
        "closing forgets it: reopening reads it again"
    );
    cmd(&mut s, Command::Select);
    assert_eq!(s.requests.len(), 3);
}

#[test]
fn unfocused_the_clock_redraws_every_few_seconds_only() {
    let mut s = two_clusters();
    assert!(update(&mut s, Action::Tick(at(61))));
    assert!(
        !update(&mut s, Action::Focus(false)),
        "losing focus changes nothing on screen"
    );
    assert!(!update(&mut s, Action::Tick(at(62))));
    assert!(!update(&mut s, Action::Tick(at(65))));
    assert_eq!(s.now, at(61));
    assert!(
        update(&mut s, Action::Tick(at(66))),
        "five seconds on, the ages move"
    );
    update(&mut s, Action::Focus(true));
    assert!(update(&mut s, Action::Tick(at(67))));
}
