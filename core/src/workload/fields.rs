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

impl Fields for Map<String, Value> {
    fn str_field(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    fn bool_field(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    fn i64_field(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_i64)
    }

    fn map_field(&self, key: &str) -> Option<&Map<String, Value>> {
        self.get(key).and_then(Value::as_object)
    }

    fn list_field(&self, key: &str) -> &[Value] {
        self.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}
