//! One YAML document to JSON, from parser events, the way sigs.k8s.io/yaml converts it for
//! kubectl and the API server (go-yaml v2): YAML 1.1 plain scalars, merge keys applied in
//! document order, aliases expanded within a budget, map keys turned into strings.

use std::collections::HashMap;

use granit_parser::{Event, Options, Parser, ScalarStyle};
use serde_json::{Map, Value};

use super::scalar::{Scalar, Tag, go_float32_g, json_of_scalar, key_of_scalar, resolve};

/// The namespace of the YAML core-schema tags (`!!str` is `tag:yaml.org,2002:str`).
const CORE_TAGS: &str = "tag:yaml.org,2002:";

/// What aliases may add to one document: this much plus eight times the document's size, in
/// bytes of strings plus [`NODE_WEIGHT`] per node. A billion-laughs document of a few KB stops
/// here (or at go-yaml's own alias ratio, below) long before memory runs out.
const ALIAS_BUDGET_BASE: usize = 16 << 20;
const ALIAS_BUDGET_PER_BYTE: usize = 8;
const NODE_WEIGHT: usize = 32;

/// Parses one document (its text alone); `Err` carries a 1-based line within the text.
pub(super) fn to_json(text: &str) -> Result<Value, (Option<usize>, String)> {
    let mut options = Options::default();
    options.emit_comments = false;
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        decoded: 1, // go-yaml counts the document node
        aliased: 0,
        alias_weight: 0,
        alias_budget: ALIAS_BUDGET_BASE
            .saturating_add(text.len().saturating_mul(ALIAS_BUDGET_PER_BYTE)),
        documents: 0,
    };
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|e| (Some(e.marker().line()), e.info()))?;
        builder
            .event(event)
            .map_err(|message| (Some(span.start.line()), message))?;
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

struct Builder {
    stack: Vec<Frame>,
    /// Completed anchored nodes by the parser's anchor id; an alias to an id not here refers to
    /// a node still being built (it contains itself).
    anchors: HashMap<usize, Anchored>,
    root: Option<Value>,
    /// go-yaml v2's decode and alias counters, for its "excessive aliasing" rule.
    decoded: u64,
    aliased: u64,
    alias_weight: usize,
    alias_budget: usize,
    documents: usize,
}

struct Anchored {
    value: Value,
    /// Nodes go-yaml decodes for this subtree, and its weight (see [`NODE_WEIGHT`]).
    cost: u64,
    weight: usize,
}

struct Frame {
    kind: Kind,
    anchor: usize,
    cost: u64,
    weight: usize,
}

enum Kind {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        key: Option<Key>,
    },
}

