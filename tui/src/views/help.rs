//! Help: every binding of the active keymap (so a rebound or read-only key shows as it is),
//! and where the config and log files are.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row};

use super::table::{self, Spec};
use crate::app::State;
use crate::keymap::command_name;
use crate::theme::Theme;
use crate::views::Screen;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let bindings: Vec<_> = state.keymap.active(state.is_readonly()).collect();
    let title = format!(" {} ", Screen::Help.title());
    // The files under the keys: where to rebind them, and where the log goes.
    let area = match &state.paths {
        Some(paths) => {
            let [keys, files] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(area);
            let lines = vec![
                Line::from(format!(" config  {}", paths.config.display())),
                Line::from(format!(" log     {}", paths.log.display())),
            ];
            frame.render_widget(Paragraph::new(lines), files);
            keys
        }
        None => area,
    };
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(["KEYS", "COMMAND", "WHAT IT DOES", "WHERE"].map(Cell::from)),
        widths: vec![
            Constraint::Length(10),
            Constraint::Length(18),
            Constraint::Fill(1),
            Constraint::Length(if area.width >= 120 { 20 } else { 0 }),
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
