//! The table every screen uses: only the lines on screen become ratatui `Row`s, so a table of
//! 100,000 lines draws as fast as one of 50.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Row, Table, TableState};

use crate::app::Cursor;
use crate::theme::Theme;

/// Lines of a table inside a bordered block with a header row.
pub fn body_height(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}

/// The lines on screen: from the cursor's offset, one page.
pub fn window(cursor: Cursor, len: usize, height: usize) -> Range<usize> {
    let start = cursor.offset.min(len);
    // Keep the selection visible even when the page shrank since the reducer last clamped.
    let start = if cursor.selected >= start + height && height > 0 {
        cursor.selected + 1 - height
    } else {
        start
    };
    start..(start + height).min(len)
}

/// What a table shows, apart from its lines.
#[derive(Debug)]
pub struct Spec<'a> {
    pub block: Block<'a>,
    pub header: Row<'a>,
    pub widths: Vec<Constraint>,
    /// How many lines the table has.
    pub len: usize,
    pub cursor: Cursor,
}

/// Draws the table; `line(i)` builds line `i`, called only for the lines on screen. Returns
/// the lines shown and where the first of them is drawn (for overlays such as group headers).
pub fn render<'a>(
    frame: &mut Frame,
    area: Rect,
    spec: Spec<'a>,
    theme: &Theme,
    mut line: impl FnMut(usize) -> Row<'a>,
) -> (Range<usize>, Rect) {
    let Spec {
        block,
        header,
        widths,
        len,
        cursor,
    } = spec;
    let shown = window(cursor, len, body_height(area));
    let selected = cursor.selected.checked_sub(shown.start).filter(|_| len > 0);
    let rows: Vec<Row> = shown.clone().map(&mut line).collect();
    let first = Rect {
        x: area.x.saturating_add(1),
        y: area.y.saturating_add(2),
        width: area.width.saturating_sub(2),
        height: 1,
    };
    let table = Table::new(rows, widths)
        .header(header.style(theme.header()))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
    (shown, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_one_page_from_the_offset_and_keeps_the_selection() {
        let at = |selected, offset| Cursor { selected, offset };
        assert_eq!(window(at(0, 0), 100_000, 40), 0..40);
        assert_eq!(window(at(50_010, 50_000), 100_000, 40), 50_000..50_040);
        assert_eq!(window(at(99_999, 99_990), 100_000, 40), 99_990..100_000);
        assert_eq!(
            window(at(60, 0), 100, 40),
            21..61,
            "selection stays on screen"
        );
        assert_eq!(window(at(0, 0), 0, 40), 0..0);
    }
}
