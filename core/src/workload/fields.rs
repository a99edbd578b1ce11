//! Small typed accessors over JSON maps, so rules read like field access and never panic.

use serde_json::{Map, Value};

/// Typed, non-panicking lookups on a JSON object.
pub trait Fields {
    fn str_field(&self, key: &str) -> Option<&str>;
    fn bool_field(&self, key: &str) -> Option<bool>;
    fn i64_field(&self, key: &str) -> Option<i64>;
    fn map_field(&self, key: &str) -> Option<&Map<String, Value>>;
    /// The array at `key`; missing or non-array yields an empty slice.
    fn list_field(&self, key: &str) -> &[Value];
}

/// The most keys a B-tree leaf holds: a map this small is one node.
const ONE_NODE: usize = 11;

/// `map.get(key)`. In a map of one node it walks the keys comparing lengths first, so it reads
/// the text of only the keys as long as `key`; a B-tree search compares (memcmp) the text of every
/// key it passes, each in a heap block of its own, often not in cache.
pub(crate) fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() > ONE_NODE {
        return map.get(key);
    }
    map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

impl Fields for Map<String, Value> {
    fn str_field(&self, key: &str) -> Option<&str> {
        lookup(self, key).and_then(Value::as_str)
    }

    fn bool_field(&self, key: &str) -> Option<bool> {
        lookup(self, key).and_then(Value::as_bool)
    }

    fn i64_field(&self, key: &str) -> Option<i64> {
        lookup(self, key).and_then(Value::as_i64)
    }

    fn map_field(&self, key: &str) -> Option<&Map<String, Value>> {
        lookup(self, key).and_then(Value::as_object)
    }

    fn list_field(&self, key: &str) -> &[Value] {
        lookup(self, key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_what_get_finds_in_maps_of_one_node_and_more() {
        // Keys of equal length and keys sharing a prefix, in maps below, at and above one node.
        for size in [0, 1, 2, ONE_NODE - 1, ONE_NODE, ONE_NODE + 1, 40] {
            let map: Map<String, Value> = (0..size)
                .map(|i| (format!("k{i:02}"), Value::from(i)))
                .chain((size > 0).then(|| ("k".to_owned(), Value::from("short"))))
                .collect();
            for key in [
                "k", "k00", "k05", "k10", "k11", "k39", "k0", "k000", "", "x",
            ] {
                assert_eq!(lookup(&map, key), map.get(key), "{size} keys, {key:?}");
            }
        }
    }

    #[test]
    fn lookup_finds_what_get_finds_for_odd_keys_and_maps_shrunk_by_removals() {
        // Non-ASCII keys of equal byte length, an empty key, NUL and a combining mark; then the
        // same map grown past one node and shrunk back below it (its nodes as removal left them).
        let odd = [
            "",
            "é",
            "e\u{301}",
            "ä",
            "a\0",
            "\u{1f600}",
            "ab",
            "aé",
            "a",
        ];
        let mut map: Map<String, Value> = odd
            .iter()
            .enumerate()
            .map(|(i, k)| ((*k).to_owned(), Value::from(i)))
            .collect();
        let probe = |map: &Map<String, Value>| {
            for key in odd.iter().copied().chain(["b", "\u{1f601}", "e"]) {
                assert_eq!(
                    lookup(map, key),
                    map.get(key),
                    "{} keys, {key:?}",
                    map.len()
                );
            }
        };
        probe(&map);
        for i in 0..30 {
            map.insert(format!("grown{i:02}"), Value::from(i));
        }
        probe(&map);
        for i in 0..30 {
            map.remove(&format!("grown{i:02}"));
        }
        map.remove("ab");
        assert!(map.len() <= ONE_NODE);
        probe(&map);
    }
}
