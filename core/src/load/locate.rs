//! Finding the line of a field path in a document's text, lazily (only for reported findings).
//!
//! Block-style YAML (what manifests are written in) is scanned by indentation; where the path
//! leads into flow style or JSON arrays, the line of the deepest field found is returned.

/// One step of a path like `spec.template.spec.containers[0].image`.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// The segments of a path, lazily: `locate` runs for every finding `check` reports, so it
/// allocates nothing.
fn segments(path: &str) -> Segments<'_> {
    Segments { rest: path }
}

struct Segments<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        loop {
            let rest = self.rest;
            if rest.is_empty() {
                return None;
            }
            if let Some(tail) = rest.strip_prefix("[\"") {
                // A quoted map key, e.g. labels["app.kubernetes.io/name"]: dots belong to the key.
                let Some(end) = tail.find("\"]") else {
                    self.rest = "";
                    return None;
                };
                self.rest = &tail[end + 2..];
                return Some(Segment::Key(&tail[..end]));
            } else if let Some(tail) = rest.strip_prefix('[') {
                let Some(end) = tail.find(']') else {
                    self.rest = "";
                    return None;
                };
                self.rest = &tail[end + 1..];
                if let Ok(i) = tail[..end].parse() {
                    return Some(Segment::Index(i));
                }
            } else if let Some(tail) = rest.strip_prefix('.') {
                self.rest = tail;
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                self.rest = &rest[end..];
                return Some(Segment::Key(&rest[..end]));
            }
        }
    }
}

/// A meaningful (non-blank, non-comment) line, parsed just enough.
#[derive(Debug)]
struct Line<'a> {
    index: usize,
    indent: usize,
    dash: bool,
    /// Column where the content after any `- ` starts.
    key_col: usize,
    key: Option<&'a str>,
}

fn parse_line(index: usize, raw: &str) -> Option<Line<'_>> {
    let indent = raw.len() - raw.trim_start_matches(' ').len();
    let content = raw[indent..].trim_end();
    if content.is_empty() || content.starts_with('#') {
        return None;
    }
    let (dash, key_col, body) = match content.strip_prefix('-') {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
            let trimmed = rest.trim_start_matches(' ');
            (true, indent + content.len() - trimmed.len(), trimmed)
        }
        _ => (false, indent, content),
    };
    Some(Line {
        index,
        indent,
        dash,
        key_col,
        key: mapping_key(body),
    })
}

/// The key of `key: value`, `"key": value` or `key:` (quotes removed).
fn mapping_key(body: &str) -> Option<&str> {
    if let Some(quoted) = body.strip_prefix('"').or_else(|| body.strip_prefix('\'')) {
        let end = quoted.find(['"', '\''])?;
        let after = quoted[end + 1..].trim_start();
        return after.starts_with(':').then(|| &quoted[..end]);
    }
    let colon = body
        .find(": ")
        .or_else(|| body.strip_suffix(':').map(str::len))?;
    let key = &body[..colon];
    (!key.starts_with(['{', '[']) && !key.contains(" #")).then_some(key)
}

/// The meaningful lines of one document, parsed once so each finding's lookup is a walk over
/// them rather than a re-scan of the text (a document typically has a dozen findings).
#[derive(Debug)]
pub struct LineIndex<'a> {
    lines: Vec<Line<'a>>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        // Split at `\n` with one line end search per step of many lines; a CRLF line's `\r` is
        // dropped by `parse_line`'s `trim_end`, and a last empty piece is blank, so it yields no
        // line either way.
        let mut lines = Vec::with_capacity(text.len() / 24 + 1);
        lines.extend(
            super::lines::split_lines(text)
                .enumerate()
                .filter_map(|(i, l)| parse_line(i, l)),
        );
        LineIndex { lines }
    }

    /// The 0-based line of `path`, or `None` when not even the first key is found.
    pub fn locate(&self, path: &str) -> Option<usize> {
        let mut block = &self.lines[..];
        let mut found = None;
        for segment in segments(path) {
            let next = match segment {
                Segment::Key(key) => find_key(block, key),
                Segment::Index(i) => find_item(block, i),
            };
            match next {
                Some((line, inner)) => {
                    found = Some(line);
                    block = inner;
                }
                None => break,
            }
        }
        found
    }
}

/// One resolved step of the last path [`LineIndex::locate_each`] walked: its segment, its line
/// and its value's lines.
type Step<'p, 'l, 'a> = (Segment<'p>, usize, &'l [Line<'a>]);

