use super::*;
use crate::action::{Action, Command};
use crate::app::state::Cursor;
use crate::app::update;
use crate::app::violations::Line;
use crate::testing::{at, render, state, synthetic, text};
use crate::theme::Theme;
use crate::views::Screen;

/// Two clusters of 60 rows each, on the Violations screen, sorted by name: `background` as the
/// console runs it (keys' tables built by the loop from `large_from` rows on), or not.
fn fleet(large_from: Option<usize>, background: bool) -> State {
    let snapshots = vec![synthetic("demo-a", 30, 2), synthetic("demo-b", 30, 2)];
    let mut s = state(snapshots, at(60));
    s.violations.background = background;
    LARGE_FROM.set(large_from.unwrap_or(LARGE));
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
fn the_newest_filter_s_table_wins_and_a_stale_table_never_replaces_it() {
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

/// Down to a finding of demo-b (the cluster `PickCluster(2)` scopes to), past line 70.
fn down_to_demo_b(s: &mut State) {
    for _ in 0..70 {
        update(s, Action::Command(Command::Down));
    }
    while !matches!(selected_line(s), Some(Line::Row(r)) if r.cluster == 1) {
        update(s, Action::Command(Command::Down));
    }
}

#[test]
fn after_a_sort_grouping_scope_or_cleared_filter_the_selection_follows_its_finding_built_here_or_off_the_ui_thread()
 {
    for large_from in [None, Some(60)] {
        for key in [
            Action::Command(Command::SortPolicy),
            Action::Command(Command::GroupBy),
            Action::PickCluster(2),
            Action::Cancel,
        ] {
            let mut s = fleet(large_from, true);
            if matches!(key, Action::Cancel) {
                update(&mut s, Action::Command(Command::Filter));
                update(&mut s, Action::Input('0'));
                if s.violations.job.is_some() {
                    build_asked(&mut s);
                }
            }
            down_to_demo_b(&mut s);
            let before = crate::app::follow::selected(&s).expect("a finding selected");
            update(&mut s, key.clone());
            assert_eq!(s.violations.job.is_some(), large_from.is_some());
            if large_from.is_some() {
                build_asked(&mut s);
            }
            let after = crate::app::follow::selected(&s).expect("a finding selected");
            assert_eq!(after, before, "{key:?} {large_from:?}");
        }
    }
}

#[test]
fn a_move_while_a_typed_filter_s_table_builds_keeps_its_finding() {
    let mut s = fleet(Some(100), true);
    update(&mut s, Action::Command(Command::Filter));
    update(&mut s, Action::Input('a'));
    update(&mut s, Action::Submit);
    for _ in 0..3 {
        update(&mut s, Action::Command(Command::Down));
    }
    let before = crate::app::follow::selected(&s).expect("a finding selected");
    build_asked(&mut s);
    assert_eq!(
        s.cursor(Screen::Violations).selected,
        3,
        "not back to the top"
    );
    assert_eq!(crate::app::follow::selected(&s), Some(before));

    // Not moved: the next filter's table goes in with the first line selected.
    update(&mut s, Action::Command(Command::Filter));
    update(&mut s, Action::Input('p'));
    build_asked(&mut s);
    assert_eq!(s.cursor(Screen::Violations), Cursor::default());
    // Moved onto a finding the filter leaves out: the first line too.
    update(&mut s, Action::Input('x'));
    update(&mut s, Action::Submit);
    update(&mut s, Action::Command(Command::Down));
    build_asked(&mut s);
    assert_eq!(s.cursor(Screen::Violations), Cursor::default());
}

#[test]
fn a_scope_key_leaves_the_open_finding_out_without_calling_it_gone() {
    for large_from in [None, Some(60)] {
        let mut s = fleet(large_from, true);
        // A finding of demo-a, its detail open; the scope goes to demo-b.
        while !matches!(selected_line(&s), Some(Line::Row(r)) if r.cluster == 0) {
            update(&mut s, Action::Command(Command::Down));
        }
        update(&mut s, Action::Command(Command::Select));
        assert!(s.violations.detail);
        update(&mut s, Action::PickCluster(2));
        if large_from.is_some() {
            build_asked(&mut s);
        }
        assert!(s.violations.gone.is_none(), "{large_from:?}");
        let screen = text(&render(&mut s, 160, 48, &Theme::plain()));
        assert!(!screen.contains("This finding is gone"), "{screen}");
    }
}
