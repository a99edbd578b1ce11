//! The screens: one file each with `render(frame, area, &State, &Theme)`, the frame around them
//! (header, hint bar, toasts, palette) and the windowed table they share.

pub mod fleet;
pub mod frame;
pub mod help;
pub mod table;
pub mod text;
pub mod violations;

use ratatui::Frame;
use ratatui::layout::Rect;
use serde::{Deserialize, Serialize};

use crate::app::State;
use crate::theme::Theme;

/// A screen. To add one: a variant, its line in each `match` below, a file with `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Screen {
    Fleet,
    Violations,
    Help,
}

impl Screen {
    /// Every screen, in the palette's order.
    pub const ALL: [Screen; 3] = [Screen::Fleet, Screen::Violations, Screen::Help];

    /// The palette name (`:violations`).
    pub fn name(self) -> &'static str {
        match self {
            Screen::Fleet => "fleet",
            Screen::Violations => "violations",
            Screen::Help => "help",
        }
    }

    /// The title shown on the screen's border (plain text: tests look for it).
    pub fn title(self) -> &'static str {
        match self {
            Screen::Fleet => "Fleet",
            Screen::Violations => "Violations",
            Screen::Help => "Help",
        }
    }

    /// The key that opens it from anywhere (Help has `?`, bound as its own command).
    pub fn key(self) -> Option<&'static str> {
        match self {
            Screen::Fleet => Some("F"),
            Screen::Violations => Some("V"),
            Screen::Help => None,
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Screen::Fleet => "screen: Fleet, one row per cluster",
            Screen::Violations => "screen: Violations across the clusters in scope",
            Screen::Help => "screen: Help",
        }
    }

    /// The screen a palette entry names: a full name or an unambiguous prefix.
    pub fn find(text: &str) -> Option<Screen> {
        let text = text.trim().trim_start_matches(':').to_ascii_lowercase();
        if text.is_empty() {
            return None;
        }
        if let Some(exact) = Screen::ALL.into_iter().find(|s| s.name() == text) {
            return Some(exact);
        }
        let mut matches = Screen::ALL
            .into_iter()
            .filter(|s| s.name().starts_with(&text));
        match (matches.next(), matches.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }
}

/// Draws the screen's body into `area` (the frame draws the rest).
pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    match state.screen {
        Screen::Fleet => fleet::render(frame, area, state, theme),
        Screen::Violations => violations::render(frame, area, state, theme),
        Screen::Help => help::render(frame, area, state, theme),
    }
}
