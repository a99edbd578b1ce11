//! Cached objects, compressed against a sibling of the same kind.
//!
//! Objects of one kind repeat most of their text: field names, the defaults the API server fills
//! in, and for a template deployed many times nearly everything. Each object is kept as LZ4
//! (lz4_flex: pure Rust) with an earlier object of its kind as the dictionary, so a Pod of ~1.3 KB
//! of JSON keeps a few hundred bytes. Unpacking costs about a microsecond per KB, next to the
//! parse that follows it anyway.

use std::sync::Arc;

use serde_json::Value;

/// A dictionary larger than this would sit in memory for little gain: LZ4 looks back 64 KiB at
/// most, and an object that big is unlike its siblings anyway.
const MAX_DICTIONARY: usize = 16 * 1024;

/// One cached object: its pruned form as compact JSON, compressed. Each holds the dictionary it
/// was packed with, so choosing a new one never strands what was packed before.
#[derive(Clone)]
pub struct CachedObject {
    dictionary: Arc<[u8]>,
    packed: Box<[u8]>,
}

// Lengths only: the bytes are compressed JSON, unreadable in a log.
impl std::fmt::Debug for CachedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedObject")
            .field("packed_len", &self.packed.len())
            .field("dictionary_len", &self.dictionary.len())
            .finish()
    }
}

impl CachedObject {
    /// The object as the engine reads it. `None` cannot happen for bytes this cache wrote (it
    /// would mean memory corruption): it is logged, and callers skip the object rather than stop.
    pub fn value(&self) -> Option<Value> {
        // One UTF-8 check of the whole text, then a parse that trusts it: `from_slice` checks
        // each string on its own, about a sixth of the unpack's time.
        let value = self.json().and_then(|json| {
            let text = std::str::from_utf8(&json).ok()?;
            serde_json::from_str(text).ok()
        });
        if value.is_none() {
            tracing::error!(object = ?self, "a cached object does not unpack; skipping it");
        }
        value
    }

    fn json(&self) -> Option<Vec<u8>> {
        lz4_flex::block::decompress_size_prepended_with_dict(&self.packed, &self.dictionary).ok()
    }
}

/// Packs the objects of one kind, choosing as dictionary the first object small enough after
/// each (re)list: a relist starts from the cluster as it is now, so the dictionary does not
/// pin an object deleted long ago or one unlike today's workloads.
#[derive(Debug)]
pub struct Packer {
    dictionary: Arc<[u8]>,
    chosen: bool,
}

impl Default for Packer {
    fn default() -> Self {
        Packer {
            dictionary: Arc::from(&[][..]),
            chosen: false,
        }
    }
}

impl Packer {
    /// Compresses one object's compact JSON.
    pub fn pack(&mut self, json: &[u8]) -> CachedObject {
        if !self.chosen && json.len() <= MAX_DICTIONARY {
            self.dictionary = Arc::from(json);
            self.chosen = true;
        }
        let packed = lz4_flex::block::compress_prepend_size_with_dict(json, &self.dictionary);
        CachedObject {
            dictionary: Arc::clone(&self.dictionary),
            packed: packed.into_boxed_slice(),
        }
    }

    /// A relist begins: the next object packed becomes the dictionary.
    pub fn relist(&mut self) {
        self.chosen = false;
    }
}

#[cfg(any(test, feature = "testing"))]
impl CachedObject {
    /// `value` packed on its own, for tests of what reads the cache.
    pub fn for_tests(value: &Value) -> CachedObject {
        Packer::default().pack(&serde_json::to_vec(value).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, image: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                         "labels": {"app.kubernetes.io/name": "web", "team": "a"}},
            "spec": {
                "containers": [{
                    "name": "app", "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false}
                }],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                "schedulerName": "default-scheduler", "securityContext": {},
                "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
                "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
            }
        }))
        .expect("JSON")
    }

    #[test]
    fn objects_unpack_to_the_same_bytes() {
        let mut packer = Packer::default();
        for (name, image) in [("web-0", "nginx:1.27"), ("web-1", "nginx:latest"), ("", "")] {
            let json = pod(name, image);
            let cached = packer.pack(&json);
            assert_eq!(cached.json().as_deref(), Some(&json[..]), "{name}");
            assert_eq!(cached.value(), serde_json::from_slice(&json).ok(), "{name}");
        }
    }

    #[test]
    fn siblings_keep_a_fraction_of_their_size() {
        let mut packer = Packer::default();
        packer.pack(&pod("web-0", "nginx:1.27"));
        let json = pod("web-1", "registry.example.com/web:2.0.1");
        let cached = packer.pack(&json);
        assert!(
            cached.packed.len() * 4 < json.len(),
            "{} bytes packed from {}",
            cached.packed.len(),
            json.len()
        );
    }

    #[test]
    fn a_relist_chooses_a_new_dictionary_and_old_objects_stay_readable() {
        let mut packer = Packer::default();
        let first = pod("web-0", "nginx:1.27");
        let old = packer.pack(&first);
        packer.pack(&pod("web-1", "nginx:1.27"));
        assert_eq!(&*packer.dictionary, &first[..], "the first object stays");

        packer.relist();
        let after = pod("api-0", "busybox");
        packer.pack(&after);
        assert_eq!(
            &*packer.dictionary,
            &after[..],
            "chosen again after a relist"
        );
        assert_eq!(old.json().as_deref(), Some(&first[..]));
    }

    #[test]
    fn an_oversized_first_object_is_not_the_dictionary() {
        let mut packer = Packer::default();
        let big = serde_json::to_vec(&json!({"data": "x".repeat(MAX_DICTIONARY)})).expect("JSON");
        let cached = packer.pack(&big);
        assert_eq!(cached.json().as_deref(), Some(&big[..]));
        let small = pod("web-0", "nginx:1.27");
        packer.pack(&small);
        assert_eq!(&*packer.dictionary, &small[..]);
    }

    #[test]
    fn corrupt_bytes_give_none_not_a_panic() {
        let mut packer = Packer::default();
        let mut cached = packer.pack(&pod("web-0", "nginx:1.27"));
        // Keep the size prefix (a sane allocation) and garble the LZ4 sequences after it.
        let mut bytes = cached.packed.to_vec();
        bytes[4..].fill(0xff);
        cached.packed = bytes.into_boxed_slice();
        assert_eq!(cached.value(), None);
    }
}
