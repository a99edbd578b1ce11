//! The findings array of the JSON report, written straight into a byte buffer in exactly the
//! bytes `serde_json::to_writer_pretty` gives for `[Finding]` nested one level deep.
//!
//! Why: the findings are nearly all of a report (12.9 MB for 1,000 manifests), and serde's
//! pretty printer writes them in small pieces through the `dyn Write` (each indentation step,
//! key and separator is its own call) after a serializer dispatch per field. Here each finding
//! is plain byte appends to one buffer. (Serde does not buffer `Finding`'s flattened outcome:
//! its `FlatMapSerializer` forwards the fields.) Strings are still escaped by serde_json's own
//! escaper, so both ways give the same bytes; the differential tests hold them equal.

use std::io::{self, Write};

use guardian_core::model::{Finding, Outcome, ResourceRef, RuleRef, SourceLocation};

/// The buffer is handed to the writer whenever it holds this much.
const FLUSH_AT: usize = 1 << 16;

/// Writes `findings` as the value of a top-level key (`"findings": ` is already written).
pub fn write(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    if findings.is_empty() {
        return out.write_all(b"[]");
    }
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    buf.extend_from_slice(b"[\n");
    for (i, finding) in findings.iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(b",\n");
        }
        finding_object(&mut buf, finding);
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(b"\n  ]");
    out.write_all(&buf)
}

fn finding_object(buf: &mut Vec<u8>, f: &Finding) {
    const FIELD: &[u8] = b",\n      ";
    // Destructured in full (no `..`), so a field added to `Finding` fails to compile here
    // instead of going missing from the report.
    let Finding {
        rule,
        resource,
        container,
        message,
        path,
        outcome,
        location,
    } = f;
    let RuleRef {
        policy,
        id,
        severity,
        category,
        remediation,
    } = &**rule;
    buf.extend_from_slice(b"    {\n      ");
    key_str(buf, "policy", policy);
    buf.extend_from_slice(FIELD);
    key_str(buf, "rule", id);
    buf.extend_from_slice(FIELD);
    key_str(buf, "severity", severity.as_str());
    buf.extend_from_slice(FIELD);
    key_str(buf, "category", category.as_str());
    buf.extend_from_slice(FIELD);
    self::resource(buf, resource);
    if let Some(container) = container {
        buf.extend_from_slice(FIELD);
        key_str(buf, "container", container);
    }
    buf.extend_from_slice(FIELD);
    key_str(buf, "message", message);
    buf.extend_from_slice(FIELD);
    key_str(buf, "path", path);
    buf.extend_from_slice(FIELD);
    key_str(buf, "remediation", remediation);
    buf.extend_from_slice(FIELD);
    key_str(buf, "result", outcome.as_str());
    match outcome {
        Outcome::Skip {
            exception,
            justification,
        } => {
            buf.extend_from_slice(FIELD);
            key_str(buf, "exception", exception);
            buf.extend_from_slice(FIELD);
            key_str(buf, "justification", justification);
        }
        Outcome::Fail | Outcome::Error => {}
    }
    if let Some(location) = location {
        buf.extend_from_slice(FIELD);
        self::location(buf, location);
    }
    buf.extend_from_slice(b"\n    }");
}

fn resource(buf: &mut Vec<u8>, r: &ResourceRef) {
    const FIELD: &[u8] = b",\n        ";
    let ResourceRef {
        api_version,
        kind,
        namespace,
        name,
    } = r;
    buf.extend_from_slice(b"\"resource\": {\n        ");
    key_str(buf, "apiVersion", api_version);
    buf.extend_from_slice(FIELD);
    key_str(buf, "kind", kind);
    if let Some(namespace) = namespace {
        buf.extend_from_slice(FIELD);
        key_str(buf, "namespace", namespace);
    }
    buf.extend_from_slice(FIELD);
    key_str(buf, "name", name);
    buf.extend_from_slice(b"\n      }");
}

fn location(buf: &mut Vec<u8>, l: &SourceLocation) {
    let SourceLocation { file, line } = l;
    buf.extend_from_slice(b"\"location\": {\n        ");
    key_str(buf, "file", file);
    // Writing to a Vec cannot fail.
    let _ = write!(buf, ",\n        \"line\": {line}");
    buf.extend_from_slice(b"\n      }");
}

/// `"key": "value"`; keys are ASCII identifiers, so they need no escaping.
fn key_str(buf: &mut Vec<u8>, key: &str, value: &str) {
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\": ");
    escaped(buf, value);
}

/// A JSON string as serde_json writes it. Most strings (names, paths, messages) hold nothing
/// serde_json escapes (a control character below 0x20, `"` or a backslash): those are copied between
/// quotes in one append, without a serializer per string.
fn escaped(buf: &mut Vec<u8>, value: &str) {
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.reserve(value.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'"');
        return;
    }
    // A string serializes infallibly, and writing to a Vec cannot fail.
    let _ = serde_json::to_writer(buf, value);
}

#[cfg(test)]
mod tests {
    use super::escaped;

    /// Every ASCII character alone and inside plain text, and non-ASCII text: the fast path and
    /// serde_json's escaper give the same bytes.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0u8..0x80)
            .map(char::from)
            .flat_map(|c| [c.to_string(), format!("web-{c}-1")])
            .collect();
        texts.extend(["", "ünï ✓ \u{2028}", "a\"b\\c", "plain.path[0].image"].map(String::from));
        for text in texts {
            let mut buf = Vec::new();
            escaped(&mut buf, &text);
            let by_serde = serde_json::to_string(&text).expect("a string serializes");
            assert_eq!(String::from_utf8(buf).expect("UTF-8"), by_serde, "{text:?}");
        }
    }
}
