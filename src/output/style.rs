//! Whether human output is coloured: decided once by the caller, passed to the renderers.

use std::ffi::OsString;

/// Colour on or off for the table format (the machine formats never colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No escape codes at all.
    pub const PLAIN: Style = Style { color: false };
    /// ANSI colours and bold.
    pub const COLOR: Style = Style { color: true };

    /// Colour only on a terminal, with the usual overrides from the environment:
    /// `NO_COLOR` set and non-empty turns colour off (no-color.org) and wins over everything;
    /// `CLICOLOR_FORCE` set, non-empty and not `0` turns it on even when piped;
    /// `CLICOLOR=0` or `TERM=dumb` turn it off on a terminal.
    pub fn detect(stream_is_terminal: bool) -> Style {
        Self::decide(stream_is_terminal, |name| std::env::var_os(name))
    }

    /// The decision of [`Style::detect`] with the environment passed in (testable without
    /// mutating the process environment).
    fn decide(stream_is_terminal: bool, env: impl Fn(&str) -> Option<OsString>) -> Style {
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
        if non_empty("NO_COLOR").is_some() {
            return Style::PLAIN;
        }
        if non_empty("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
            return Style::COLOR;
        }
        if env("CLICOLOR").is_some_and(|v| v == "0") || env("TERM").is_some_and(|v| v == "dumb") {
            return Style::PLAIN;
        }
        Style {
            color: stream_is_terminal,
        }
    }

    /// Writes `text` in `style` when colour is on, plain otherwise.
    pub(crate) fn paint(self, style: anstyle::Style, text: &str) -> String {
        let mut out = String::new();
        self.paint_into(style, text, &mut out);
        out
    }

    /// [`Style::paint`], appended to `out`.
    pub(crate) fn paint_into(self, style: anstyle::Style, text: &str, out: &mut String) {
        if self.color && !style.is_plain() {
            use std::fmt::Write as _;
            let _ = write!(out, "{}{text}{}", style.render(), style.render_reset());
        } else {
            out.push_str(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(terminal: bool, vars: &[(&str, &str)]) -> bool {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        Style::decide(terminal, |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .color
    }

    #[test]
    fn terminal_decides_by_default() {
        assert!(decide(true, &[]));
        assert!(!decide(false, &[]));
    }

    #[test]
    fn no_color_wins_when_non_empty() {
        assert!(!decide(true, &[("NO_COLOR", "1")]));
        assert!(
            !decide(true, &[("NO_COLOR", "0")]),
            "any non-empty value disables"
        );
        assert!(!decide(
            false,
            &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
        ));
        assert!(
            decide(true, &[("NO_COLOR", "")]),
            "empty NO_COLOR is ignored"
        );
    }

    #[test]
    fn clicolor_force_colours_pipes() {
        assert!(decide(false, &[("CLICOLOR_FORCE", "1")]));
        assert!(!decide(false, &[("CLICOLOR_FORCE", "0")]));
        assert!(!decide(false, &[("CLICOLOR_FORCE", "")]));
    }

    #[test]
    fn clicolor_zero_and_dumb_terminal_disable() {
        assert!(!decide(true, &[("CLICOLOR", "0")]));
        assert!(!decide(true, &[("TERM", "dumb")]));
        assert!(decide(
            true,
            &[("CLICOLOR", "1"), ("TERM", "xterm-256color")]
        ));
    }

    #[test]
    fn paint_is_plain_without_colour() {
        let red = anstyle::AnsiColor::Red.on_default();
        assert_eq!(Style::PLAIN.paint(red, "x"), "x");
        assert!(Style::COLOR.paint(red, "x").contains('\u{1b}'));
    }
}
