//! Text from manifests and policies printed for people: control characters made visible, so an
//! object name carrying ANSI escapes or a carriage return cannot rewrite the terminal, and
//! bidirectional overrides cannot reorder what a reviewer reads.

use std::borrow::Cow;

/// Replaces control characters (C0, DEL, C1) and Unicode bidirectional controls with `\u{…}`.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    // Printable ASCII (nearly all text) needs no look at its characters one by one.
    if super::is_printable_ascii(text) || !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_keeps_the_rest() {
        assert_eq!(escape_control("web-1"), "web-1");
        assert_eq!(escape_control("ünïcode ✓"), "ünïcode ✓");
        assert_eq!(
            escape_control("a\u{1b}[2Jb\rc\u{9b}d\u{202e}e"),
            "a\\u{1b}[2Jb\\u{d}c\\u{9b}d\\u{202e}e"
        );
    }

    /// The printable-ASCII fast path at its edges: every ASCII character, alone and inside plain
    /// text, is escaped exactly when `needs_escape` says so (DEL and the C0 controls included).
    #[test]
    fn every_ascii_character_matches_the_per_character_reference() {
        let reference = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if needs_escape(c) {
                        format!("\\u{{{:x}}}", u32::from(c))
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        };
        for c in (0u8..0x80).map(char::from) {
            for text in [c.to_string(), format!("web-{c}-1")] {
                assert_eq!(escape_control(&text), reference(&text), "{text:?}");
            }
        }
    }
}
