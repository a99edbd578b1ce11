use super::*;
use crate::action::{Action, Command};
use crate::app::update;
use crate::app::violations::Line;
use crate::testing::{at, render, state, synthetic, text};
use crate::theme::Theme;

/// Two clusters of 60 rows each, on the Violations screen, sorted by name: `background` as the
/// console runs it (keys' tables built by the loop from `large_from` rows on), or not.
fn fleet(large_from: Option<usize>, background: bool) -> State {
    let snapshots = vec![synthetic("demo-a", 30, 2), synthetic("demo-b", 30, 2)];
    let mut s = state(snapshots, at(60));
    s.violations.background = background;
    s.violations.large_from = large_from;
    update(&mut s, Action::Command(Command::Show(Screen::Violations)));
    update(&mut s, Action::Command(Command::SortName));
    if s.violations.job.is_some() {
        build_asked(&mut s);
    }
    s
}

fn title(s: &mut State) -> String {
    let screen = text(&render(s, 160, 48, &Theme::plain()));
    screen
        .lines()
        .find(|l| l.contains(" Violations ("))
        .unwrap_or_default()
        .to_owned()
}

/// What the user sees of the table: its lines, counts and selection.
fn seen(s: &State) -> (Vec<Line>, usize, usize, Cursor) {
    let t = &s.violations.table;
    (
        t.lines.clone(),
        t.shown,
        t.total,
        s.cursor(Screen::Violations),
    )
}

fn selected_line(s: &State) -> Option<&Line> {
    let line = s.cursor(Screen::Violations).selected;
    s.violations.table.lines.get(line)
}

/// The loop's part: builds the job the reducer asked for and hands the table back.
fn build_asked(s: &mut State) -> bool {
    let job = s.violations.job.take().expect("a table was asked for");
    update(s, Action::Table(Box::new(job.build())))
}

#[test]
fn a_filter_keystroke_on_a_large_table_keeps_the_old_table_until_the_built_one_equals_the_synchronous_one()
 {
    let mut here = fleet(None, false);
    let mut off = fleet(Some(100), true);
    assert_eq!(seen(&off), seen(&here));
    update(&mut here, Action::Command(Command::Filter));
    update(&mut off, Action::Command(Command::Filter));
    // Down the old table first: a typed filter puts the selection on the first line.
    for s in [&mut here, &mut off] {
        for _ in 0..5 {
            update(s, Action::Command(Command::Down));
        }
    }
    for c in "app-00001".chars() {
        let before = off.violations.table.lines.clone();
        update(&mut here, Action::Input(c));
        update(&mut off, Action::Input(c));
        assert!(here.violations.job.is_none(), "small: built at once");
        assert_eq!(
            off.violations.table.lines, before,
            "{c}: the old table stays"
        );
        assert!(
            title(&mut off).contains("filtering…"),
            "{}",
            title(&mut off)
        );
        build_asked(&mut off);
        assert_eq!(seen(&off), seen(&here), "after {c:?}");
        assert!(!title(&mut off).contains("filtering…"));
    }
    // app-000010 to 19, two findings each, in each cluster.
    assert_eq!(off.violations.table.shown, 2 * 10 * 2);
    // Erased and cleared (Esc) the same way.
    update(&mut here, Action::Erase);
    update(&mut off, Action::Erase);
    build_asked(&mut off);
    assert_eq!(seen(&off), seen(&here));
    for s in [&mut here, &mut off] {
        update(s, Action::Submit);
        update(s, Action::Command(Command::Back));
    }
    assert!(title(&mut off).contains("filtering…"));
    build_asked(&mut off);
    assert_eq!(seen(&off), seen(&here));
    assert_eq!(off.violations.table.shown, 120);
}

#[test]
fn typing_fast_builds_only_the_newest_filter_and_a_stale_table_never_replaces_a_newer_one() {
    let mut here = fleet(None, false);
    let mut off = fleet(Some(100), true);
    for s in [&mut here, &mut off] {
        update(s, Action::Command(Command::Filter));
    }
    // `a` is being built (the loop took its job) while `pp` are typed: their jobs replace each
    // other, and only the newest is left for the loop.
    update(&mut off, Action::Input('a'));
    let first = off.violations.job.take().expect("a's table asked for");
    for c in "pp-000".chars() {
        update(&mut off, Action::Input(c));
    }
    for c in "app-000".chars() {
        update(&mut here, Action::Input(c));
    }
    let newest = off
        .violations
        .job
        .take()
        .expect("the newest table asked for");
    assert!(newest.number > first.number + 1, "one job for six keys");
    // The newest comes first; `a`'s table, built meanwhile, comes after and is dropped.
    assert!(update(&mut off, Action::Table(Box::new(newest.build()))));
    assert_eq!(seen(&off), seen(&here));
    assert!(!update(&mut off, Action::Table(Box::new(first.build()))));
    assert_eq!(seen(&off), seen(&here), "the stale table is dropped");
    assert!(!title(&mut off).contains("filtering…"));
}

#[test]
fn a_table_built_at_once_after_a_key_s_table_was_asked_for_wins_over_it() {
    let mut off = fleet(Some(100), true);
    update(&mut off, Action::Command(Command::Filter));
    update(&mut off, Action::Input('x'));
    let asked = off.violations.job.take().expect("x's table asked for");
    update(&mut off, Action::Submit);
    // One cluster holds 60 rows, under the threshold: its table is built at once.
    update(&mut off, Action::PickCluster(2));
    assert!(off.violations.job.is_none());
    let scoped = seen(&off);
    assert!(!title(&mut off).contains("filtering…"));
    assert!(!update(&mut off, Action::Table(Box::new(asked.build()))));
    assert_eq!(seen(&off), scoped);
}

#[test]
fn under_the_threshold_a_key_rebuilds_at_once_and_from_it_off_the_ui_thread() {
    // 120 rows in scope.
    for (large_from, asked) in [(None, false), (Some(121), false), (Some(120), true)] {
        let mut s = fleet(large_from, true);
        update(&mut s, Action::Command(Command::SortPolicy));
        assert_eq!(s.violations.job.is_some(), asked, "{large_from:?}");
        let title = title(&mut s);
        assert_eq!(title.contains("sorting…"), asked, "{title}");
    }
}

#[test]
fn after_a_sort_grouping_or_scope_built_off_the_ui_thread_the_selection_follows_its_finding() {
    for key in [
        Action::Command(Command::SortPolicy),
        Action::Command(Command::GroupBy),
        Action::PickCluster(2),
    ] {
        let mut s = fleet(Some(60), true);
        // A finding of demo-b, the cluster the scope goes to.
        for _ in 0..70 {
            update(&mut s, Action::Command(Command::Down));
        }
        while !matches!(selected_line(&s), Some(Line::Row(r)) if r.cluster == 1) {
            update(&mut s, Action::Command(Command::Down));
        }
        let before = crate::app::follow::selected(&s).expect("a finding selected");
        update(&mut s, key.clone());
        build_asked(&mut s);
        let after = crate::app::follow::selected(&s).expect("a finding selected");
        assert_eq!(after, before, "{key:?}");
    }
}
