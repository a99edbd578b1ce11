//! The Violations selection follows its finding when new data rebuilds the table: it moves to
//! the finding's new line, the detail pane re-reads the object when the object's findings
//! changed, and says so when the finding is gone (fixed, waived away, or its object deleted)
//! instead of showing whatever row took its place.

use std::sync::Arc;

use guardian_core::model::Finding;

use super::state::{Request, State};
use super::violations::{self, Line};
use crate::views::Screen;

/// The selected finding as the table was built: enough to find it in new rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    cluster: usize,
    finding: Finding,
    /// Every finding of its object then (a change means the object changed: read it again).
    object: Vec<Finding>,
}

impl Followed {
    fn is(&self, finding: &Finding) -> bool {
        // Rule and policy first: most findings differ there, and they are short.
        finding.rule_id() == self.finding.rule_id()
            && finding.policy() == self.finding.policy()
            && finding.resource == self.finding.resource
            && finding.path == self.finding.path
            && finding.container == self.finding.container
    }

    /// How the pane names it once it is gone.
    pub fn label(&self) -> String {
        let r = &self.finding.resource;
        let namespace = r
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!(
            "{} {namespace}{}: {}",
            r.kind,
            r.name,
            self.finding.rule_id()
        )
    }
}

/// The finding on the selected line, if any (call while the table matches the rows).
pub fn selected(state: &State) -> Option<Followed> {
    let line = state.cursor(Screen::Violations).selected;
    let Some(Line::Row(r)) = state.violations.table.lines.get(line) else {
        return None;
    };
    let (_, row) = violations::row(&state.violations.table, *r)?;
    let finding = row.finding.clone();
    let object = row.evaluation.findings.clone();
    Some(Followed {
        cluster: usize::try_from(r.cluster).ok()?,
        finding,
        object,
    })
}

