//! The edit flow's dialog over the body: a diff to confirm, or an outcome to read. Lines that
//! do not fit scroll with ↑/↓ (the temp file holds everything too); the prompt always shows;
//! `+`/`-` diff lines are coloured and keep their sign, so the change reads without colour too.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::edit::ui::Modal;
use crate::theme::Theme;

/// The dialog, its lines from `scroll` on. Lines are wrapped here (not by the paragraph) so
/// what fits is counted exactly: the prompt is always the last line shown.
pub fn draw(frame: &mut Frame, body: Rect, modal: &Modal, scroll: usize, theme: &Theme) {
    let (title, lines) = modal.view();
    let width = body.width.saturating_sub(4).min(110);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let prompt = wrap(&modal.prompt(), inner);
    let rows: Vec<(String, Style)> = lines
        .iter()
        .skip(scroll)
        .flat_map(|l| {
            let style = if l.starts_with("+ ") {
                theme.state("Synced")
            } else if l.starts_with("- ") {
                theme.highlight()
            } else {
                Style::new()
            };
            wrap(l, inner).into_iter().map(move |part| (part, style))
        })
        .collect();
    let wanted = u16::try_from(rows.len() + prompt.len() + 2).unwrap_or(u16::MAX);
    let height = wanted.min(body.height.saturating_sub(2)).max(3);
    let area = Rect {
        x: body.x + (body.width.saturating_sub(width)) / 2,
        y: body.y + (body.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let room = usize::from(height.saturating_sub(2)).saturating_sub(prompt.len());
    let mut text: Vec<Line> = rows
        .iter()
        .take(room)
        .map(|(l, style)| Line::from(Span::styled(l.as_str(), *style)))
        .collect();
    if rows.len() > room && room > 0 {
        text.truncate(room - 1);
        text.push(Line::from("… more below (↓ scrolls)"));
    }
    text.extend(
        prompt
            .into_iter()
            .map(|p| Line::from(Span::styled(p, theme.key()))),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {title} "))
                .title_style(theme.title()),
        ),
        area,
    );
}

/// `line` cut into pieces of at most `width` characters (at least one piece).
fn wrap(line: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use crate::app::state::Request;
    use crate::edit::ui::Modal;
    use crate::testing::{at, render, state, synced, text};
    use crate::theme::Theme;

    #[test]
    fn at_80x24_a_long_dialog_keeps_its_first_lines_and_the_protected_prompt() {
        let mut s = state(vec![synced("production-cluster-eu-west-1")], at(10));
        let mut lines = vec![
            "Apply to GuardianPolicy p in production-cluster-eu-west-1?".to_owned(),
            format!("- {}", "a very long line of the diff that wraps ".repeat(4)),
        ];
        lines.extend((0..40).map(|i| format!("+   rule-{i}")));
        s.modal = Some(Modal::Confirm {
            title: "Apply".to_owned(),
            lines,
            protected: Some("production-cluster-eu-west-1".to_owned()),
            typed: "produ".to_owned(),
            on_yes: Request::RevokeException {
                cluster: 0,
                key: guardian_cluster::write::ObjectKey::exception("a", "b"),
            },
            kept: None,
        });
        let screen = text(&render(&mut s, 80, 24, &Theme::plain()));
        assert!(screen.contains("Apply to GuardianPolicy p"), "{screen}");
        assert!(screen.contains("rule-0"), "{screen}");
        assert!(screen.contains("more below"), "{screen}");
        assert!(
            screen.contains("Esc cancels: produ"),
            "the prompt: {screen}"
        );
        // ↓ scrolls: the first line leaves, later rules come.
        for _ in 0..20 {
            crate::app::update(
                &mut s,
                crate::action::Action::Command(crate::action::Command::Down),
            );
        }
        let screen = text(&render(&mut s, 80, 24, &Theme::plain()));
        assert!(!screen.contains("Apply to GuardianPolicy p"), "{screen}");
        assert!(screen.contains("rule-25"), "{screen}");
        assert!(
            screen.contains("Esc cancels: produ"),
            "the prompt: {screen}"
        );
    }
}
