//! The Violations table rebuilt after new data, off the UI thread: with 20 clusters of 10,000
//! rows, filtering and merging them costs about a frame. The reducer hands the loop a [`Job`]
//! (the rows as they are now, and the view's settings); the loop builds it on a blocking thread
//! and sends back the [`Built`] table, which the reducer swaps in only if no newer table is shown.
//! Meanwhile the table shown stays true: it holds the rows it points into.
//!
//! Latest wins: tables are numbered in the order they are asked for, and each is built from
//! every cluster's newest rows at that moment, so a higher number never holds an older snapshot
//! of any cluster. A table numbered at or below the one shown is dropped; the loop keeps one
//! job waiting at most, and a newer job replaces it unbuilt.

use super::filter::Filter;
use super::state::{Cursor, Scope, State};
use super::update::clamp;
use super::violations::{self, GroupBy, Sort, Source, Table};
use super::{follow, keyed};
use crate::views::Screen;

/// A table to build: the rows and the view's settings, owned (it crosses threads).
#[derive(Debug, Clone)]
pub struct Job {
    /// Its place in the order tables were asked for.
    pub number: u64,
    sources: Vec<Source>,
    scope: Scope,
    filter: Filter,
    sort: Sort,
    group: GroupBy,
}

impl Job {
    /// The table (the expensive part: filter, merge, group).
    pub fn build(&self) -> Built {
        Built {
            number: self.number,
            table: violations::build(
                self.sources.clone(),
                self.scope,
                &self.filter,
                self.sort,
                self.group,
            ),
        }
    }
}

impl Job {
    /// [`Job::build`], from the last table's rows when only its filter changed and narrows it
    /// (a word typed on): the loop's builder keeps `memo`.
    pub fn build_after(&self, memo: &mut super::narrow::Memo) -> Built {
        Built {
            number: self.number,
            table: memo.build(
                self.sources.clone(),
                self.scope,
                &self.filter,
                self.sort,
                self.group,
            ),
        }
    }
}

/// A table built by a [`Job`].
#[derive(Debug, Clone)]
pub struct Built {
    pub number: u64,
    pub table: Table,
}

/// The number the next table gets.
fn next(state: &mut State) -> u64 {
    state.violations.asked += 1;
    state.violations.asked
}

/// The table for the rows, scope, filter, sort and grouping as they are now, built here and
/// shown the way a table built off the UI thread is ([`built`]).
pub(super) fn build_now(state: &mut State) {
    // Newer than any table asked for: a job not yet taken would be dropped when built.
    state.violations.job = None;
    let table = job(state).build();
    built(state, table);
}

/// Whether the loop builds tables off the UI thread: in the console (not in tests that do not
/// play the loop's part), once a first table is shown (the first frame's is built here).
pub(super) fn off_thread(state: &State) -> bool {
    state.violations.background && state.violations.shown > 0
}

/// New data made the table outdated: asks the loop to build it (the state's
/// `violations.job`), replacing a job not yet taken.
pub(super) fn ask(state: &mut State) {
    state.violations.job = Some(Box::new(job(state)));
}

/// The next table to build from the rows and settings as they are now.
pub(super) fn job(state: &mut State) -> Job {
    let number = next(state);
    Job {
        number,
        sources: Source::all(&state.clusters),
        scope: state.scope,
        filter: state
            .filters
            .get(&Screen::Violations)
            .cloned()
            .unwrap_or_default(),
        sort: state.violations.sort,
        group: state.violations.group,
    }
}

/// A built table: shown unless a newer one is. The selection follows its finding, or goes to
/// the first line when a filter was typed since and the user did not move meanwhile (or its
/// finding was filtered out). Only new data marks the finding of an open detail gone: a key's
/// table (filter, sort, grouping, scope) just left it out.
pub(super) fn built(state: &mut State, built: Built) -> bool {
    if built.number <= state.violations.shown {
        retire(state, built.table);
        return false;
    }
    let by_data = !keyed::carries_key(state, built.number);
    let top = keyed::to_top(state, built.number);
    let moved = state.cursor(Screen::Violations) != Cursor::default();
    let followed = if top && !moved {
        state.violations.gone = None;
        None
    } else {
        (state.violations.gone.take()).or_else(|| follow::selected(state))
    };
    let old = std::mem::replace(&mut state.violations.table, built.table);
    state.violations.shown = built.number;
    retire(state, old);
    clamp(state, Screen::Violations);
    if state.violations.table.lines.is_empty() {
        state.violations.detail = false;
    }
    if let Some(followed) = followed {
        if !follow::restore(state, followed, by_data) && top {
            state.cursors.insert(Screen::Violations, Cursor::default());
        }
        clamp(state, Screen::Violations);
    }
    true
}

