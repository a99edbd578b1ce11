//! Word wrapping with a hanging indent, measured in terminal columns.
//!
//! Hand-written, not textwrap: textwrap breaks an over-long word only at the column limit or with
//! an inserted hyphen, and field paths must break after a `.` (11,192 table lines of the bench
//! corpus came out cut mid-name, `allowPrivilegeEs` / `calation`).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Terminal columns of `text`: its length when it is printable ASCII (one column a character, as
/// unicode-width counts them), which nearly all report text is; unicode-width otherwise. (Its
/// per-character walk was about a tenth of `check`'s table output.)
fn columns(text: &str) -> usize {
    if super::is_printable_ascii(text) {
        text.len()
    } else {
        text.width()
    }
}

/// Wraps `text` into lines of at most `width` columns. The first line starts with `first`,
/// the following ones with `rest` (the hanging indent).
///
/// Lines break only at ASCII whitespace; runs of spaces between words are kept within a line
/// (so `a  b` stays two spaces apart) and dropped at a break, and a newline or tab counts as one
/// space. Words longer than a line (field paths, URLs) are broken after a `.` or `/` where
/// possible, else at the column limit, so no line ever exceeds `width` (given prefixes that fit).
/// Join words with U+00A0 to keep them together; callers may turn it back into a space.
pub fn wrap(text: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    wrap_each(text, first, rest, width, &mut String::new(), |line| {
        lines.push(line.to_owned());
    });
    lines
}

/// [`wrap`], handing each line to `emit` as it is complete, built in `line` (a buffer the caller
/// reuses): the table prints ~17,500 findings of the bench corpus without a `String` per line.
pub(crate) fn wrap_each(
    text: &str,
    first: &str,
    rest: &str,
    width: usize,
    line: &mut String,
    mut emit: impl FnMut(&str),
) {
    // All printable ASCII (nearly all report text): every piece is one column a byte.
    let ascii = super::is_printable_ascii(text)
        && super::is_printable_ascii(first)
        && super::is_printable_ascii(rest);
    let cols = |piece: &str| if ascii { piece.len() } else { columns(piece) };
    line.clear();
    line.push_str(first);
    let mut line_width = cols(first);
    let rest_width = cols(rest);
    let mut at_line_start = true;
    for (gap, word) in words(text) {
        let word_width = cols(word);
        // A word too long for any line starts right here and is broken below.
        let fits_a_line = rest_width + word_width <= width;
        if !at_line_start && line_width + cols(gap) + word_width > width && fits_a_line {
            emit(line);
            line.clear();
            line.push_str(rest);
            line_width = rest_width;
            at_line_start = true;
        }
        if !at_line_start {
            line.push_str(gap);
            line_width += cols(gap);
        }
        let mut word = word;
        // Break a word that does not fit even on a line of its own.
        while line_width + cols(word) > width {
            let room = width.saturating_sub(line_width);
            let (head, tail) = if ascii {
                split_ascii_word(word, room)
            } else {
                split_word(word, room)
            };
            if head.is_empty() && line_width > rest_width {
                emit(line);
                line.clear();
                line.push_str(rest);
                line_width = rest_width;
                continue;
            }
            if head.is_empty() {
                break; // a prefix as wide as the line: give up rather than loop
            }
            line.push_str(head);
            emit(line);
            line.clear();
            line.push_str(rest);
            line_width = rest_width;
            word = tail;
        }
        line.push_str(word);
        line_width += cols(word);
        at_line_start = false;
    }
    emit(line);
}

/// Words with the whitespace before them (tabs and newlines read as one space).
fn words(text: &str) -> impl Iterator<Item = (&str, &str)> {
    // The separators are ASCII, so byte positions are character boundaries.
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut rest = text;
    std::iter::from_fn(move || {
        let word_start = rest.bytes().position(|b| !is_space(&b))?;
        let gap = &rest[..word_start];
        let after_gap = &rest[word_start..];
        let word_end = after_gap
            .bytes()
            .position(|b| is_space(&b))
            .unwrap_or(after_gap.len());
        let word = &after_gap[..word_end];
        rest = &after_gap[word_end..];
        let gap = if gap.bytes().any(|b| b != b' ') {
            " "
        } else {
            gap
        };
        Some((gap, word))
    })
}

