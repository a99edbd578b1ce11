//! Policies: every GuardianPolicy and GuardianException of the clusters in scope, with the
//! operator's sync (`pending` while observedGeneration lags), violations, drift across the
//! selected clusters, and exceptions' owners and expiry (soon-expiring highlighted).

use guardian_cluster::drift::DriftKind;
use guardian_cluster::operator_state::PolicySync;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::pane;
use super::table::{self, Spec};
use super::text::{age, duration};
use crate::app::State;
use crate::app::policies::{DriftMark, PolicyRow};
use crate::app::screens::visible;
use crate::theme::Theme;
use crate::views::Screen;

/// From this width on, the owner column shows.
const WIDE: u16 = 120;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    pane::with_table(frame, area, state, theme, Screen::Policies, render_table);
}

fn render_table(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let rows = &state.screens.policies;
    let shown = visible(state, Screen::Policies);
    let wide = area.width >= WIDE;
    let mut titles = vec![
        "KIND", "CLUSTER", "NAME", "MODE", "READY", "GEN/OBS", "VIOL", "DRIFT",
    ];
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(cluster_width(state)),
        Constraint::Fill(2),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(4),
        Constraint::Fill(1),
    ];
    if wide {
        titles.push("OWNER");
        widths.push(Constraint::Fill(1));
    }
    titles.push("EXPIRES");
    widths.push(Constraint::Length(9));
    if wide {
        titles.push("AGE");
        widths.push(Constraint::Length(4));
    }
    let mut title = format!(
        " {} ({} of {}",
        Screen::Policies.title(),
        shown.len(),
        rows.len()
    );
    if let Some(filter) = state.filter(Screen::Policies) {
        title.push_str(&format!(", filter: /{}", filter.text));
    }
    title.push_str(") ");
    let compared = &state.screens.drift.compared;
    if compared.len() > 1 {
        title.push_str(&format!("─ drift across {} ", compared.join(", ")));
    }
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(titles),
        widths,
        len: shown.len(),
        cursor: state.cursor(Screen::Policies),
    };
    table::render(frame, area, spec, theme, |i| {
        match shown.get(i).and_then(|&r| rows.get(r)) {
            Some(row) => line(row, state, theme, wide),
            None => Row::default(),
        }
    });
}

fn line<'a>(row: &'a PolicyRow, state: &State, theme: &Theme, wide: bool) -> Row<'a> {
    let policy = row.kind == DriftKind::GuardianPolicy;
    let kind = if policy { "POL" } else { "EXC" };
    let mode = row.enforcement.map_or("-", |e| match e {
        guardian_core::crd::Enforcement::Audit => "Audit",
        guardian_core::crd::Enforcement::Warn => "Warn",
        guardian_core::crd::Enforcement::Deny => "Deny",
    });
    let ready = match row.ready.as_deref() {
        Some("True") => Span::raw("True"),
        Some(other) => Span::styled(other.to_owned(), theme.highlight()),
        None if policy => Span::raw("-"),
        None => Span::raw(""),
    };
    let generations = match row.sync {
        Some(PolicySync::Pending) => {
            Span::styled(format!("{} pending", row.generations()), theme.warn())
        }
        _ => Span::raw(row.generations()),
    };
    let violations = if policy {
        row.violations.to_string()
    } else {
        format!("~{}", row.violations)
    };
    let drift = match &row.drift {
        DriftMark::None => Span::raw(""),
        mark => Span::styled(mark.label(), theme.warn()),
    };
    let mut cells = vec![
        Cell::from(kind),
        Cell::from(row.cluster.as_str()),
        Cell::from(row.name.as_str()),
        Cell::from(mode),
        Cell::from(ready),
        Cell::from(generations),
        Cell::from(violations),
        Cell::from(drift),
    ];
    if wide {
        cells.push(Cell::from(row.owner.as_deref().unwrap_or_default()));
    }
    cells.push(Cell::from(expiry(row, state, theme)));
    if wide {
        cells.push(Cell::from(
            row.created.map(|c| age(state.now, c)).unwrap_or_default(),
        ));
    }
    let mut line = Row::new(cells);
    if stale(state, &row.cluster) {
        line = line.style(theme.stale());
    }
    line
}

/// `3d`, `2h soon` (within a week), `expired`: in words, and highlighted.
fn expiry(row: &PolicyRow, state: &State, theme: &Theme) -> Span<'static> {
    let Some(expires) = row.expires else {
        return Span::raw("");
    };
    let left = expires.as_second().saturating_sub(state.now.as_second());
    if left <= 0 {
        return Span::styled("expired", theme.highlight());
    }
    let text = duration(left.unsigned_abs());
    if row.expires_soon(state.now) {
        Span::styled(format!("{text} soon"), theme.warn())
    } else {
        Span::raw(text)
    }
}

/// The CLUSTER column's width: the longest context name (at least the title's).
pub fn cluster_width(state: &State) -> u16 {
    let longest = state.clusters.iter().map(|c| c.context.chars().count());
    u16::try_from(longest.max().unwrap_or(0).max(7)).unwrap_or(u16::MAX)
}

/// Whether the cluster's data is old (not connected now).
pub fn stale(state: &State, context: &str) -> bool {
    state
        .clusters
        .iter()
        .any(|c| c.context == context && c.snapshot().connection.stale_for(state.now).is_some())
}
