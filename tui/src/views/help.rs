//! Help: every binding of the active keymap (so a rebound or read-only key shows as it is),
//! and where the config and log files are.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::table::{self, Spec};
use crate::app::State;
use crate::keymap::command_name;
use crate::theme::Theme;
use crate::views::Screen;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let bindings: Vec<_> = state.keymap.active(state.is_readonly()).collect();
    let mut title = format!(" {} ", Screen::Help.title());
    if let Some(paths) = &state.paths {
        title.push_str(&format!(
            "─ config {} ─ log {} ",
            paths.config.display(),
            paths.log.display()
        ));
    }
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(["KEYS", "COMMAND", "WHAT IT DOES", "WHERE"].map(Cell::from)),
        widths: vec![
            Constraint::Length(18),
            Constraint::Length(20),
            Constraint::Fill(1),
            Constraint::Length(20),
        ],
        len: bindings.len(),
        cursor: state.cursor(Screen::Help),
    };
    table::render(frame, area, spec, theme, |i| {
        let Some(b) = bindings.get(i) else {
            return Row::default();
        };
        let screens = if b.screens.is_empty() {
            "everywhere".to_owned()
        } else {
            let names: Vec<&str> = b.screens.iter().map(|s| s.name()).collect();
            names.join(", ")
        };
        Row::new([
            Cell::from(Span::styled(b.keys_label(), theme.key())),
            Cell::from(command_name(b.command)),
            Cell::from(b.help),
            Cell::from(screens),
        ])
    });
}
