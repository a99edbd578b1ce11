//! One line's pieces in block context: a mapping key, a one-line value, quoted scalars.

use serde_json::Value;

use super::super::scalar::{Scalar, json_of_scalar, key_of_scalar, resolve};
use super::flow::Flow;

/// YAML drops an implicit key whose source, from its first character to its `:`, is longer than
/// 1024 characters (quotes, escapes and spaces included). Counted here in bytes, never fewer
/// than characters, with a margin: longer keys go to the full reader, which reports them.
pub(super) const MAX_KEY: usize = 1000;

/// A mapping key as written.
pub(super) enum Key<'a> {
    Plain(&'a str),
    Quoted(String),
}

impl Key<'_> {
    /// The key as sigs.k8s.io/yaml turns it into a JSON key; the merge key `<<` and keys it
    /// rejects go to the full reader.
    pub(super) fn resolve(self) -> Option<String> {
        match self {
            Key::Quoted(s) => Some(s),
            Key::Plain(text) => {
                let scalar = resolve(text, true, None).ok()?;
                if scalar == Scalar::Merge {
                    return None;
                }
                key_of_scalar(&scalar).ok()
            }
        }
    }
}

/// `key: rest` or `key:`; `None` when the line is not a (simple) mapping entry.
pub(super) fn split_key(body: &str) -> Option<(Key<'_>, &str)> {
    let bytes = body.as_bytes();
    let (key, after) = match *bytes.first()? {
        b'"' | b'\'' => {
            let (text, end) = quoted(body)?;
            // The `:` must follow the quote (checked below), so `end` is the span to it.
            if end > MAX_KEY {
                return None;
            }
            (Key::Quoted(text), &body[end..])
        }
        first if starts_plain(first, bytes.get(1).copied()) => {
            let colon = separator(bytes)?;
            let key = body[..colon].trim_end_matches(' ');
            if colon > MAX_KEY || key.contains(['[', ']', '{', '}', ',']) {
                return None;
            }
            (Key::Plain(key), &body[colon..])
        }
        _ => return None,
    };
    let rest = after.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    Some((key, if rest.starts_with('#') { "" } else { rest }))
}

/// The first `: ` (or `:` at the end) before any comment, in a plain key's line.
fn separator(bytes: &[u8]) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return Some(i),
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            _ => {}
        }
    }
    None
}

/// Whether a plain scalar may start with `first` (then `second`): not on an indicator, except
/// `-` before a non-space (`-1`).
pub(super) fn starts_plain(first: u8, second: Option<u8>) -> bool {
    match first {
        b'-' => !matches!(second, None | Some(b' ')),
        b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
        | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' => false,
        _ => true,
    }
}

/// A one-line value in block context: a quoted or plain scalar or a flow collection.
/// `depth`: the block levels around it, which count against the nesting bound.
pub(super) fn inline_value(text: &str, depth: usize) -> Option<Value> {
    let bytes = text.as_bytes();
    let (value, end) = match *bytes.first()? {
        b'"' | b'\'' => {
            let (s, end) = quoted(text)?;
            (Value::String(s), end)
        }
        b'{' | b'[' => {
            let mut flow = Flow {
                text,
                pos: 0,
                depth,
            };
            let value = flow.collection()?;
            (value, flow.pos)
        }
        first if starts_plain(first, bytes.get(1).copied()) => {
            let end = plain_end(bytes);
            let plain = text[..end].trim_end_matches(' ');
            // `a: b: c` and `a: b:` are errors: the full reader reports them.
            if separator_anywhere(plain.as_bytes()) {
                return None;
            }
            return plain_value(plain);
        }
        _ => return None,
    };
    trailing_comment_only(&bytes[end..])?;
    Some(value)
}

/// Where a block plain scalar ends: at a comment, or the line's end.
fn plain_end(bytes: &[u8]) -> usize {
    (1..bytes.len())
        .find(|&i| bytes[i] == b'#' && bytes[i - 1] == b' ')
        .unwrap_or(bytes.len())
}

fn separator_anywhere(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b':' && matches!(bytes.get(i + 1), None | Some(b' ')))
}

/// After a quoted scalar or a flow collection: nothing, or spaces and a comment.
fn trailing_comment_only(rest: &[u8]) -> Option<()> {
    let trimmed = rest.iter().position(|&b| b != b' ').map(|i| &rest[i..]);
    match trimmed {
        None => Some(()),
        Some(comment) if comment[0] == b'#' && rest[0] == b' ' => Some(()),
        Some(_) => None,
    }
}

/// A plain scalar resolved as go-yaml v2 does; `.inf` and other values JSON cannot hold go to
/// the full reader, which reports them.
pub(super) fn plain_value(text: &str) -> Option<Value> {
    json_of_scalar(resolve(text, true, None).ok()?).ok()
}

/// A quoted scalar that closes on its line: its text and the byte after its closing quote.
/// Escapes other than the common ones go to the full reader.
pub(super) fn quoted(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let quote = bytes[0];
    let mut out = String::new();
    let mut start = 1;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' if quote == b'\'' => {
                out.push_str(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\'') {
                    out.push('\'');
                    i += 2;
                    start = i;
                    continue;
                }
                return Some((out, i + 1));
            }
            b'"' if quote == b'"' => {
                out.push_str(&text[start..i]);
                return Some((out, i + 1));
            }
            b'\\' if quote == b'"' => {
                out.push_str(&text[start..i]);
                out.push(match bytes.get(i + 1)? {
                    b'\\' => '\\',
                    b'"' => '"',
                    b'/' => '/',
                    b'n' => '\n',
                    b't' => '\t',
                    _ => return None,
                });
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}
