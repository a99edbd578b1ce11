//! Events: what the console saw, newest first, bounded: the clusters' Warning Events about
//! GuardianPolicies, leader changes and connection state changes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::policies::cluster_width;
use super::table::{self, Spec};
use super::text::age;
use crate::app::State;
use crate::app::screens::visible;
use crate::theme::Theme;
use crate::views::Screen;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let events: Vec<_> = state.screens.history.events().collect();
    let shown = visible(state, Screen::Events);
    let mut title = format!(
        " {} ({} of {}",
        Screen::Events.title(),
        shown.len(),
        events.len()
    );
    if let Some(filter) = state.filter(Screen::Events) {
        title.push_str(&format!(", filter: /{}", filter.text));
    }
    title.push_str(") ");
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(["AGE", "CLUSTER", "TYPE", "OBJECT", "REASON", "MESSAGE"]),
        widths: vec![
            Constraint::Length(5),
            Constraint::Length(cluster_width(state)),
            Constraint::Length(7),
            Constraint::Min(12),
            Constraint::Min(10),
            Constraint::Fill(2),
        ],
        len: shown.len(),
        cursor: state.cursor(Screen::Events),
    };
    table::render(frame, area, spec, theme, |i| {
        let Some(event) = shown.get(i).and_then(|&e| events.get(e)) else {
            return Row::default();
        };
        let kind = if event.warning {
            Span::styled("Warning", theme.warn())
        } else {
            Span::raw("Normal")
        };
        Row::new([
            Cell::from(age(state.now, event.time)),
            Cell::from(event.cluster.as_str()),
            Cell::from(kind),
            Cell::from(event.object.as_str()),
            Cell::from(event.reason.as_str()),
            Cell::from(event.message.as_str()),
        ])
    });
}