/// A replaced table's rows go to the loop to drop off the UI thread (they may be the last
/// holder of a cluster's old rows).
fn retire(state: &mut State, table: Table) {
    state
        .retired
        .extend(table.sources.into_iter().map(|source| source.rows));
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::action::{Action, Command};
    use crate::app::{prepare, update};
    use crate::testing::{at, deployment, feed, finding, render, state, synced, text};
    use crate::theme::Theme;

    /// `context` at `generation`, one Deployment named after the generation with a finding.
    fn cluster(context: &str, generation: u64) -> guardian_cluster::ClusterSnapshot {
        let mut snapshot = synced(context);
        snapshot.generation = generation;
        let f = finding("restricted", "run-as-non-root", Severity::High);
        snapshot.evaluations = vec![deployment(
            "shop",
            &format!("gen-{generation}"),
            &[],
            vec![f],
        )];
        snapshot
    }

    /// The generation of each cluster's rows the table shown points into.
    fn shown(s: &State) -> Vec<u64> {
        let sources = &s.violations.table.sources;
        sources.iter().map(|c| c.rows.generation()).collect()
    }

    /// New data's job, as the loop takes it.
    fn job_after(s: &mut State, cluster: usize, generation: u64) -> Box<Job> {
        let context = s.clusters[cluster].context.clone();
        feed(s, cluster, self::cluster(&context, generation));
        prepare(s);
        s.violations.job.take().expect("new data asks for a table")
    }

    #[test]
    fn a_table_built_off_the_ui_thread_never_replaces_a_newer_one() {
        let mut s = state(vec![cluster("demo-a", 1), cluster("demo-b", 1)], at(60));
        s.violations.background = true;
        update(&mut s, Action::Command(Command::Show(Screen::Violations)));
        assert_eq!(shown(&s), [1, 1], "the first table is built at once");

        // Three snapshots of demo-a and one of demo-b arrive while tables are being built.
        let a2 = job_after(&mut s, 0, 2);
        assert_eq!(
            shown(&s),
            [1, 1],
            "the table shown waits for its replacement"
        );
        let a3 = job_after(&mut s, 0, 3);
        let b2 = job_after(&mut s, 1, 2);
        let a4 = job_after(&mut s, 0, 4);
        assert!(s.violations.job.is_none());

        // Built in any order: once a newer table is shown, an older one never comes back.
        let mut seen = shown(&s);
        for job in [&a3, &b2, &a2, &a4, &a3] {
            update(&mut s, Action::Table(Box::new(job.build())));
            let now = shown(&s);
            assert!(
                now.iter().zip(&seen).all(|(now, before)| now >= before),
                "{seen:?} then {now:?}"
            );
            seen = now;
        }
        assert_eq!(shown(&s), [4, 2]);
        let screen = text(&render(&mut s, 160, 48, &Theme::plain()));
        assert!(screen.contains("Deployment/gen-4"), "{screen}");
        assert!(!screen.contains("gen-3"), "{screen}");

        // A table the user's own key rebuilt (with the newest rows) wins over a job asked before.
        let a5 = job_after(&mut s, 0, 5);
        update(&mut s, Action::Command(Command::SortName));
        assert_eq!(shown(&s), [5, 2]);
        let before = s.violations.table.lines.clone();
        assert!(!update(&mut s, Action::Table(Box::new(a5.build()))));
        assert_eq!(s.violations.table.lines, before);
    }

    #[test]
    fn the_selection_follows_its_finding_into_a_table_built_off_the_ui_thread() {
        let mut s = state(vec![cluster("demo-a", 1)], at(60));
        s.violations.background = true;
        update(&mut s, Action::Command(Command::Show(Screen::Violations)));
        update(&mut s, Action::Command(Command::SortName));
        let mut next = synced("demo-a");
        next.generation = 2;
        let f = || finding("restricted", "run-as-non-root", Severity::High);
        next.evaluations = vec![
            deployment("shop", "a-new", &[], vec![f()]),
            deployment("shop", "gen-1", &[], vec![f()]),
        ];
        feed(&mut s, 0, next);
        prepare(&mut s);
        let job = s.violations.job.take().expect("a job");
        // The old table still resolves its rows while the job builds.
        assert!(crate::edit::selection::selected(&s).is_some_and(|r| r.contains("gen-1")));
        update(&mut s, Action::Table(Box::new(job.build())));
        assert_eq!(s.cursor(Screen::Violations).selected, 1, "still on gen-1");
    }

    #[test]
    fn while_a_smaller_snapshot_s_table_builds_the_table_shown_still_reads_its_own_findings() {
        // Snapshot 1: three Deployments; the last row selected, its detail open.
        let mut first = synced("demo-a");
        first.generation = 1;
        let f = || finding("restricted", "run-as-non-root", Severity::High);
        first.evaluations = ["api", "db", "web"]
            .iter()
            .map(|n| deployment("shop", n, &[], vec![f()]))
            .collect();
        for survivors in [&["api"][..], &[]] {
            let mut s = state(vec![first.clone()], at(60));
            s.violations.background = true;
            update(&mut s, Action::Command(Command::Show(Screen::Violations)));
            update(&mut s, Action::Command(Command::SortName));
            update(&mut s, Action::Command(Command::Bottom));
            update(&mut s, Action::Command(Command::Select));
            assert!(s.violations.detail);
            // Snapshot 2 has fewer findings (or none): its table is asked for, not built yet.
            let mut next = synced("demo-a");
            next.generation = 2;
            next.evaluations = (survivors.iter())
                .map(|n| deployment("shop", n, &[], vec![f()]))
                .collect();
            feed(&mut s, 0, next);
            prepare(&mut s);
            assert!(s.violations.job.is_some(), "{survivors:?}");
            assert_eq!(s.clusters[0].rows.violations.len(), survivors.len());
            // The pane, the follow, the selection and the exception form read snapshot 1's web.
            let screen = text(&render(&mut s, 160, 48, &Theme::plain()));
            assert!(screen.contains("Deployment/web"), "{screen}");
            let followed = follow::selected(&s).expect("the selected finding");
            assert!(followed.label().contains("web"), "{}", followed.label());
            let selected = crate::edit::selection::selected(&s).expect("a row");
            assert!(selected.contains("web"), "{selected}");
            assert!(crate::edit::quick::create_exception(&mut s));
            let Some(crate::edit::ui::Modal::Form(form)) = &s.modal else {
                panic!("the exception form, not {:?}", s.modal);
            };
            assert!(form.title.contains("web"), "{}", form.title);
        }
    }
}
