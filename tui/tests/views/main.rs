//! The Policies, Reconcile, Leases, Events, Errors and Contexts screens: whole-screen snapshots
//! at 80x24 and 160x48 with an injected clock, the reducer's part for them, and the styles that
//! carry meaning (late/stale leases, soon-expiring exceptions).

mod fixture;
mod reducer;
mod styles;

use guardian_tui::action::{Action, Command};
use guardian_tui::app::{State, update};
use guardian_tui::testing::{render, text};
use guardian_tui::theme::Theme;
use guardian_tui::views::Screen;

/// The fixture on `screen`, as a `width`×`height` terminal shows it.
pub fn shown(state: &mut State, screen: Screen, width: u16, height: u16) -> String {
    update(state, Action::Command(Command::Show(screen)));
    text(&render(state, width, height, &Theme::plain()))
}

macro_rules! snapshots {
    ($($name:ident: $screen:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            for (width, height) in [(80, 24), (160, 48)] {
                let mut state = fixture::fleet();
                let screen = shown(&mut state, $screen, width, height);
                insta::assert_snapshot!(
                    format!("{}_{width}x{height}", stringify!($name)),
                    screen
                );
            }
        }
    )*};
}

snapshots! {
    policies: Screen::Policies,
    reconcile: Screen::Reconcile,
    leases: Screen::Leases,
    events: Screen::Events,
    errors: Screen::Errors,
    contexts: Screen::Contexts,
}

/// A pane opened by `command` on the `nth` line of `screen`, drawn with `theme`.
pub fn pane_with(
    screen: Screen,
    nth: usize,
    command: Command,
    (width, height): (u16, u16),
    theme: &Theme,
) -> ratatui::buffer::Buffer {
    let mut state = fixture::fleet();
    update(&mut state, Action::Command(Command::Show(screen)));
    for _ in 0..nth {
        update(&mut state, Action::Command(Command::Down));
    }
    update(&mut state, Action::Command(command));
    render(&mut state, width, height, theme)
}

/// The panes: Policies line 2 is restricted-security in demo-a (it drifts: Warn in demo-b);
/// Reconcile line 1 is best-practices in demo-b, failed while the console ran.
pub const PANES: [(&str, Screen, usize, Command); 4] = [
    ("drift_diff", Screen::Policies, 2, Command::Select),
    ("yaml", Screen::Policies, 2, Command::Yaml),
    ("describe", Screen::Policies, 0, Command::Describe),
    ("timeline", Screen::Reconcile, 1, Command::Select),
];

#[test]
fn panes() {
    for (name, screen, nth, command) in PANES {
        for (width, height) in [(80, 24), (160, 48)] {
            let buffer = pane_with(screen, nth, command, (width, height), &Theme::plain());
            insta::assert_snapshot!(format!("{name}_{width}x{height}"), text(&buffer));
        }
    }
}
