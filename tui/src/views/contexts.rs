//! Contexts: each selected kubeconfig context with its server, user, connection state and
//! whether it is read-only; `▶` marks the one in scope.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::frame::{Detail, state_text};
use super::policies::cluster_width;
use super::table::{self, Spec};
use crate::app::screens::visible;
use crate::app::{Scope, State};
use crate::theme::Theme;
use crate::views::Screen;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let shown = visible(state, Screen::Contexts);
    let title = format!(" {} ({}) ", Screen::Contexts.title(), state.clusters.len());
    let users = state
        .screens
        .contexts
        .iter()
        .filter_map(|c| c.user.as_ref());
    let user_width = users.map(|u| u.chars().count()).max().unwrap_or(0).max(4);
    let user_width = u16::try_from(user_width).unwrap_or(u16::MAX);
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header: Row::new(["#", "CONTEXT", "SERVER", "USER", "STATE", "MODE"]),
        widths: vec![
            Constraint::Length(1),
            Constraint::Length(cluster_width(state) + 1),
            Constraint::Fill(1),
            Constraint::Length(user_width),
            Constraint::Fill(1),
            Constraint::Length(10),
        ],
        len: shown.len(),
        cursor: state.cursor(Screen::Contexts),
    };
    table::render(frame, area, spec, theme, |i| {
        let Some((index, cluster)) = shown
            .get(i)
            .and_then(|&c| state.clusters.get(c).map(|cluster| (c, cluster)))
        else {
            return Row::default();
        };
        let info = state
            .screens
            .contexts
            .get(index)
            .cloned()
            .unwrap_or_default();
        let connection = &cluster.snapshot().connection;
        let readonly = state.readonly || cluster.readonly;
        let mode = if readonly {
            Span::styled("read-only", theme.readonly())
        } else {
            Span::raw("read-write")
        };
        // The cluster in scope, when one is.
        let scoped = match state.scope {
            Scope::One(one) if one == index => "▶",
            _ => " ",
        };
        let context = format!("{scoped}{}", cluster.context);
        Row::new([
            Cell::from(format!("{}", index + 1)),
            Cell::from(context),
            Cell::from(info.server.unwrap_or_else(|| "-".to_owned())),
            Cell::from(info.user.unwrap_or_else(|| "-".to_owned())),
            Cell::from(Span::styled(
                state_text(connection, state.now, Detail::Full),
                theme.state(connection.state.name()),
            )),
            Cell::from(mode),
        ])
    });
}
