//! Colour carries meaning only beside a word, and these cells carry it: a lease `late` (past
//! one duration) in yellow, `stale` (past two) in red; an exception expiring within a week in
//! yellow with `soon`, an expired one in red.

use guardian_tui::action::{Action, Command};
use guardian_tui::app::update;
use guardian_tui::testing::render;
use guardian_tui::theme::Theme;
use guardian_tui::views::Screen;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use crate::fixture;

/// The foreground of the first cell of `word` on the first table line with `on` and `word`.
fn fg(buffer: &Buffer, on: &str, word: &str) -> Option<Color> {
    let width = usize::from(buffer.area.width);
    for (y, row) in buffer.content().chunks(width).enumerate() {
        let line: String = row.iter().map(|c| c.symbol()).collect();
        // Table lines only (the header's chips name the clusters too).
        if !line.starts_with('│') || !line.contains(on) {
            continue;
        }
        let Some(at) = line.find(word) else {
            continue;
        };
        // Symbols are one cell each here (ASCII before the word).
        let x = line[..at].chars().count();
        let (x, y) = (u16::try_from(x).ok()?, u16::try_from(y).ok()?);
        return buffer.cell((x, y)).map(|c| c.fg);
    }
    None
}

#[test]
fn late_and_stale_leases_are_highlighted_in_words_and_colour() {
    let mut state = fixture::fleet();
    update(&mut state, Action::Command(Command::Show(Screen::Leases)));
    let buffer = render(&mut state, 160, 48, &Theme { color: true });
    assert_eq!(fg(&buffer, "demo-a", "late"), Some(Color::Yellow));
    assert_eq!(fg(&buffer, "demo-b", "stale"), Some(Color::LightRed));
    // Without colour the words stay.
    let plain = render(&mut state, 160, 48, &Theme::plain());
    assert_eq!(fg(&plain, "demo-a", "late"), Some(Color::Reset));
}

#[test]
fn soon_expiring_exceptions_are_highlighted() {
    let mut state = fixture::fleet();
    update(&mut state, Action::Command(Command::Show(Screen::Policies)));
    let buffer = render(&mut state, 160, 48, &Theme { color: true });
    assert_eq!(fg(&buffer, "legacy-ledger", "3d soon"), Some(Color::Yellow));
    assert_eq!(fg(&buffer, "vendor-image", "30d"), Some(Color::Reset));
    // An hour later than three days on, it has expired.
    update(
        &mut state,
        Action::Tick(fixture::now() + k8s_openapi::jiff::SignedDuration::from_hours(73)),
    );
    let buffer = render(&mut state, 160, 48, &Theme { color: true });
    assert_eq!(
        fg(&buffer, "legacy-ledger", "expired"),
        Some(Color::LightRed)
    );
}

#[test]
fn pending_policies_carry_the_word_and_the_colour() {
    let mut state = fixture::fleet();
    update(&mut state, Action::Command(Command::Show(Screen::Policies)));
    let buffer = render(&mut state, 160, 48, &Theme { color: true });
    assert_eq!(
        fg(&buffer, "best-practices", "3/2 pending"),
        Some(Color::Yellow)
    );
}

/// Whether `color` is one of the 16 named ANSI colours (or the terminal's default), which every
/// terminal has: no 256-colour index, no RGB.
fn named(color: Color) -> bool {
    !matches!(color, Color::Indexed(_) | Color::Rgb(..))
}

/// Every screen and every pane of the fixture, at 80x24 and 160x48, drawn with `theme`.
fn every_frame(theme: &Theme) -> Vec<(String, Buffer)> {
    let mut frames = Vec::new();
    for (width, height) in [(80, 24), (160, 48)] {
        for screen in Screen::ALL {
            let mut state = fixture::fleet();
            update(&mut state, Action::Command(Command::Show(screen)));
            let name = format!("{}_{width}x{height}", screen.name());
            frames.push((name, render(&mut state, width, height, theme)));
        }
        for (name, screen, nth, command) in crate::PANES {
            let buffer = crate::pane_with(screen, nth, command, (width, height), theme);
            frames.push((format!("{name}_{width}x{height}"), buffer));
        }
    }
    frames
}

#[test]
fn every_screen_uses_only_the_16_named_colours_and_none_without_colour() {
    let mut coloured = 0;
    for (name, buffer) in every_frame(&Theme { color: true }) {
        for cell in buffer.content() {
            assert!(named(cell.fg) && named(cell.bg), "{name}: {cell:?}");
        }
        coloured += buffer
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset)
            .count();
    }
    assert!(coloured > 0, "the fixture draws some colour");
    for (name, buffer) in every_frame(&Theme { color: false }) {
        let reset = |c: &ratatui::buffer::Cell| c.fg == Color::Reset && c.bg == Color::Reset;
        assert!(buffer.content().iter().all(reset), "{name} has colour");
    }
}
