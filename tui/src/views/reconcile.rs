//! Reconcile: per policy and cluster, the operator's last reconcile outcome, how many condition
//! transitions and Warning Events the console saw; Enter shows them over time, `Ctrl-z` keeps
//! the failures.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::pane;
use super::policies::{cluster_width, stale};
use super::table::{self, Spec};
use super::text::age;
use crate::app::State;
use crate::app::reconcile::Outcome;
use crate::app::screens::visible;
use crate::theme::Theme;
use crate::views::Screen;

/// From this width on, the message column shows.
const WIDE: u16 = 120;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    pane::with_table(frame, area, state, theme, Screen::Reconcile, render_table);
}

fn render_table(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let rows = &state.screens.reconcile;
    let shown = visible(state, Screen::Reconcile);
    let wide = area.width >= WIDE;
    let mut titles = vec![
        "CLUSTER", "POLICY", "RESULT", "GEN/OBS", "LAST", "SEEN", "WARN", "REASON",
    ];
    let mut widths = vec![
        Constraint::Length(cluster_width(state)),
        Constraint::Fill(2),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Fill(1),
    ];
    if wide {
        titles.push("MESSAGE");
        widths.push(Constraint::Fill(2));
    }
    let mut title = format!(
        " {} ({} of {}",
        Screen::Reconcile.title(),
        shown.len(),
        rows.len()
    );
    if let Some(filter) = state.filter(Screen::Reconcile) {
        title.push_str(&format!(", filter: /{}", filter.text));
    }
    title.push_str(") ");
    if state.screens.failures_only {
        title.push_str("─ failures only ");
    }
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(titles),
        widths,
        len: shown.len(),
        cursor: state.cursor(Screen::Reconcile),
    };
    table::render(frame, area, spec, theme, |i| {
        let Some(row) = shown.get(i).and_then(|&r| rows.get(r)) else {
            return Row::default();
        };
        let style = match row.outcome {
            Outcome::Failed => theme.highlight(),
            Outcome::Pending => theme.warn(),
            Outcome::Reconciled => ratatui::style::Style::new(),
        };
        let show = |g: Option<i64>| g.map_or("-".to_owned(), |g| g.to_string());
        let mut cells = vec![
            Cell::from(row.cluster.as_str()),
            Cell::from(row.policy.as_str()),
            Cell::from(Span::styled(row.outcome.as_str(), style)),
            Cell::from(format!(
                "{}/{}",
                show(row.generation),
                show(row.observed_generation)
            )),
            Cell::from(
                row.last_transition
                    .map(|t| age(state.now, t))
                    .unwrap_or_else(|| "-".to_owned()),
            ),
            Cell::from(row.transitions.to_string()),
            Cell::from(row.warnings.to_string()),
            Cell::from(row.reason.as_str()),
        ];
        if wide {
            cells.push(Cell::from(row.message.as_str()));
        }
        let line = Row::new(cells);
        if stale(state, &row.cluster) {
            line.style(theme.stale())
        } else {
            line
        }
    });
}
