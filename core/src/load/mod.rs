//! Reading manifests as kubectl and the API server do: multi-document YAML (or JSON) text to
//! JSON values, with YAML 1.1 plain scalars, merge keys and bounded alias expansion (see
//! [`yaml`]), and GuardianPolicies and GuardianExceptions from such text ([`policies_from_str`]).
//! Pure: it takes text, never a path, so `check` and the console share it.

mod defaults;
mod fast;
mod json;
mod lines;
mod locate;
mod policies;
mod scalar;
mod yaml;

pub use defaults::apply_api_defaults;
pub use locate::LineIndex;
pub use policies::{DocumentError, Loaded, from_profiles, policies_from_str};

use serde_json::Value;

use crate::Error;

/// One document of a file: its text, the 1-based line it starts on, and its value.
#[derive(Debug)]
pub struct Document<'a> {
    pub text: &'a str,
    pub first_line: usize,
    pub value: Result<Value, Error>,
}

/// Whether the text is JSON rather than YAML (JSON parses several times faster through
/// serde_json, and kubectl too reads a body that starts with `{` as JSON).
fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with(['{', '['])
}

/// Splits YAML text at `---` document markers (and `...` ends); JSON text is one document.
/// Markers are only recognised at column 0, as in the YAML spec.
pub fn split(text: &str) -> Vec<(usize, &str)> {
    if looks_like_json(text) {
        return vec![(1, text)];
    }
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, piece) in lines::split_lines(text).enumerate() {
        // The line with its `\n` (the last line may have none).
        let len = (piece.len() + 1).min(text.len() - offset);
        if !piece.starts_with(['-', '.']) {
            offset += len;
            continue;
        }
        let bare = piece.trim_end_matches('\r');
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "..." || bare.starts_with("... ");
        if is_start || is_end {
            docs.push((start_line, &text[start..offset]));
            if is_start && bare.len() > 3 {
                // `--- {inline: doc}`: the content starts on the marker line itself.
                start = offset + 4;
                start_line = index + 1;
            } else {
                start = offset + len;
                start_line = index + 2;
            }
        }
        offset += len;
    }
    docs.push((start_line, &text[start..]));
    docs.retain(|(_, doc)| !is_blank(doc));
    docs
}

/// Only whitespace and comments: an empty document, not a resource.
fn is_blank(doc: &str) -> bool {
    doc.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    })
}

/// Parses one document; error lines are made absolute to the file. Block-style YAML goes
/// through the fast reader first ([`fast`]), which hands anything it is unsure of, and every
/// error, to the full one.
pub fn parse(text: &str, first_line: usize) -> Result<Value, Error> {
    if !looks_like_json(text)
        && let Some(value) = fast::to_json(text)
    {
        return Ok(value);
    }
    parse_full(text, first_line)
}

/// The fast reader alone: `Some` only for a document it is sure of (for the differential
/// tests and the load bench; [`parse`] is what callers want). Hidden from the docs so no caller
/// bypasses the fallback.
#[doc(hidden)]
pub fn parse_fast(text: &str) -> Option<Value> {
    fast::to_json(text)
}

/// Parses one document with the full reader alone (what [`parse`] falls back to; public for
/// the differential tests and the load bench; hidden from the docs like `parse_fast`).
#[doc(hidden)]
pub fn parse_full(text: &str, first_line: usize) -> Result<Value, Error> {
    let yaml = || {
        yaml::to_json(text).map_err(|(line, message)| Error::Manifest {
            line: line.map(|l| first_line + l.saturating_sub(1)),
            message,
        })
    };
    if !looks_like_json(text) {
        return yaml();
    }
    // Flow-style YAML (`{a: 1}`) also starts with a brace: YAML is the fallback, but a
    // document that is neither reports the JSON error, which is what its author wrote.
    json::from_str(text).or_else(|json_error| {
        yaml().map_err(|_| Error::Manifest {
            line: Some(first_line + json_error.line().saturating_sub(1)),
            message: json_error.to_string(),
        })
    })
}

/// The items of a `kind: List` document (what `kubectl get -o yaml` prints, or any `…List`
/// kind), each to be judged as its own object; `None` for any other document.
pub fn list_items(value: &Value) -> Option<&Vec<Value>> {
    let kind = value.get("kind")?.as_str()?;
    if kind == "List" || kind.ends_with("List") {
        value.get("items")?.as_array()
    } else {
        None
    }
}

impl<'a> Document<'a> {
    /// One document's text (as [`split`] gives it) parsed.
    pub fn parse(first_line: usize, text: &'a str) -> Document<'a> {
        Document {
            text,
            first_line,
            value: parse(text, first_line),
        }
    }
}

/// Splits and parses every document of a text.
pub fn documents(text: &str) -> Vec<Document<'_>> {
    split(text)
        .into_iter()
        .map(|(first_line, doc)| Document::parse(first_line, doc))
        .collect()
}

#[cfg(test)]
mod tests;
