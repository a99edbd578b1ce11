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

/// A pane opened by `command` on the `nth` line of `screen`.
fn pane(screen: Screen, nth: usize, command: Command, width: u16, height: u16) -> String {
    let mut state = fixture::fleet();
    update(&mut state, Action::Command(Command::Show(screen)));
    for _ in 0..nth {
        update(&mut state, Action::Command(Command::Down));
    }
    update(&mut state, Action::Command(command));
    text(&render(&mut state, width, height, &Theme::plain()))
}

#[test]
fn panes() {
    // Policies: line 2 is restricted-security in demo-a (it drifts: Warn in demo-b).
    insta::assert_snapshot!(
        "drift_diff_160x48",
        pane(Screen::Policies, 2, Command::Select, 160, 48)
    );
    insta::assert_snapshot!(
        "yaml_160x48",
        pane(Screen::Policies, 2, Command::Yaml, 160, 48)
    );
    insta::assert_snapshot!(
        "describe_80x24",
        pane(Screen::Policies, 0, Command::Describe, 80, 24)
    );
    // Reconcile: line 1 is best-practices in demo-b, failed while the console ran.
    insta::assert_snapshot!(
        "timeline_160x48",
        pane(Screen::Reconcile, 1, Command::Select, 160, 48)
    );
}