impl<'a> LineIndex<'a> {
    /// The 0-based line of each of `paths` (as [`LineIndex::locate`] gives it), each under
    /// `prefix` when one is given (`items[3]` for a `kind: List` item), passed to `found` in
    /// order. The steps the path before resolved are reused for the segments a path shares with
    /// it, so a document's findings (a dozen under `spec.template.spec.containers[0]`, say) cost
    /// one walk of the common part, and the prefix is never joined to a path.
    pub fn locate_each<'p>(
        &self,
        prefix: Option<&'p str>,
        paths: impl IntoIterator<Item = &'p str>,
        mut found: impl FnMut(Option<usize>),
    ) {
        let mut steps: Vec<Step<'p, '_, 'a>> = Vec::new();
        for path in paths {
            let mut block = &self.lines[..];
            let mut line = None;
            let mut depth = 0;
            for segment in segments(prefix.unwrap_or("")).chain(segments(path)) {
                if let Some((_, at, inner)) = steps.get(depth).filter(|step| step.0 == segment) {
                    (line, block) = (Some(*at), *inner);
                    depth += 1;
                    continue;
                }
                // The last path's steps from here on belong to another segment.
                steps.truncate(depth);
                let next = match segment {
                    Segment::Key(key) => find_key(block, key),
                    Segment::Index(i) => find_item(block, i),
                };
                let Some((at, inner)) = next else { break };
                steps.push((segment, at, inner));
                (line, block) = (Some(at), inner);
                depth += 1;
            }
            found(line);
        }
    }
}

/// Finds `key` among the mapping keys of `block`; returns its line and its value's lines.
fn find_key<'l, 'a>(block: &'l [Line<'a>], key: &str) -> Option<(usize, &'l [Line<'a>])> {
    let col = block.iter().find(|l| l.key.is_some())?.key_col;
    let at = block
        .iter()
        .position(|l| l.key_col == col && l.key == Some(key))?;
    let line = &block[at];
    let rest = &block[at + 1..];
    // A value block is indented deeper, or is a sequence at the key's own indent.
    let len = rest
        .iter()
        .position(|l| !(l.indent > line.key_col || (l.dash && l.indent == line.key_col)))
        .unwrap_or(rest.len());
    Some((line.index, &rest[..len]))
}

