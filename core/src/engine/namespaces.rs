//! A policy's `namespaces` and `excludeNamespaces` lists, indexed once at compile time: every
//! object asks whether its namespace is in them, and a policy may list hundreds.

use std::collections::HashSet;

/// Up to this many names are compared one by one: cheaper than hashing the object's namespace.
const LINEAR_UP_TO: usize = 8;

/// A set of namespace names.
#[derive(Debug, Clone)]
pub(super) enum NamespaceSet {
    Few(Vec<String>),
    Many(HashSet<String>),
}

impl NamespaceSet {
    pub(super) fn new(names: &[String]) -> Self {
        if names.len() <= LINEAR_UP_TO {
            NamespaceSet::Few(names.to_vec())
        } else {
            NamespaceSet::Many(names.iter().cloned().collect())
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        match self {
            NamespaceSet::Few(names) => names.is_empty(),
            NamespaceSet::Many(names) => names.is_empty(),
        }
    }

    pub(super) fn contains(&self, namespace: &str) -> bool {
        match self {
            NamespaceSet::Few(names) => names.iter().any(|n| n == namespace),
            NamespaceSet::Many(names) => names.contains(namespace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("team-{i}")).collect()
    }

    #[test]
    fn short_and_long_lists_answer_alike() {
        for n in [0, 1, LINEAR_UP_TO, LINEAR_UP_TO + 1, 500] {
            let set = NamespaceSet::new(&names(n));
            assert_eq!(set.is_empty(), n == 0);
            assert!(matches!(set, NamespaceSet::Many(_)) == (n > LINEAR_UP_TO));
            for i in 0..n {
                assert!(set.contains(&format!("team-{i}")), "{n}: team-{i}");
            }
            assert!(!set.contains(&format!("team-{n}")));
            assert!(!set.contains("team"));
            assert!(!set.contains(""));
        }
    }
}
