//! The scrollable text pane of the Policies and Reconcile screens (describe, YAML, drift diff,
//! timeline): beside the table on wide terminals, over it on narrow ones.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::State;
use crate::app::screens::Pane;
use crate::theme::Theme;
use crate::views::Screen;

/// Below this width the pane covers the table instead of sharing the width.
const SIDE_BY_SIDE: u16 = 120;

/// A screen's table, and its pane when one is open.
pub fn with_table(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    theme: &Theme,
    screen: Screen,
    table: fn(&mut Frame, Rect, &State, &Theme),
) {
    let open = state.screens.pane(screen);
    let (list, side) = split(area, open);
    if list.width > 0 {
        table(frame, list, state, theme);
    }
    if let (Some(side), Some(open)) = (side, open) {
        render(frame, side, open, theme);
    }
}

/// Where the table and the pane go: the table keeps `area` when no pane is open.
fn split(area: Rect, pane: Option<&Pane>) -> (Rect, Option<Rect>) {
    match pane {
        None => (area, None),
        Some(_) if area.width < SIDE_BY_SIDE => (Rect::ZERO, Some(area)),
        Some(_) => {
            let [table, pane] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(area);
            (table, Some(pane))
        }
    }
}

pub fn render(frame: &mut Frame, area: Rect, pane: &Pane, theme: &Theme) {
    let height = usize::from(area.height.saturating_sub(2));
    let end = (pane.scroll + height).min(pane.lines.len());
    let position = format!(
        " {}-{} of {} ",
        (pane.scroll + 1).min(end),
        end,
        pane.lines.len()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(format!(" {} ", pane.title), theme.title()))
        .title_bottom(Line::from(position).right_aligned());
    let lines: Vec<Line> = pane.lines[pane.scroll.min(end)..end]
        .iter()
        .map(|l| Line::raw(l.as_str()))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