/// Finds the `index`-th item of the sequence `block`; returns its line and its lines.
fn find_item<'l, 'a>(block: &'l [Line<'a>], index: usize) -> Option<(usize, &'l [Line<'a>])> {
    let first = block.first()?;
    if !first.dash {
        return None;
    }
    let seq_indent = first.indent;
    let mut starts = block
        .iter()
        .enumerate()
        .filter(|(_, l)| l.dash && l.indent == seq_indent)
        .map(|(i, _)| i);
    let start = starts.nth(index)?;
    let end = starts.next().unwrap_or(block.len());
    Some((block[start].index, &block[start..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate(text: &str, path: &str) -> Option<usize> {
        LineIndex::new(text).locate(path)
    }

    const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the name
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox
      containers:
      - name: app
        image: nginx
      -   name: sidecar
          securityContext:
            privileged: true
          ports: [{containerPort: 80}]
";

    #[test]
    fn locating_many_paths_at_once_gives_each_path_its_own_line() {
        let paths = [
            "spec.template.spec.containers[0].image",
            "spec.template.spec.containers[0].resources.limits",
            "spec.template.spec.containers[0]",
            "spec.template.spec.containers[1].securityContext.privileged",
            "",
            "spec.template.spec.containers[1].ports[0].containerPort",
            "nope.deeper",
            "spec.template.spec.containers[0].image",
            "spec.template.spec.initContainers[0].image",
            "spec.image",
            "metadata.name",
            "spec.template.spec.containers[1]",
        ];
        let index = LineIndex::new(DEPLOY);
        // Forwards, backwards and interleaved, so reused steps meet every kind of neighbour.
        let mut orders: Vec<Vec<&str>> =
            vec![paths.to_vec(), paths.iter().rev().copied().collect()];
        orders.push(
            paths
                .iter()
                .step_by(2)
                .chain(paths.iter().skip(1).step_by(2))
                .copied()
                .collect(),
        );
        for order in orders {
            let mut lines = Vec::new();
            index.locate_each(None, order.iter().copied(), |line| lines.push(line));
            let one_by_one: Vec<_> = order.iter().map(|p| index.locate(p)).collect();
            assert_eq!(lines, one_by_one, "{order:?}");
        }
        // Under a prefix: as if the prefix and the path were one path.
        let list = "items:\n- kind: Pod\n  spec:\n    hostNetwork: true\n- kind: Pod\n  spec:\n    hostPID: true\n";
        let index = LineIndex::new(list);
        let mut lines = Vec::new();
        index.locate_each(
            Some("items[1]"),
            ["spec.hostPID", "", "kind", "spec.hostNetwork"],
            |line| lines.push(line),
        );
        assert_eq!(lines, [Some(6), Some(4), Some(4), Some(5)]);
        assert_eq!(
            lines,
            [
                "items[1].spec.hostPID",
                "items[1]",
                "items[1].kind",
                "items[1].spec.hostNetwork"
            ]
            .map(|p| index.locate(p))
        );
    }

    /// `\r` before each `\n` is left to `parse_line`'s `trim_end`: a CRLF document's paths sit
    /// on the same lines as in its LF twin.
    #[test]
    fn crlf_documents_locate_as_their_lf_twin() {
        let paths = [
            "metadata.name",
            "spec.template.spec.initContainers[0].image",
            "spec.template.spec.containers[0].image",
            "spec.template.spec.containers[1].securityContext.privileged",
            "spec.template.spec.containers[1].ports[0].containerPort",
            "spec.template.spec.containers[1]",
            "nope",
        ];
        let crlf = DEPLOY.replace('\n', "\r\n");
        let (lf_index, crlf_index) = (LineIndex::new(DEPLOY), LineIndex::new(&crlf));
        let (mut lf_lines, mut crlf_lines) = (Vec::new(), Vec::new());
        lf_index.locate_each(None, paths, |line| lf_lines.push(line));
        crlf_index.locate_each(None, paths, |line| crlf_lines.push(line));
        assert_eq!(crlf_lines, lf_lines);
        assert!(lf_lines[..6].iter().all(Option::is_some), "{lf_lines:?}");
    }

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        assert_eq!(locate(DEPLOY, "metadata.name"), Some(3));
        assert_eq!(
            locate(DEPLOY, "spec.template.spec.containers[0].image"),
            Some(12)
        );
        assert_eq!(locate(DEPLOY, "spec.template.spec.containers[1]"), Some(13));
        assert_eq!(
            locate(
                DEPLOY,
                "spec.template.spec.containers[1].securityContext.privileged"
            ),
            Some(15)
        );
        assert_eq!(
            locate(DEPLOY, "spec.template.spec.initContainers[0].image"),
            Some(9)
        );
    }

    #[test]
    fn falls_back_to_the_deepest_field_found() {
        // Missing field: the line of its parent, where it should be added.
        assert_eq!(
            locate(DEPLOY, "spec.template.spec.containers[0].resources.limits"),
            Some(11)
        );
        // Flow style: the line holding the flow collection.
        assert_eq!(
            locate(
                DEPLOY,
                "spec.template.spec.containers[1].ports[0].containerPort"
            ),
            Some(16)
        );
        assert_eq!(locate(DEPLOY, "nope.deeper"), None);
    }

    #[test]
    fn does_not_match_keys_of_deeper_levels() {
        // `image` exists only below containers, never directly under spec.
        assert_eq!(locate(DEPLOY, "spec.image"), Some(4));
    }

    #[test]
    fn pretty_json_keys_are_found() {
        let json = "{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"hostNetwork\": true\n  }\n}\n";
        assert_eq!(locate(json, "spec.hostNetwork"), Some(3));
    }

    #[test]
    fn quoted_map_keys_may_contain_dots() {
        assert_eq!(
            segments(r#"metadata.labels["app.kubernetes.io/name"]"#).collect::<Vec<_>>(),
            vec![
                Segment::Key("metadata"),
                Segment::Key("labels"),
                Segment::Key("app.kubernetes.io/name")
            ]
        );
        let text = "metadata:\n  labels:\n    team: a\n    app.kubernetes.io/name: x\n";
        assert_eq!(
            locate(text, r#"metadata.labels["app.kubernetes.io/name"]"#),
            Some(3)
        );
    }

    #[test]
    fn parses_paths_with_indices() {
        assert_eq!(
            segments("a.b[2].c[0][1]").collect::<Vec<_>>(),
            vec![
                Segment::Key("a"),
                Segment::Key("b"),
                Segment::Index(2),
                Segment::Key("c"),
                Segment::Index(0),
                Segment::Index(1)
            ]
        );
        // Unclosed brackets end the path; an index that is not a number is passed over.
        assert_eq!(
            segments("a[x].b[3").collect::<Vec<_>>(),
            vec![Segment::Key("a"), Segment::Key("b")]
        );
        assert_eq!(
            segments(r#"a["b.c"#).collect::<Vec<_>>(),
            vec![Segment::Key("a")]
        );
    }
}
