//! The edit flow's dialog over the body: a diff to confirm, or an outcome to read. Lines that
//! do not fit are cut (the temp file holds everything); `+`/`-` diff lines are coloured and
//! keep their sign, so the change reads without colour too.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::edit::ui::Modal;
use crate::theme::Theme;

pub fn draw(frame: &mut Frame, body: Rect, modal: &Modal, theme: &Theme) {
    let (title, lines) = modal.view();
    let width = body.width.saturating_sub(4).min(110);
    let wanted = u16::try_from(lines.len() + 3).unwrap_or(u16::MAX);
    let height = wanted.min(body.height.saturating_sub(2)).max(3);
    let area = Rect {
        x: body.x + (body.width.saturating_sub(width)) / 2,
        y: body.y + (body.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let mut text: Vec<Line> = lines
        .iter()
        .map(|l| {
            let style = if l.starts_with("+ ") {
                theme.state("Synced")
            } else if l.starts_with("- ") {
                theme.highlight()
            } else {
                ratatui::style::Style::new()
            };
            Line::from(Span::styled(l.as_str(), style))
        })
        .collect();
    // The prompt stays visible however long the diff is.
    let room = usize::from(height.saturating_sub(3));
    if text.len() > room {
        text.truncate(room.saturating_sub(1));
        text.push(Line::from("…"));
    }
    text.push(Line::from(Span::styled(modal.prompt(), theme.key())));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {title} "))
                .title_style(theme.title()),
        ),
        area,
    );
}
