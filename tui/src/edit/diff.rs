//! The change an edit makes, as YAML lines: what the confirm dialog shows before anything is
//! written, and what a conflict note says changed on the server.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// Lines of context kept around each change.
const CONTEXT: usize = 2;

/// The object as YAML that reads back equal (see [`super::yaml`]).
pub fn yaml(value: &Value) -> String {
    super::yaml::to_string(value)
}

/// `- ` removed and `+ ` added lines, with a little context (`  `); `…` between hunks; empty
/// when nothing differs.
pub fn lines(before: &Value, after: &Value) -> Vec<String> {
    let (before, after) = (yaml(before), yaml(after));
    let diff = TextDiff::from_lines(&before, &after);
    let mut out = Vec::new();
    for (i, group) in diff.grouped_ops(CONTEXT).iter().enumerate() {
        if i > 0 {
            out.push("…".to_owned());
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => "- ",
                    ChangeTag::Insert => "+ ",
                    ChangeTag::Equal => "  ",
                };
                out.push(format!("{sign}{}", change.value().trim_end_matches('\n')));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_changed_lines_and_their_context_show() {
        let before = json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6});
        let mut after = before.clone();
        after["f"] = json!(7);
        assert_eq!(
            lines(&before, &after),
            ["  d: 4", "  e: 5", "- f: 6", "+ f: 7"]
        );
        assert!(lines(&before, &before).is_empty());
    }
}
