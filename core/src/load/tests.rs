use serde_json::Value;

use super::*;

fn line_of(error: &Error) -> Option<usize> {
    match error {
        Error::Manifest { line, .. } => *line,
        _ => None,
    }
}

#[test]
fn splits_on_markers_with_absolute_lines() {
    let text = "a: 1\n---\nb: 2\nc: 3\n--- # comment\n\n---\nd: 4\n...\n";
    let docs = documents(text);
    let lines: Vec<_> = docs.iter().map(|d| d.first_line).collect();
    assert_eq!(lines, vec![1, 3, 8]);
    assert_eq!(
        docs[1].value.as_ref().ok().and_then(|v| v.get("c")),
        Some(&Value::from(3))
    );
}

#[test]
fn leading_marker_and_inline_documents() {
    let docs = documents("---\na: 1\n--- {b: 2}\n");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].first_line, 2);
    assert_eq!(docs[1].first_line, 3);
    assert_eq!(
        docs[1].value.as_ref().ok().and_then(|v| v.get("b")),
        Some(&Value::from(2))
    );
}

#[test]
fn markers_inside_block_scalars_need_column_zero() {
    let docs = documents("a: |\n  --- not a marker\nb: 1\n");
    assert_eq!(docs.len(), 1);
}

#[test]
fn parse_errors_carry_the_absolute_line() {
    let docs = documents("a: 1\n---\nb: 2\nc: [unclosed\nd: 3\n");
    let err = docs[1].value.as_ref().expect_err("must fail");
    assert!(line_of(err).is_some_and(|l| l >= 4), "{err:?}");
    assert!(!err.to_string().contains("at line"), "{err}");
}

#[test]
fn duplicate_keys_carry_the_absolute_line() {
    let docs = documents("a: 1\n---\nb: 2\nc: 3\nb: 4\n");
    let err = docs[1].value.as_ref().expect_err("must fail");
    assert_eq!(line_of(err), Some(5), "{err:?}");
}

#[test]
fn json_is_one_document() {
    let docs = documents("{\n \"kind\": \"Pod\"\n}\n");
    assert_eq!(docs.len(), 1);
    let err = documents("{\n \"kind\": \"Pod\"\n \"spec\": 1\n}")
        .remove(0)
        .value
        .expect_err("bad json");
    assert_eq!(line_of(&err), Some(3), "{err:?}");
}

#[test]
fn privileged_yes_is_a_privileged_container() {
    let docs = documents(
        "kind: Pod\nspec:\n  hostNetwork: on\n  containers:\n  - name: a\n    securityContext: {privileged: yes}\n",
    );
    let pod = docs[0].value.as_ref().expect("loads");
    assert_eq!(pod["spec"]["hostNetwork"], Value::Bool(true));
    assert_eq!(
        pod["spec"]["containers"][0]["securityContext"]["privileged"],
        Value::Bool(true)
    );
}

#[test]
fn json_duplicate_keys_are_errors_with_their_line() {
    let err = documents("{\n \"kind\": \"Pod\",\n \"kind\": \"Job\"\n}")
        .remove(0)
        .value
        .expect_err("duplicate key");
    assert!(err.to_string().contains("set twice"), "{err}");
    assert_eq!(line_of(&err), Some(3), "{err:?}");
    let ok = documents("{\"a\": [1, 2.5, null, true, {\"b\": \"c\"}]}")
        .remove(0)
        .value;
    assert_eq!(
        ok.ok(),
        Some(serde_json::json!({"a": [1, 2.5, null, true, {"b": "c"}]}))
    );
}

#[test]
fn lists_are_expanded_into_their_items_and_other_kinds_are_not() {
    let list = serde_json::json!({"kind": "List", "items": [{"kind": "Pod"}, {"kind": "Job"}]});
    assert_eq!(list_items(&list).map(Vec::len), Some(2));
    let typed = serde_json::json!({"kind": "PodList", "items": []});
    assert_eq!(list_items(&typed).map(Vec::len), Some(0));
    let pod = serde_json::json!({"kind": "Pod", "items": [{"kind": "Pod"}]});
    assert!(list_items(&pod).is_none());
}

/// `split` as it was written over `str::split_inclusive` (before the line ends were found with
/// `memchr`): the oracle the current one must match, text by text.
fn split_by_std(text: &str) -> Vec<(usize, &str)> {
    if looks_like_json(text) {
        return vec![(1, text)];
    }
    let mut docs = Vec::new();
    let (mut start, mut start_line, mut offset) = (0, 1, 0);
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "..." || bare.starts_with("... ");
        if is_start || is_end {
            docs.push((start_line, &text[start..offset]));
            if is_start && bare.len() > 3 {
                start = offset + 4;
                start_line = index + 1;
            } else {
                start = offset + line.len();
                start_line = index + 2;
            }
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs.retain(|(_, doc)| !is_blank(doc));
    docs
}

#[test]
fn splits_as_the_line_by_line_split_did() {
    let texts = [
        "a: 1\n---\nb: 2\n",
        "a: 1\r\n---\r\nb: 2\r\n...\r\nc: 3",
        "---\na: 1\n--- {b: 2}\n--- \tc: 3\n---\td: 4",
        "a: 1\n---",
        "a: 1\n---\r",
        "a: 1\n...",
        "a: 1\n... # end\n----\n.... x\n-- -\nb: 2\n",
        "ünï: ✓\n---\n- x\n--- ünï\n",
        "\n\n---\n\n",
        "",
        "{\"a\": 1}\n---\n",
    ];
    for text in texts {
        assert_eq!(split(text), split_by_std(text), "{text:?}");
    }
}