enum Key {
    Name(String),
    Merge,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err("more than one document where one was expected".to_owned());
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| match t.suffix_in_namespace(CORE_TAGS) {
                    Some(suffix) => Tag::from_core_suffix(&suffix),
                    None => Tag::Other,
                });
                let scalar = resolve(&text, style == ScalarStyle::Plain, tag)?;
                self.count(1)?;
                if self.expecting_key() {
                    let key = match scalar {
                        Scalar::Merge => Key::Merge,
                        other => Key::Name(key_of_scalar(&other)?),
                    };
                    if anchor != 0 {
                        // An anchored key is later usable as a value: keep its string form.
                        let value = match &key {
                            Key::Merge => Value::from("<<"),
                            Key::Name(name) => Value::from(name.as_str()),
                        };
                        self.anchor(anchor, &value, 1, weight_of_str(&text));
                    }
                    self.set_key(key);
                } else {
                    let weight = weight_of_str(&text);
                    let value = json_of_scalar(scalar)?;
                    self.complete(value, anchor, 1, weight)?;
                }
            }
            Event::SequenceStart(_, anchor, _) => {
                self.refuse_collection_key()?;
                self.count(1)?;
                self.stack.push(Frame {
                    kind: Kind::Seq(Vec::new()),
                    anchor,
                    cost: 1,
                    weight: NODE_WEIGHT,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                self.refuse_collection_key()?;
                self.count(1)?;
                self.stack.push(Frame {
                    kind: Kind::Map {
                        map: Map::new(),
                        key: None,
                    },
                    anchor,
                    cost: 1,
                    weight: NODE_WEIGHT,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err("unbalanced collection end".to_owned());
                };
                let value = match frame.kind {
                    Kind::Seq(items) => Value::Array(items),
                    Kind::Map { map, .. } => Value::Object(map),
                };
                self.complete(value, frame.anchor, frame.cost, frame.weight)?;
            }
            Event::Alias(id) => {
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err("an alias refers to the node that contains it".to_owned());
                };
                let (cost, weight) = (anchored.cost, anchored.weight);
                // The alias node itself, then everything it expands to, all counted as aliased.
                self.count(1)?;
                self.aliased = self.aliased.saturating_add(cost);
                self.count(cost)?;
                self.alias_weight = self.alias_weight.saturating_add(weight);
                if self.alias_weight > self.alias_budget {
                    return Err(format!(
                        "aliases expand to more than {} MiB; refusing to expand further",
                        self.alias_budget >> 20
                    ));
                }
                let value = self
                    .anchors
                    .get(&id)
                    .map(|a| a.value.clone())
                    .unwrap_or_default();
                if self.expecting_key() {
                    let key = key_of_value(&value)?;
                    self.set_key(Key::Name(key));
                } else {
                    self.complete(value, 0, cost.saturating_add(1), weight)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// go-yaml v2 fails a document once aliases make up too much of what it decodes.
    fn count(&mut self, nodes: u64) -> Result<(), String> {
        self.decoded = self.decoded.saturating_add(nodes);
        if self.aliased > 100
            && self.decoded > 1000
            && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            return Err("document contains excessive aliasing".to_owned());
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                kind: Kind::Map { key: None, .. },
                ..
            })
        )
    }

    fn refuse_collection_key(&self) -> Result<(), String> {
        if self.expecting_key() {
            return Err("a mapping key must be a scalar, not a mapping or sequence".to_owned());
        }
        Ok(())
    }

    fn set_key(&mut self, new: Key) {
        if let Some(Frame {
            kind: Kind::Map { key, .. },
            ..
        }) = self.stack.last_mut()
        {
            *key = Some(new);
        }
    }

    fn anchor(&mut self, id: usize, value: &Value, cost: u64, weight: usize) {
        if id != 0 {
            self.anchors.insert(
                id,
                Anchored {
                    value: value.clone(),
                    cost,
                    weight,
                },
            );
        }
    }

    /// A finished node: remembered under its anchor, then attached to its parent.
    fn complete(
        &mut self,
        value: Value,
        anchor: usize,
        cost: u64,
        weight: usize,
    ) -> Result<(), String> {
        self.anchor(anchor, &value, cost, weight);
        let Some(parent) = self.stack.last_mut() else {
            if self.root.is_some() {
                return Err("more than one node at the top of the document".to_owned());
            }
            self.root = Some(value);
            return Ok(());
        };
        parent.cost = parent.cost.saturating_add(cost);
        parent.weight = parent.weight.saturating_add(weight);
        match &mut parent.kind {
            Kind::Seq(items) => items.push(value),
            Kind::Map { map, key } => match key.take() {
                Some(Key::Name(name)) => insert(map, name, value)?,
                Some(Key::Merge) => merge(map, value)?,
                // Only scalars and aliases fill a key, and neither reaches here.
                None => return Err("a mapping key must be a scalar".to_owned()),
            },
        }
        Ok(())
    }
}

/// A key set twice in one mapping, whether written twice or brought in by a merge key, is what
/// the API server's strict field validation (kubectl's default, `--validate=strict`) rejects:
/// "key already set in map". So it is an error here too, never a silent last-one-wins.
fn insert(map: &mut Map<String, Value>, name: String, value: Value) -> Result<(), String> {
    // One search of the map per key (`entry`), not two (`contains_key`, then `insert`).
    match map.entry(name) {
        serde_json::map::Entry::Vacant(slot) => {
            slot.insert(value);
            Ok(())
        }
        serde_json::map::Entry::Occupied(slot) => Err(format!(
            "mapping key {:?} is set twice (written twice, or also brought in by a merge key `<<`); \
             kubectl apply and the API server reject duplicate fields",
            slot.key()
        )),
    }
}

/// go-yaml v2's merge: the entries of a mapping, or of each mapping of a sequence, are written
/// into the mapping where the `<<` key stands.
fn merge(map: &mut Map<String, Value>, value: Value) -> Result<(), String> {
    const WANT_MAP: &str = "map merge requires map or sequence of maps as the value";
    match value {
        Value::Object(entries) => entries.into_iter().try_for_each(|(k, v)| insert(map, k, v)),
        Value::Array(items) => {
            if !items.iter().all(Value::is_object) {
                return Err(WANT_MAP.to_owned());
            }
            // go-yaml walks the list backwards (earlier maps would win without strict checks).
            for item in items.into_iter().rev() {
                if let Value::Object(entries) = item {
                    entries
                        .into_iter()
                        .try_for_each(|(k, v)| insert(map, k, v))?;
                }
            }
            Ok(())
        }
        _ => Err(WANT_MAP.to_owned()),
    }
}

