//! Word wrapping with a hanging indent, measured in terminal columns.

use std::borrow::Cow;

use textwrap::{Options, WordSeparator, WordSplitter, WrapAlgorithm};

/// Wraps `text` into lines of at most `width` columns. The first line starts with `first`,
/// the following ones with `rest` (the hanging indent).
///
/// Lines break only at ASCII whitespace; runs of spaces between words are kept within a line
/// (so `a  b` stays two spaces apart) and dropped at a break, and a newline or tab counts as one
/// space. Words longer than a line (field paths, URLs) are broken at the column limit, so no line
/// ever exceeds `width` (given prefixes that fit). Join words with U+00A0 to keep them together;
/// callers may turn it back into a space.
pub fn wrap(text: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let options = Options::new(width)
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_separator(WordSeparator::AsciiSpace)
        .word_splitter(WordSplitter::NoHyphenation)
        .wrap_algorithm(WrapAlgorithm::FirstFit)
        .break_words(true);
    textwrap::wrap(&one_paragraph(text), options)
        .into_iter()
        .map(Cow::into_owned)
        .collect()
}

/// textwrap keeps leading spaces and breaks at newlines: here the text is one paragraph, so
/// leading whitespace goes and a whitespace run with a tab or newline becomes one space.
fn one_paragraph(text: &str) -> Cow<'_, str> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let text = text.trim_start_matches(is_space);
    if !text.contains(['\t', '\n', '\r']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_space) {
        out.push_str(&rest[..start]);
        let gap = &rest[start..];
        let end = gap.find(|c: char| !is_space(c)).unwrap_or(gap.len());
        let run = &gap[..end];
        out.push_str(if run.contains(['\t', '\n', '\r']) {
            " "
        } else {
            run
        });
        rest = &gap[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    use super::*;

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
        assert_eq!(wrap(" \t a \t b", "> ", "", 80), vec!["> a b"]);
    }

    #[test]
    fn breaks_overlong_words_at_the_limit() {
        let lines = wrap("x abcdefghijklmnop", "", "  ", 8);
        assert_eq!(lines, vec!["x abcdef", "  ghijkl", "  mnop"]);
        assert!(lines.iter().all(|l| l.width() <= 8));
    }

    #[test]
    fn overlong_paths_start_a_line_and_break_at_the_limit() {
        let lines = wrap("at spec.template.containers[0]", "", "  ", 16);
        assert_eq!(lines, vec!["at", "  spec.template.", "  containers[0]"]);
        assert!(lines.iter().all(|l| l.width() <= 16));
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
