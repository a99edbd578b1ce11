//! The screens: one file each with `render(frame, area, &State, &Theme)`, the frame around them
//! (header, hint bar, toasts, palette) and the windowed table they share.

pub mod contexts;
pub mod detail;
pub mod errors;
pub mod events;
pub mod fleet;
pub mod frame;
pub mod help;
pub mod leases;
pub mod modal;
pub mod pane;
pub mod policies;
pub mod reconcile;
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
    Policies,
    Reconcile,
    Leases,
    Events,
    Errors,
    Contexts,
    Help,
}

impl Screen {
    /// Every screen, in the palette's order.
    pub const ALL: [Screen; 9] = [
        Screen::Fleet,
        Screen::Violations,
        Screen::Policies,
        Screen::Reconcile,
        Screen::Leases,
        Screen::Events,
        Screen::Errors,
        Screen::Contexts,
        Screen::Help,
    ];

    /// The palette name (`:violations`).
    pub fn name(self) -> &'static str {
        match self {
            Screen::Fleet => "fleet",
            Screen::Violations => "violations",
            Screen::Policies => "policies",
            Screen::Reconcile => "reconcile",
            Screen::Leases => "leases",
            Screen::Events => "events",
            Screen::Errors => "errors",
            Screen::Contexts => "contexts",
            Screen::Help => "help",
        }
    }

    /// The title shown on the screen's border (plain text: tests look for it).
    pub fn title(self) -> &'static str {
        match self {
            Screen::Fleet => "Fleet",
            Screen::Violations => "Violations",
            Screen::Policies => "Policies",
            Screen::Reconcile => "Reconcile",
            Screen::Leases => "Leases",
            Screen::Events => "Events",
            Screen::Errors => "Errors",
            Screen::Contexts => "Contexts",
            Screen::Help => "Help",
        }
    }

    /// The key that opens it from anywhere (Help has `?`, bound as its own command).
    pub fn key(self) -> Option<&'static str> {
        match self {
            Screen::Fleet => Some("F"),
            Screen::Violations => Some("V"),
            Screen::Policies => Some("p"),
            Screen::Reconcile => Some("R"),
            Screen::Leases => Some("L"),
            Screen::Events => Some("E"),
            Screen::Errors => Some("X"),
            Screen::Contexts => Some("K"),
            Screen::Help => None,
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Screen::Fleet => "screen: Fleet, one row per cluster",
            Screen::Violations => "screen: Violations across the clusters in scope",
            Screen::Policies => "screen: Policies and exceptions, with drift across clusters",
            Screen::Reconcile => "screen: Reconcile, the operator's outcome per policy",
            Screen::Leases => "screen: Leases, the operator's leader per cluster",
            Screen::Events => "screen: Events, Warning Events and changes seen",
            Screen::Errors => "screen: Errors, the console's own error log",
            Screen::Contexts => "screen: Contexts, server, user, state, read-only",
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
        Screen::Policies => policies::render(frame, area, state, theme),
        Screen::Reconcile => reconcile::render(frame, area, state, theme),
        Screen::Leases => leases::render(frame, area, state, theme),
        Screen::Events => events::render(frame, area, state, theme),
        Screen::Errors => errors::render(frame, area, state, theme),
        Screen::Contexts => contexts::render(frame, area, state, theme),
        Screen::Help => help::render(frame, area, state, theme),
    }
}
