//! Leases: per cluster, the operator's leader-election Lease: holder, renew age against the
//! lease duration (`late` past 1x, `stale` past 2x, in words and highlighted, as
//! guardian-cluster's operator state rates it), transitions, and leader changes seen; then a row
//! per other replica from its candidate record: `standby`, or `gone` once its record is `stale`.

use guardian_cluster::operator_state::{LeaseHealth, Role};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::policies::{cluster_width, stale};
use super::table::{self, Spec};
use super::text::age;
use crate::app::State;
use crate::app::leases::shown;
use crate::theme::Theme;
use crate::views::Screen;

/// From this width on, the Lease's name and acquire time show.
const WIDE: u16 = 120;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let rows = shown(state);
    let wide = area.width >= WIDE;
    let mut titles = vec!["CLUSTER"];
    let mut widths = vec![Constraint::Length(cluster_width(state))];
    if wide {
        titles.push("LEASE");
        widths.push(Constraint::Fill(1));
    }
    titles.extend([
        "ROLE",
        "IDENTITY",
        "HEALTH",
        "RENEW/DUR",
        "TRANS",
        "SEEN",
        "CHANGED",
    ]);
    widths.extend([
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(7),
    ]);
    if wide {
        titles.push("ACQUIRED");
        widths.push(Constraint::Length(8));
    }
    let mut title = format!(" {} ({}", Screen::Leases.title(), rows.len());
    if let Some(filter) = state.filter(Screen::Leases) {
        title.push_str(&format!(", filter: /{}", filter.text));
    }
    title.push_str(") ");
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(titles),
        widths,
        len: rows.len(),
        cursor: state.cursor(Screen::Leases),
    };
    table::render(frame, area, spec, theme, |i| {
        let Some(row) = rows.get(i) else {
            return Row::default();
        };
        let ago = |t: Option<k8s_openapi::jiff::Timestamp>| {
            t.map(|t| format!("{} ago", age(state.now, t)))
                .unwrap_or_else(|| "-".to_owned())
        };
        let (health, style) = match row.health {
            Some(LeaseHealth::Healthy) => ("healthy", Style::new()),
            Some(LeaseHealth::Late) => ("late", theme.warn()),
            Some(LeaseHealth::Stale) => ("stale", theme.highlight()),
            None => ("none", Style::new()),
        };
        let mut cells = vec![Cell::from(row.cluster.clone())];
        if wide {
            cells.push(Cell::from(row.lease.clone().unwrap_or_default()));
        }
        // The election's own columns show on its holder's row only.
        let election = !matches!(row.role, Some(Role::Standby | Role::Gone));
        let (seen, changed) = if election {
            (row.changes_seen.to_string(), ago(row.last_change))
        } else {
            (String::new(), String::new())
        };
        cells.extend([
            Cell::from(row.role.map_or("-", Role::as_str)),
            Cell::from(row.holder.clone().unwrap_or_else(|| "-".to_owned())),
            Cell::from(Span::styled(health, style)),
            Cell::from(Span::styled(row.renew(), style)),
            Cell::from(row.transitions.map(|t| t.to_string()).unwrap_or_default()),
            Cell::from(seen),
            Cell::from(changed),
        ]);
        if wide {
            cells.push(Cell::from(if election {
                ago(row.acquired)
            } else {
                String::new()
            }));
        }
        let line = Row::new(cells);
        if stale(state, &row.cluster) {
            line.style(theme.stale())
        } else {
            line
        }
    });
}
