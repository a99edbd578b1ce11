//! The keys of a securityContext (the pod's or a container's) that the rules read, found in one
//! pass over it when the view is built: a dozen rules read them at each site, and each lookup in
//! the parsed map compared keys stored elsewhere on the heap.

use serde_json::{Map, Value};

/// The keys found in the pass, in [`slot`] order.
const KEYS: [&str; 12] = [
    "allowPrivilegeEscalation",
    "appArmorProfile",
    "capabilities",
    "privileged",
    "procMount",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "sysctls",
    "windowsOptions",
];

/// The slot of a key of [`KEYS`]; inlined, so a literal key resolves at compile time.
#[inline(always)]
fn slot(key: &str) -> Option<usize> {
    Some(match key {
        "allowPrivilegeEscalation" => 0,
        "appArmorProfile" => 1,
        "capabilities" => 2,
        "privileged" => 3,
        "procMount" => 4,
        "readOnlyRootFilesystem" => 5,
        "runAsNonRoot" => 6,
        "runAsUser" => 7,
        "seLinuxOptions" => 8,
        "seccompProfile" => 9,
        "sysctls" => 10,
        "windowsOptions" => 11,
        _ => return None,
    })
}

/// A securityContext with its usual keys found once.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityContext<'a> {
    map: Option<&'a Map<String, Value>>,
    found: [Option<&'a Value>; KEYS.len()],
}

impl<'a> SecurityContext<'a> {
    pub fn new(map: Option<&'a Map<String, Value>>) -> Self {
        let mut found = [None; KEYS.len()];
        for (key, value) in map.into_iter().flatten() {
            if let Some(i) = slot(key) {
                found[i] = Some(value);
            }
        }
        SecurityContext { map, found }
    }

    /// The securityContext itself, when set and an object.
    pub fn map(&self) -> Option<&'a Map<String, Value>> {
        self.map
    }

    /// The value of one key: from the pass for the usual keys, else looked up.
    #[inline(always)]
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        match slot(key) {
            Some(i) => self.found[i],
            None => self.map?.get(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_answers_as_a_lookup_would() {
        let mut sc = Map::new();
        for (i, key) in KEYS.iter().enumerate() {
            assert_eq!(slot(key), Some(i), "{key}");
            sc.insert((*key).to_owned(), json!(i));
        }
        sc.insert("seLinuxChangePolicy".to_owned(), json!("Recursive"));
        let view = SecurityContext::new(Some(&sc));
        for key in KEYS
            .iter()
            .copied()
            .chain(["seLinuxChangePolicy", "missing"])
        {
            assert_eq!(view.get(key), sc.get(key), "{key}");
        }
        let empty = SecurityContext::new(None);
        assert!(empty.map().is_none());
        assert_eq!(empty.get("privileged"), None);
        assert_eq!(empty.get("other"), None);
    }
}
