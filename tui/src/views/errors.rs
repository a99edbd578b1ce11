//! Errors: the console's own error log (background errors never toast), newest first, bounded,
//! with when, on which cluster and during which operation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::policies::cluster_width;
use super::table::{self, Spec};
use super::text::age;
use crate::app::State;
use crate::app::screens::visible;
use crate::theme::Theme;
use crate::views::Screen;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let shown = visible(state, Screen::Errors);
    let mut title = format!(
        " {} ({} of {}",
        Screen::Errors.title(),
        shown.len(),
        state.errors.len()
    );
    if let Some(filter) = state.filter(Screen::Errors) {
        title.push_str(&format!(", filter: /{}", filter.text));
    }
    title.push_str(") ");
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(["AGE", "CLUSTER", "OPERATION", "ERROR"]),
        widths: vec![
            Constraint::Length(5),
            Constraint::Length(cluster_width(state)),
            Constraint::Length(9),
            Constraint::Fill(3),
        ],
        len: shown.len(),
        cursor: state.cursor(Screen::Errors),
    };
    table::render(frame, area, spec, theme, |i| {
        let Some(error) = shown.get(i).and_then(|&e| state.errors.get(e)) else {
            return Row::default();
        };
        Row::new([
            Cell::from(age(state.now, error.at)),
            Cell::from(error.cluster.as_str()),
            Cell::from(error.operation),
            Cell::from(error.message.as_str()),
        ])
    });
}
