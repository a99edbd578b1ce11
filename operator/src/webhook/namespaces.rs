//! Namespace labels at admission, failing closed.
//!
//! The namespace cache learns of a new namespace from a watch, a few milliseconds after it was
//! created; a Pod created at once in it can reach the webhook first. Judged with only its name
//! label, a `namespaceSelector` on any other label would not match, and a Deny policy for
//! `env: prod` would admit the Pod. So a namespace the cache does not know yet is waited for
//! briefly, and if it is still unknown every `namespaceSelector` is taken to match it: its
//! policies apply, which can only make the verdict stricter.

use std::time::{Duration, Instant};

use guardian_core::engine::{Labels, NamespaceLabels};

use super::state::SharedNamespaces;

/// How long an unknown namespace is waited for (inside the evaluation, which it delays).
pub const NAMESPACE_WAIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);

/// Wraps the operator's namespace cache for the webhook.
pub struct FailClosedNamespaces {
    cache: SharedNamespaces,
    wait: Duration,
}

impl std::fmt::Debug for FailClosedNamespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailClosedNamespaces")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl FailClosedNamespaces {
    pub fn new(cache: SharedNamespaces) -> Self {
        Self::with_wait(cache, NAMESPACE_WAIT)
    }

    pub fn with_wait(cache: SharedNamespaces, wait: Duration) -> Self {
        FailClosedNamespaces { cache, wait }
    }
}

impl NamespaceLabels for FailClosedNamespaces {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        let deadline = Instant::now() + self.wait;
        loop {
            if let Some(matched) = self.cache.with_labels(namespace, check) {
                return Some(matched);
            }
            if Instant::now() >= deadline {
                // The name comes from the request: not at warn, and cut short.
                let mut name = namespace.escape_debug().to_string();
                super::message::truncate(&mut name, 64);
                tracing::debug!(namespace = %name, "unknown namespace");
                tracing::warn!(
                    "a namespace not in the cache after {:?} was judged by every namespaceSelector",
                    self.wait
                );
                return Some(true);
            }
            std::thread::sleep(POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};

    use guardian_core::engine::NamespaceMap;

    use super::*;

    /// A cache that learns of a namespace after a number of lookups.
    struct Late {
        lookups: Mutex<usize>,
        known_after: usize,
        map: NamespaceMap,
    }

    impl NamespaceLabels for Late {
        fn with_labels(
            &self,
            namespace: &str,
            check: &mut dyn FnMut(&dyn Labels) -> bool,
        ) -> Option<bool> {
            let mut n = self.lookups.lock().expect("lock");
            *n += 1;
            if *n > self.known_after {
                self.map.with_labels(namespace, check)
            } else {
                None
            }
        }
    }

    fn late(known_after: usize) -> SharedNamespaces {
        let labels = BTreeMap::from([("env".to_owned(), "dev".to_owned())]);
        Arc::new(Late {
            lookups: Mutex::new(0),
            known_after,
            map: NamespaceMap(HashMap::from([("shop".to_owned(), labels)])),
        })
    }

    fn is_prod(labels: &dyn Labels) -> bool {
        labels.label("env") == Some("prod")
    }

    #[test]
    fn a_namespace_the_cache_learns_of_late_is_judged_by_its_labels() {
        let namespaces = FailClosedNamespaces::new(late(3));
        assert_eq!(namespaces.with_labels("shop", &mut is_prod), Some(false));
    }

    #[test]
    fn a_namespace_that_stays_unknown_matches_every_selector() {
        let namespaces =
            FailClosedNamespaces::with_wait(late(usize::MAX), Duration::from_millis(60));
        assert_eq!(namespaces.with_labels("shop", &mut is_prod), Some(true));
    }
}
