//! Namespace labels at admission, failing closed.
//!
//! The namespace cache learns of a new namespace from a watch, a few milliseconds after it was
//! created; a Pod created at once in it can reach the webhook first. Judged with only its name
//! label, a `namespaceSelector` on any other label would not match, and a Deny policy for
//! `env: prod` would admit the Pod. So a namespace the cache does not know yet is waited for
//! briefly, and if it is still unknown every `namespaceSelector` is taken to match it: its
//! policies apply, which can only make the verdict stricter.
//!
//! The wait ([`wait_for_namespace`]) happens once per review, in the request's async task before
//! it takes an evaluation slot, and within the request's deadline: a review naming a namespace
//! that does not exist delays only itself. The evaluation then sees [`FailClosedNamespaces`],
//! which never waits.

use std::time::{Duration, Instant};

use guardian_core::engine::{FailClosed, NamespaceLabels};
use serde::Deserialize;

use super::state::SharedNamespaces;

/// How long an unknown namespace is waited for (at most half of what is left of the request's
/// deadline, so the evaluation keeps the other half).
pub const NAMESPACE_WAIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);

/// Waits until `cache` knows `namespace`, at most until `until`; whether it does.
pub(super) async fn wait_for_namespace(
    cache: &SharedNamespaces,
    namespace: &str,
    until: Instant,
) -> bool {
    loop {
        if cache.with_labels(namespace, &mut |_| true).is_some() {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            // The name comes from the request: not at warn, and cut short.
            let mut name = namespace.escape_debug().to_string();
            super::message::truncate(&mut name, 64);
            tracing::debug!(namespace = %name, "unknown namespace");
            tracing::warn!(
                "a namespace still not in the cache after the wait is judged by every namespaceSelector"
            );
            return false;
        }
        tokio::time::sleep(POLL.min(until - now)).await;
    }
}

/// The namespace a CREATE or UPDATE review's object lives in, as the evaluation will see it
/// (the object's own, else the request's), read without parsing the rest. `None` for other
/// operations or a body that does not say: the evaluation then fails closed without a wait, or
/// refuses the body.
pub(super) fn namespace_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Review {
        request: Option<Request>,
    }
    #[derive(Deserialize)]
    struct Request {
        #[serde(default)]
        operation: Option<String>,
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        object: Option<Object>,
    }
    #[derive(Deserialize)]
    struct Object {
        #[serde(default)]
        metadata: Option<Meta>,
    }
    #[derive(Deserialize)]
    struct Meta {
        #[serde(default)]
        namespace: Option<String>,
    }
    let request = serde_json::from_slice::<Review>(body).ok()?.request?;
    if !matches!(request.operation.as_deref(), Some("CREATE" | "UPDATE")) {
        return None;
    }
    let own = request.object.and_then(|o| o.metadata?.namespace);
    [own, request.namespace]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty())
}

/// The operator's namespace cache as one evaluation sees it: a namespace it does not know
/// matches every `namespaceSelector` (core's rule). Never waits (the router waited before).
pub type FailClosedNamespaces = FailClosed<SharedNamespaces>;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};

    use guardian_core::engine::{Labels, NamespaceMap};

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
    fn the_namespace_is_the_objects_else_the_requests() {
        let of = |v: serde_json::Value| namespace_of(v.to_string().as_bytes());
        let review = |op: &str, object: serde_json::Value| serde_json::json!({"request": {"operation": op, "namespace": "req", "object": object}});
        let own = serde_json::json!({"metadata": {"namespace": "own"}});
        assert_eq!(of(review("CREATE", own.clone())).as_deref(), Some("own"));
        assert_eq!(
            of(review("UPDATE", serde_json::json!({}))).as_deref(),
            Some("req")
        );
        let empty = serde_json::json!({"metadata": {"namespace": ""}});
        assert_eq!(of(review("CREATE", empty)).as_deref(), Some("req"));
        assert_eq!(of(review("DELETE", own)), None);
        assert_eq!(namespace_of(b"{not json"), None);
    }

    #[tokio::test]
    async fn a_namespace_the_cache_learns_of_late_is_judged_by_its_labels() {
        let cache = late(3);
        let until = Instant::now() + Duration::from_secs(60);
        assert!(wait_for_namespace(&cache, "shop", until).await);
        let namespaces = FailClosed(cache);
        assert_eq!(namespaces.with_labels("shop", &mut is_prod), Some(false));
    }

    #[tokio::test]
    async fn a_namespace_that_stays_unknown_matches_every_selector() {
        let cache = late(usize::MAX);
        let until = Instant::now() + Duration::from_millis(60);
        assert!(!wait_for_namespace(&cache, "shop", until).await);
        let namespaces = FailClosed(cache);
        assert_eq!(namespaces.with_labels("shop", &mut is_prod), Some(true));
    }
}