/// go-yaml v2's `allowedAliasRatio`: 99 % for small documents down to 10 % past 4 M nodes.
fn allowed_alias_ratio(decoded: u64) -> f64 {
    const START: f64 = 400_000.0;
    const END: f64 = 4_000_000.0;
    let decoded = decoded as f64;
    if decoded <= START {
        0.99
    } else if decoded >= END {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - START) / (END - START))
    }
}

fn weight_of_str(text: &str) -> usize {
    NODE_WEIGHT.saturating_add(text.len())
}

fn key_of_value(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(i.to_string()),
            (None, Some(f)) if n.is_f64() => Ok(go_float32_g(f)),
            _ => Err(format!(
                "mapping key {n} is beyond the signed 64-bit range; the API server rejects it"
            )),
        },
        Value::Null => Err("a mapping key is null; the API server rejects it".to_owned()),
        _ => Err("a mapping key must be a scalar, not a mapping or sequence".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        to_json(text).unwrap_or_else(|e| panic!("{text:?} does not load: {e:?}"))
    }

    fn error(text: &str) -> (Option<usize>, String) {
        to_json(text).expect_err("must not load")
    }

    #[test]
    fn plain_scalars_resolve_as_yaml_1_1_and_quoted_ones_stay_strings() {
        let v = json("a: yes\nb: 'yes'\nc: \"on\"\nd: off\ne: 0755\nf: ~\ng: |\n  no\n");
        assert_eq!(
            v,
            serde_json::json!({"a": true, "b": "yes", "c": "on", "d": false, "e": 493, "f": null, "g": "no\n"})
        );
    }

    #[test]
    fn whole_floats_read_back_as_integers() {
        assert_eq!(
            json("a: 3.0\nb: 1.5\nc: 1e3"),
            serde_json::json!({"a": 3, "b": 1.5, "c": 1000})
        );
        assert!(error("a: .inf").1.contains("not a JSON number"));
    }

    #[test]
    fn keys_become_strings_as_sigs_yaml_does() {
        assert_eq!(
            json("1: a\nyes: b\n1.5: c\n0x10: d\n1e6: e\n"),
            serde_json::json!({"1": "a", "true": "b", "1.5": "c", "16": "d", "1e+06": "e"})
        );
        assert!(error("~: a").1.contains("null"));
        assert!(error("? [a]\n: b").1.contains("scalar"));
    }

    #[test]
    fn merge_keys_apply_in_document_order() {
        // (`y` would be a key `true`: YAML 1.1 again.)
        let v = json("base: &b {x: 1, w: 2}\nm:\n  <<: *b\n  z: 3\nq: {'<<': 1}\n");
        assert_eq!(v["m"], serde_json::json!({"x": 1, "w": 2, "z": 3}));
        assert_eq!(v["q"], serde_json::json!({"<<": 1}));
        let v = json("a: &a {x: 1}\nb: &b {w: 2}\nm:\n  <<: [*a, *b]\n");
        assert_eq!(v["m"], serde_json::json!({"x": 1, "w": 2}));
        // Overriding a merged key is a duplicate to the API server's strict decoding.
        for text in [
            "a: &a {x: 1}\nm:\n  <<: *a\n  x: 2\n",
            "a: &a {x: 1}\nm:\n  x: 2\n  <<: *a\n",
            "a: &a {x: 1}\nm:\n  <<: [*a, {x: 3}]\n",
        ] {
            assert!(error(text).1.contains("set twice"), "{text}");
        }
        assert!(error("m:\n  <<: 1\n").1.contains("map merge"));
    }

    #[test]
    fn anchors_expand_and_recursion_is_an_error() {
        assert_eq!(
            json("a: &x [1, 2]\nb: *x\n")["b"],
            serde_json::json!([1, 2])
        );
        assert!(error("a: &x [*x]\n").1.contains("contains it"));
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let (_, message) = error(&text);
        assert!(
            message.contains("aliasing") || message.contains("aliases expand"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_carry_lines() {
        let (line, message) = error("a: 1\nb: 2\na: 3\n");
        assert_eq!(line, Some(3));
        assert!(message.contains("set twice"), "{message}");
        let (line, _) = error("a: 1\nb: [unclosed\nc: 3\n");
        assert!(line.is_some_and(|l| l >= 2), "{line:?}");
    }
}
