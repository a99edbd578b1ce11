//! Cached objects, compressed against a sibling of the same kind.
//!
//! Objects of one kind repeat most of their text: field names, the defaults the API server fills
//! in, and for a template deployed many times nearly everything. Each object is kept as LZ4
//! (lz4_flex: pure Rust) with the first object of its kind as the dictionary, so a Pod of ~1.3 KB
//! of JSON keeps a few hundred bytes. Unpacking costs about a microsecond per KB, next to the
//! parse that follows it anyway.

use std::sync::Arc;

use serde_json::Value;

/// A dictionary larger than this would sit in memory for little gain: LZ4 looks back 64 KiB at
/// most, and an object that big is unlike its siblings anyway.
const MAX_DICTIONARY: usize = 16 * 1024;

/// One cached object: its pruned form as compact JSON, compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedObject {
    /// Shared by every object packed by the same [`Packer`].
    dictionary: Arc<[u8]>,
    packed: Box<[u8]>,
}

impl CachedObject {
    /// The object as the engine reads it. `None` cannot happen for bytes this cache wrote
    /// (it would mean memory corruption), so callers skip the object rather than stop.
    pub fn value(&self) -> Option<Value> {
        let json =
            lz4_flex::block::decompress_size_prepended_with_dict(&self.packed, &self.dictionary)
                .ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// Packs the objects of one kind. The first object small enough becomes the dictionary for all
/// that follow; each object keeps a reference to the dictionary it was packed with, so a new
/// packer (after a watch restart) never invalidates what an old one packed.
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
    fn objects_round_trip_exactly() {
        let mut packer = Packer::default();
        for (name, image) in [("web-0", "nginx:1.27"), ("web-1", "nginx:latest"), ("", "")] {
            let json = pod(name, image);
            let cached = packer.pack(&json);
            let want: Value = serde_json::from_slice(&json).expect("JSON");
            assert_eq!(cached.value(), Some(want), "{name}");
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
    fn a_new_packer_leaves_what_an_old_one_packed_readable() {
        let mut first = Packer::default();
        let json = pod("web-0", "nginx:1.27");
        let old = first.pack(&json);
        drop(first);
        let mut second = Packer::default();
        second.pack(&pod("other", "busybox"));
        assert_eq!(old.value(), serde_json::from_slice(&json).ok());
    }

    #[test]
    fn an_oversized_first_object_is_not_the_dictionary() {
        let mut packer = Packer::default();
        let big = serde_json::to_vec(&json!({"data": "x".repeat(MAX_DICTIONARY)})).expect("JSON");
        packer.pack(&big);
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