/// Splits `word` so the head fits in `columns`: after the last `.` or `/` that fits, else at
/// the last character that fits.
fn split_word(word: &str, columns: usize) -> (&str, &str) {
    let mut used = 0;
    let mut fit = 0;
    let mut after_separator = None;
    for (index, ch) in word.char_indices() {
        used += ch.width().unwrap_or(0);
        if used > columns {
            break;
        }
        fit = index + ch.len_utf8();
        if matches!(ch, '.' | '/') {
            after_separator = Some(fit);
        }
    }
    let at = after_separator.unwrap_or(fit);
    word.split_at(at)
}

/// [`split_word`] for printable ASCII, one column a byte.
fn split_ascii_word(word: &str, columns: usize) -> (&str, &str) {
    let fit = columns.min(word.len());
    let at = word.as_bytes()[..fit]
        .iter()
        .rposition(|b| matches!(b, b'.' | b'/'))
        .map_or(fit, |i| i + 1);
    word.split_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printable-ASCII fast path at its edges: every ASCII character, alone and inside plain
    /// text, counts as unicode-width counts it (controls and DEL as zero columns).
    #[test]
    fn columns_match_unicode_width_for_every_ascii_character() {
        for c in (0u8..0x80).map(char::from) {
            for text in [c.to_string(), format!("web-{c}-1")] {
                assert_eq!(columns(&text), text.width(), "{text:?}");
            }
        }
    }

    /// The ASCII split answers as the per-character one at every column count.
    #[test]
    fn ascii_split_matches_the_per_character_split() {
        for word in [
            "spec.template.spec.containers[0]",
            "a/b.c",
            "abc",
            "x.",
            ".x",
            "",
        ] {
            for columns in 0..=word.len() + 2 {
                assert_eq!(
                    split_ascii_word(word, columns),
                    split_word(word, columns),
                    "{word:?} at {columns}"
                );
            }
        }
    }

    #[test]
    fn short_text_is_one_line() {
        assert_eq!(wrap("hello world", "> ", "  ", 80), vec!["> hello world"]);
    }

    #[test]
    fn wraps_with_hanging_indent() {
        let lines = wrap("aaa bbb ccc ddd", "- ", "  ", 9);
        assert_eq!(lines, vec!["- aaa bbb", "  ccc ddd"]);
    }

    #[test]
    fn keeps_double_spaces_inside_a_line_and_drops_them_at_breaks() {
        assert_eq!(wrap("rule  message", "", "", 80), vec!["rule  message"]);
        assert_eq!(wrap("abc  def", "", "", 4), vec!["abc", "def"]);
        assert_eq!(wrap("a\n\nb", "", "", 80), vec!["a b"]);
    }

    #[test]
    fn breaks_overlong_words_at_the_limit() {
        let lines = wrap("x abcdefghijklmnop", "", "  ", 8);
        assert_eq!(lines, vec!["x abcdef", "  ghijkl", "  mnop"]);
        assert!(lines.iter().all(|l| l.width() <= 8));
    }

    #[test]
    fn breaks_overlong_paths_after_dots() {
        let lines = wrap("at spec.template.containers[0]", "", "  ", 16);
        assert_eq!(lines, vec!["at spec.", "  template.", "  containers[0]"]);
    }

    #[test]
    fn empty_text_keeps_the_prefix() {
        assert_eq!(wrap("", "fix: ", "  ", 80), vec!["fix: "]);
    }

    #[test]
    fn counts_wide_characters_as_two_columns() {
        let lines = wrap("日本語 日本語", "", "", 7);
        assert_eq!(lines, vec!["日本語", "日本語"]);
    }

    #[test]
    fn no_break_space_keeps_words_together() {
        let lines = wrap("aaaa (line\u{a0}22)", "", "", 12);
        assert_eq!(lines, vec!["aaaa", "(line\u{a0}22)"]);
    }
}
