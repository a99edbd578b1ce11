//! One-line flow collections (`{a: 1, b: [x, y]}`), as manifests write small maps and lists.

use serde_json::{Map, Value};

use super::line::{Key, MAX_KEY, plain_value, quoted, starts_plain};
use super::{MAX_DEPTH, insert};

/// A flow collection that closes on its line, with plain, quoted and nested flow values.
pub(super) struct Flow<'a> {
    pub(super) text: &'a str,
    /// Always just after an ASCII byte (a delimiter or a quote), so a char boundary.
    pub(super) pos: usize,
    /// Collections open around `pos`, block levels included.
    pub(super) depth: usize,
}

impl<'a> Flow<'a> {
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn rest(&self) -> Option<&'a str> {
        self.text.get(self.pos..).filter(|r| !r.is_empty())
    }

    pub(super) fn collection(&mut self) -> Option<Value> {
        let open = self.peek()?;
        let close = if open == b'{' { b'}' } else { b']' };
        // Bounds the recursion too: 100,000 `[` must not overflow the stack.
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_spaces();
        let mut map = Map::new();
        let mut items = Vec::new();
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                if open == b'{' {
                    let key = self.key()?;
                    self.skip_spaces();
                    let value = self.value()?;
                    insert(&mut map, key, value)?;
                } else {
                    items.push(self.value()?);
                }
                self.skip_spaces();
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        self.skip_spaces();
                        // A trailing comma: valid YAML, but rare; the full reader reads it.
                        if matches!(self.peek()?, b'}' | b']') {
                            return None;
                        }
                    }
                    b if b == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(if open == b'{' {
            Value::Object(map)
        } else {
            Value::Array(items)
        })
    }

    /// `key: ` inside a flow mapping (the separator's space is required here).
    fn key(&mut self) -> Option<String> {
        let start = self.pos;
        let rest = self.rest()?;
        let key = match rest.as_bytes()[0] {
            b'"' | b'\'' => {
                let (text, end) = quoted(rest)?;
                self.pos += end;
                Key::Quoted(text)
            }
            _ => {
                let end = Self::plain_len(rest)?;
                self.pos += end;
                Key::Plain(rest[..end].trim_end_matches(' '))
            }
        };
        // The key's source up to its `:`, as YAML measures it (see [`MAX_KEY`]).
        if self.pos - start > MAX_KEY || !self.text.as_bytes().get(self.pos..)?.starts_with(b": ") {
            return None;
        }
        self.pos += 2;
        key.resolve()
    }

    fn value(&mut self) -> Option<Value> {
        let rest = self.rest()?;
        match rest.as_bytes()[0] {
            b'{' | b'[' => self.collection(),
            b'"' | b'\'' => {
                let (text, end) = quoted(rest)?;
                self.pos += end;
                Some(Value::String(text))
            }
            _ => {
                let end = Self::plain_len(rest)?;
                self.pos += end;
                let text = rest[..end].trim_end_matches(' ');
                // `[a: 1]` (a one-pair mapping) is left to the full reader.
                if text.ends_with(':') {
                    return None;
                }
                plain_value(text)
            }
        }
    }

    /// The length of a flow plain scalar at the start of `rest`: up to a flow indicator or a
    /// `: ` separator. `None` for what needs the full reader (comments, empty scalars).
    fn plain_len(rest: &str) -> Option<usize> {
        let bytes = rest.as_bytes();
        let (first, second) = (*bytes.first()?, bytes.get(1).copied());
        // `-` before a flow indicator starts no plain scalar in flow context: an error.
        if !starts_plain(first, second)
            || (first == b'-' && matches!(second, Some(b',' | b'[' | b']' | b'{' | b'}')))
        {
            return None;
        }
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b',' | b'[' | b']' | b'{' | b'}' => return Some(i),
                b':' => match bytes.get(i + 1) {
                    Some(b' ') => return Some(i),
                    None | Some(b',' | b'[' | b']' | b'{' | b'}') => return None,
                    _ => {}
                },
                b'#' => return None,
                _ => {}
            }
        }
        None
    }
}
