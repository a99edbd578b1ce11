//! Around every screen: the header (app, scope, read-only badge, one chip per cluster), the
//! filter or palette line, the hint bar from the keymap, and toasts.

use guardian_cluster::{ClusterState, Connection, UnreachableReason};
use k8s_openapi::jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::text::{age, duration};
use crate::app::{Mode, State, update};
use crate::theme::Theme;

/// The badge shown while writes are off.
pub const READONLY_BADGE: &str = " READ-ONLY ";

/// Draws the whole frame.
pub fn draw(frame: &mut Frame, state: &State, theme: &Theme) {
    let [header, body, prompt, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(u16::from(state.mode != Mode::Normal)),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(
        Paragraph::new(header_line(state, theme, header.width)),
        header,
    );
    super::render(frame, body, state, theme);
    if state.mode != Mode::Normal {
        frame.render_widget(Paragraph::new(prompt_line(state, theme)), prompt);
    }
    frame.render_widget(Paragraph::new(hint_line(state, theme, hints.width)), hints);
    toasts(frame, body, state, theme);
    if let Some(modal) = &state.modal {
        super::modal::draw(frame, body, modal, state.dialog_scroll, theme);
    }
}

/// How much a cluster's state says in words; the header shortens it until it fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    /// `Unreachable (refused) stale 42s · retry in 12s`.
    Full,
    /// `Unreachable stale 42s · retry in 12s`.
    Retry,
    /// `Unreachable stale 42s`.
    Stale,
    /// `Unreachable`.
    Name,
}

/// A cluster's state in words, at this detail.
pub fn state_text(connection: &Connection, now: Timestamp, detail: Detail) -> String {
    let mut text = connection.state.name().to_owned();
    if detail == Detail::Name {
        return text;
    }
    if detail == Detail::Full
        && let ClusterState::Unreachable { reason, .. } = &connection.state
    {
        text.push_str(&format!(" ({})", reason_word(*reason)));
    }
    if let Some(stale) = connection.stale_for(now) {
        text.push_str(&format!(" stale {}", duration(stale.as_secs())));
    }
    if detail <= Detail::Retry
        && let Some(retry) = connection.next_retry.filter(|r| *r > now)
    {
        text.push_str(&format!(" · retry in {}", age(retry, now)));
    }
    text
}

fn reason_word(reason: UnreachableReason) -> &'static str {
    match reason {
        UnreachableReason::Refused => "refused",
        UnreachableReason::Dns => "dns",
        UnreachableReason::Timeout => "timeout",
        UnreachableReason::Tls => "tls",
        UnreachableReason::Other => "error",
    }
}

fn header_line<'a>(state: &'a State, theme: &Theme, width: u16) -> Line<'a> {
    let width = usize::from(width);
    let mut line = Line::default();
    for detail in [Detail::Full, Detail::Retry, Detail::Stale, Detail::Name] {
        line = header_with(state, theme, detail);
        if line.width() <= width {
            break;
        }
    }
    line
}

fn header_with<'a>(state: &'a State, theme: &Theme, detail: Detail) -> Line<'a> {
    let mut spans = vec![
        Span::styled(" kube-guardian ", theme.title()),
        Span::raw(format!(" scope: {} ", state.scope_name())),
    ];
    if state.is_readonly() {
        spans.push(Span::styled(READONLY_BADGE, theme.readonly()));
    }
    for cluster in &state.clusters {
        let connection = &cluster.snapshot().connection;
        let style = theme.state(connection.state.name());
        spans.push(Span::raw(format!("  {} ", cluster.context)));
        spans.push(Span::styled("● ", style));
        spans.push(Span::styled(
            state_text(connection, state.now, detail),
            style,
        ));
    }
    Line::from(spans)
}

fn prompt_line<'a>(state: &'a State, theme: &Theme) -> Line<'a> {
    match &state.mode {
        Mode::Normal => Line::default(),
        Mode::Filter { input } => Line::from(vec![
            Span::styled("/", theme.key()),
            Span::raw(input.as_str()),
            Span::styled("▏", theme.key()),
            Span::raw("   (!text excludes, @cluster scopes; enter keeps, esc clears)"),
        ]),
        Mode::Palette { input } => {
            let names: Vec<&str> = update::completions(input)
                .into_iter()
                .map(|s| s.name())
                .collect();
            Line::from(vec![
                Span::styled(":", theme.key()),
                Span::raw(input.as_str()),
                Span::styled("▏", theme.key()),
                Span::raw(format!("   {}", names.join(" "))),
            ])
        }
    }
}

/// The hints that fit whole in `width` (the screen's own come first, see [`Keymap::hints`]).
///
/// [`Keymap::hints`]: crate::keymap::Keymap::hints
fn hint_line<'a>(state: &'a State, theme: &Theme, width: u16) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (keys, label) in state.keymap.hints(state.screen, state.is_readonly()) {
        let keys = format!("<{keys}>");
        let label = format!(" {label}  ");
        used += keys.chars().count() + label.trim_end().chars().count();
        if used > usize::from(width) {
            break;
        }
        used += 2;
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::raw(label));
    }
    Line::from(spans)
}

/// Toasts at the bottom right of the body, newest last.
fn toasts(frame: &mut Frame, body: Rect, state: &State, theme: &Theme) {
    let mut bottom = body.bottom().saturating_sub(1);
    for toast in state.toasts.iter().rev() {
        let width = u16::try_from(toast.text.chars().count() + 2)
            .unwrap_or(u16::MAX)
            .min(body.width);
        if bottom <= body.y {
            break;
        }
        let area = Rect {
            x: body.right().saturating_sub(width + 1),
            y: bottom,
            width,
            height: 1,
        };
        frame.render_widget(Clear, area);
        frame.render_widget(
            Paragraph::new(format!(" {} ", toast.text)).style(theme.toast()),
            area,
        );
        bottom = bottom.saturating_sub(1);
    }
}