/// After the table was rebuilt: the selection goes to the followed finding's line; the pane
/// re-reads a changed object. A finding not in the table is marked gone when new data dropped
/// it (`by_data`); a key's table (a filter, a scope) only left it out. Whether it was found.
pub fn restore(state: &mut State, followed: Followed, by_data: bool) -> bool {
    let table = &state.violations.table;
    // The row's own severity first: most rows differ there, without a trip to the finding.
    let severity = |r: &violations::RowRef| {
        let source = table.sources.get(usize::try_from(r.cluster).ok()?)?;
        let row = source.rows.violations.get(usize::try_from(r.row).ok()?)?;
        Some(row.severity)
    };
    let found = table.lines.iter().position(|line| {
        let Line::Row(r) = line else { return false };
        usize::try_from(r.cluster).ok() == Some(followed.cluster)
            && severity(r) == Some(followed.finding.severity())
            && violations::row(table, *r).is_some_and(|(_, row)| followed.is(row.finding))
    });
    let Some(line) = found else {
        if by_data && state.violations.detail {
            state.violations.gone = Some(followed);
        }
        return false;
    };
    let cursor = state.cursors.entry(Screen::Violations).or_default();
    cursor.selected = line;
    if !state.violations.detail {
        return true;
    }
    let now = selected(state).map(|f| f.object).unwrap_or_default();
    if now != followed.object {
        // The object changed: read it again (the answer replaces the old text).
        let resource = Arc::clone(&followed.finding.resource);
        state.violations.requested = Some((followed.cluster, resource.clone()));
        state.violations.object = None;
        state.requests.push(Request::Object {
            cluster: followed.cluster,
            resource,
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::action::{Action, Command};
    use crate::app::update;
    use crate::testing::{at, deployment, feed, finding, render, state, synced, text};
    use crate::theme::Theme;

    /// demo-a with Deployments `names` in namespace shop, each with a High `run-as-non-root`
    /// finding of `message`.
    fn cluster(
        generation: u64,
        names: &[&str],
        message: &str,
    ) -> guardian_cluster::ClusterSnapshot {
        let mut snapshot = synced("demo-a");
        snapshot.generation = generation;
        snapshot.evaluations = names
            .iter()
            .map(|name| {
                let mut f = finding("restricted", "run-as-non-root", Severity::High);
                f.message = message.to_owned();
                deployment("shop", name, &["restricted"], vec![f])
            })
            .collect();
        snapshot
    }

    fn selected_resource(s: &State) -> String {
        let line = s.cursor(Screen::Violations).selected;
        match s.violations.table.lines.get(line) {
            Some(Line::Row(r)) => violations::row(&s.violations.table, *r)
                .map(|(_, row)| row.resource())
                .unwrap_or_default(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn the_selection_stays_on_its_finding_when_new_rows_come_before_it() {
        let mut s = state(vec![cluster(1, &["c", "d"], "runs as root")], at(60));
        update(&mut s, Action::Command(Command::Show(Screen::Violations)));
        update(&mut s, Action::Command(Command::Down));
        assert_eq!(selected_resource(&s), "Deployment/d");
        feed(&mut s, 0, cluster(2, &["a", "b", "c", "d"], "runs as root"));
        crate::app::prepare(&mut s);
        assert_eq!(
            selected_resource(&s),
            "Deployment/d",
            "still on d, now line 3"
        );
        assert_eq!(s.cursor(Screen::Violations).selected, 3);
    }

    #[test]
    fn the_open_detail_rereads_a_changed_object_and_says_when_its_finding_is_gone() {
        let mut s = state(vec![cluster(1, &["web", "api"], "runs as root")], at(60));
        update(&mut s, Action::Command(Command::Show(Screen::Violations)));
        update(&mut s, Action::Command(Command::SortName));
        update(&mut s, Action::Command(Command::Down));
        update(&mut s, Action::Command(Command::Select));
        assert_eq!(selected_resource(&s), "Deployment/web");
        assert_eq!(s.requests.len(), 1, "the object is read once");

        // Its message changed: the pane shows the new one and reads the object again.
        feed(&mut s, 0, cluster(2, &["web", "api"], "runs as uid 0"));
        let screen = text(&render(&mut s, 160, 48, &Theme::plain()));
        assert!(screen.contains("runs as uid 0"), "{screen}");
        assert_eq!(s.requests.len(), 2, "the changed object is read again");
        assert!(s.violations.object.is_none(), "the old text is not shown");

        // No new change: no new read.
        feed(&mut s, 0, cluster(3, &["web", "api"], "runs as uid 0"));
        crate::app::prepare(&mut s);
        assert_eq!(s.requests.len(), 2);

        // Fixed: the pane says so instead of showing the row that took its line.
        feed(&mut s, 0, cluster(4, &["api"], "runs as uid 0"));
        let screen = text(&render(&mut s, 160, 48, &Theme::plain()));
        assert!(screen.contains("This finding is gone"), "{screen}");
        assert!(
            screen.contains("Deployment shop/web: run-as-non-root"),
            "{screen}"
        );
        // Another delta keeps saying so; the finding coming back shows it again.
        feed(&mut s, 0, cluster(5, &["api"], "runs as uid 0"));
        crate::app::prepare(&mut s);
        assert!(s.violations.gone.is_some());
        feed(&mut s, 0, cluster(6, &["api", "web"], "runs as uid 0"));
        crate::app::prepare(&mut s);
        assert!(s.violations.gone.is_none());
        assert_eq!(selected_resource(&s), "Deployment/web");
        // Gone again, then a move shows the finding moved to.
        feed(&mut s, 0, cluster(7, &["api"], "runs as uid 0"));
        crate::app::prepare(&mut s);
        assert!(s.violations.gone.is_some());
        update(&mut s, Action::Command(Command::Up));
        assert!(s.violations.gone.is_none());
        let screen = text(&render(&mut s, 160, 48, &Theme::plain()));
        assert!(!screen.contains("This finding is gone"), "{screen}");
    }
}
