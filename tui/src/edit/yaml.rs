//! YAML for people to edit that reads back exactly as written with the core's loader (YAML
//! 1.1, as kubectl reads manifests): a string stays plain only when no reader could take it for
//! anything else, and is double-quoted otherwise (`on`, `yes`, `1.10`, `0755`, timestamps). A
//! general YAML 1.2 emitter leaves `on` plain, which the loader reads back as `true`: an
//! unchanged file would look edited, and a label would change type.

use serde_json::Value;

/// Words YAML 1.1 reads as booleans or null.
const SPECIAL: [&str; 22] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
];

/// `value` as block YAML (sequences at their key's indentation, as kubectl writes them).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(items, indent, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    let dash = format!("{}- ", " ".repeat(indent));
    for item in items {
        match item {
            Value::Object(inner) if !inner.is_empty() => {
                // The mapping one level in, its first line starting with the dash.
                let mut nested = String::new();
                mapping(inner, indent + 2, &mut nested);
                out.push_str(&dash);
                out.push_str(&nested[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push_str(dash.trim_end());
                out.push('\n');
                sequence(inner, indent + 2, out);
            }
            scalar => {
                out.push_str(&dash);
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// Plain when it starts with a letter (or `_`, `/`), holds only letters, digits and `_./-`,
/// and is no YAML 1.1 boolean or null; else double-quoted (JSON escapes are YAML's).
fn string(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !SPECIAL.contains(&s)
        && !matches!(s, "null" | "Null" | "NULL");
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read_back(text: &str) -> Value {
        let docs = guardian_core::load::documents(text);
        assert_eq!(docs.len(), 1, "{text}");
        docs.into_iter()
            .next()
            .and_then(|d| d.value.ok())
            .unwrap_or_else(|| panic!("does not parse:\n{text}"))
    }

    #[test]
    fn what_is_written_reads_back_equal_with_the_cores_loader() {
        let value = json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": {
                "name": "p", "generation": 3, "uid": "0e6f3a1c-5b2d-4c1e-9f00-1234567890ab",
                "creationTimestamp": "2026-11-29T11:39:42Z",
                "labels": {"enabled": "on", "legacy": "yes", "Y": "n", "version": "1.10",
                           "mode": "0755", "hex": "0x1F", "sexagesimal": "1:20", "empty": "",
                           "tilde": "~", "null": "null", "inf": ".inf", "app.kubernetes.io/name": "web"},
                "annotations": {"note": "a: b # c", "multi": "line one\nline two\n",
                                "quote": "say \"hi\"", "unicode": "é ✓", "tab": "a\tb"}
            },
            "spec": {
                "enforcement": "Audit",
                "match": {"namespaces": [], "selector": {}},
                "rules": [{"id": "pss-privileged"}, {"cel": {"expression": "x > 1", "n": [1, [2, 3]]}}],
                "numbers": [0, -1, 1.5, 1e300],
                "flags": [true, false, null]
            }
        });
        let text = to_string(&value);
        assert_eq!(read_back(&text), value, "{text}");
        assert!(text.contains("  - id: pss-privileged\n"), "{text}");
        assert!(text.contains("    enabled: \"on\"\n"), "{text}");
        assert!(text.contains("  name: p\n"), "{text}");
    }
}
