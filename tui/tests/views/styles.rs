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
