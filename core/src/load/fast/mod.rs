//! A fast reader for the block-style subset most manifests are written in: block mappings and
//! sequences, plain and quoted one-line scalars, one-line flow collections, comments. It builds
//! the same value as the full reader ([`super::yaml`]) and answers `None` for anything it does
//! not handle or is unsure of (anchors, aliases, tags, block scalars, multi-line scalars or flow
//! collections, tabs, odd indentation, duplicate keys, any error): the full reader then reads
//! the document, so errors and their lines always come from the full reader.
//!
//! Why: the full reader (granit-parser's event stream) was about 40 % of `check`; most
//! documents need none of what makes it general.

mod flow;
mod line;

use serde_json::{Map, Value};

use line::{inline_value, split_key};

/// Deepest nesting (block and flow levels together) the fast reader follows; deeper documents
/// go to the full reader, which stops at 255 levels of either. Also bounds the recursion, so
/// no input can overflow the stack of a `check` worker or the console's UI thread.
const MAX_DEPTH: usize = 64;

/// The document's value, or `None` when the full reader must read it.
pub(super) fn to_json(text: &str) -> Option<Value> {
    if !plain_text(text) {
        return None;
    }
    let lines = lines(text)?;
    let first = lines.first()?;
    let mut reader = Reader {
        lines: &lines,
        pos: 0,
        depth: 0,
    };
    let value = reader.block(first.indent)?;
    (reader.pos == lines.len()).then_some(value)
}

/// No tabs, carriage returns, control characters or characters YAML treats specially (byte
/// order marks, Unicode line breaks, non-printable ones): such text goes to the full reader.
fn plain_text(text: &str) -> bool {
    let ascii_ok = text
        .bytes()
        .all(|b| (b >= b' ' && b != 0x7f) || b == b'\n' || b >= 0x80);
    ascii_ok
        && (text.is_ascii()
            || !text.chars().any(|c| {
                matches!(
                    c,
                    '\u{80}'
                        ..='\u{a0}'
                            | '\u{2028}'
                            | '\u{2029}'
                            | '\u{feff}'
                            | '\u{fffe}'
                            | '\u{ffff}'
                )
            }))
}

/// A meaningful line: its indentation and its content without trailing spaces.
#[derive(Debug)]
struct Line<'a> {
    indent: usize,
    body: &'a str,
}

/// The non-blank, non-comment lines; `None` if a document marker is left in the text.
fn lines(text: &str) -> Option<Vec<Line<'_>>> {
    let mut out = Vec::with_capacity(text.len() / 24);
    for raw in super::lines::split_lines(text) {
        let content = raw.trim_start_matches(' ');
        let body = content.trim_end_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = raw.len() - content.len();
        if indent == 0 && (body.starts_with("---") || body.starts_with("...")) {
            return None;
        }
        out.push(Line { indent, body });
    }
    Some(out)
}

struct Reader<'l, 'a> {
    lines: &'l [Line<'a>],
    pos: usize,
    /// Block collections open around the current line.
    depth: usize,
}

impl Reader<'_, '_> {
    fn indent(&self) -> Option<usize> {
        self.lines.get(self.pos).map(|l| l.indent)
    }

    /// The block node starting on the current line, at `indent`.
    fn block(&mut self, indent: usize) -> Option<Value> {
        let body = self.lines.get(self.pos)?.body;
        if is_dash(body) {
            self.sequence(indent)
        } else {
            self.mapping(indent, Map::new())
        }
    }

    /// A block mapping at `indent` (`map` holds the entries already read, for a mapping that
    /// starts after a sequence item's dash).
    fn mapping(&mut self, indent: usize, mut map: Map<String, Value>) -> Option<Value> {
        self.enter()?;
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent != indent {
                // Deeper here is a continuation or an error: the full reader knows which.
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let (key, rest) = split_key(line.body)?;
            let key = key.resolve()?;
            self.pos += 1;
            let value = self.value_after_key(rest, indent)?;
            insert(&mut map, key, value)?;
        }
        self.depth -= 1;
        Some(Value::Object(map))
    }

    /// One more block level; `None` past [`MAX_DEPTH`] (an early `None` ends the whole read,
    /// so only successful returns leave a level).
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// The value of a key at `indent` whose line goes on with `rest`.
    fn value_after_key(&mut self, rest: &str, indent: usize) -> Option<Value> {
        if rest.is_empty() {
            return match self.indent() {
                Some(next) if next > indent => self.block(next),
                Some(next) if next == indent && is_dash(self.lines[self.pos].body) => {
                    self.sequence(indent)
                }
                _ => Some(Value::Null),
            };
        }
        let value = inline_value(rest, self.depth)?;
        self.ends_here(indent)?;
        Some(value)
    }

    /// A one-line value must not be followed by deeper lines (a multi-line scalar, or an error).
    fn ends_here(&self, indent: usize) -> Option<()> {
        match self.indent() {
            Some(next) if next > indent => None,
            _ => Some(()),
        }
    }

    fn sequence(&mut self, indent: usize) -> Option<Value> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent != indent || !is_dash(line.body) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let after = &line.body[1..];
            let content = after.trim_start_matches(' ');
            self.pos += 1;
            if content.is_empty() || content.starts_with('#') {
                items.push(match self.indent() {
                    Some(next) if next > indent => self.block(next)?,
                    _ => Value::Null,
                });
            } else if is_dash(content) {
                // A sequence in a sequence on one line: rare, left to the full reader.
                return None;
            } else if let Some((key, rest)) = split_key(content) {
                let column = indent + 1 + (after.len() - content.len());
                let key = key.resolve()?;
                let value = self.value_after_key(rest, column)?;
                let mut map = Map::new();
                insert(&mut map, key, value)?;
                items.push(self.mapping(column, map)?);
            } else {
                items.push(inline_value(content, self.depth)?);
                self.ends_here(indent)?;
            }
        }
        self.depth -= 1;
        Some(Value::Array(items))
    }
}

fn is_dash(body: &str) -> bool {
    body == "-" || body.starts_with("- ")
}

/// A key set twice goes to the full reader, which reports it.
pub(super) fn insert(map: &mut Map<String, Value>, key: String, value: Value) -> Option<()> {
    match map.entry(key) {
        serde_json::map::Entry::Vacant(slot) => {
            slot.insert(value);
            Some(())
        }
        serde_json::map::Entry::Occupied(_) => None,
    }
}
