//! Which cached objects are evaluated themselves and which through their owner.
//!
//! An object is evaluated through its owner only when its controller ownerReference names the
//! kind whose template Kubernetes' own controllers make it from (a Pod: apps/v1 ReplicaSet,
//! StatefulSet or DaemonSet, batch/v1 Job; a ReplicaSet: apps/v1 Deployment; a Job: batch/v1
//! CronJob) and that very object (same uid) is in the cache, evaluated itself or in turn through
//! its own owner. Such objects are *parked*: only their key and their owner's key are kept, not
//! their body, so the common case (a Deployment's ReplicaSets and Pods, a CronJob's Jobs) keeps
//! memory flat. Anything else (a Pod of a CRD operator, a Pod that claims a ConfigMap or a
//! Deployment as owner, a Deployment that claims a StatefulSet, an object that claims itself, an
//! owner with another uid, an owner not seen yet, a Pod with ephemeral containers, which no
//! template holds) is evaluated itself: anyone who can read a uid
//! can write an ownerReference, and a claim the owner's template does not cover would hide the
//! object from the audit.
//!
//! Owners come and go: an object waiting for its owner is parked when the owner arrives (its
//! body dropped), and the children parked under an owner that disappears become *orphans*,
//! fetched again and evaluated themselves unless the garbage collector deletes them first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kube::api::DynamicObject;

use super::{CacheChange, CachedObject, ObjectKey, kind_name};

/// A controller ownerReference to a watched workload kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OwnerRef {
    pub key: ObjectKey,
    pub uid: Box<str>,
}

/// One object as the index receives it; `body` is `None` when it was expected to be parked.
#[derive(Debug)]
pub(super) struct Entry {
    pub key: ObjectKey,
    pub uid: Box<str>,
    pub controller: Option<OwnerRef>,
    pub body: Option<Arc<CachedObject>>,
}

/// The owner kind whose template makes objects of kind `child` (apiVersion, kind of the owner
/// reference), or `None` when that pair is no controller chain. An owner always ranks above its
/// child (CronJob, Deployment > Job, ReplicaSet, StatefulSet, DaemonSet > Pod), so a chain of
/// these pairs never leads back to where it started: no object is parked under itself, nor
/// under an object parked under it.
fn owner_kind(child: &str, api_version: &str, kind: &str) -> Option<&'static str> {
    match (child, api_version, kind) {
        ("Pod", "apps/v1", "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("Pod", "batch/v1", "Job")
        | ("ReplicaSet", "apps/v1", "Deployment")
        | ("Job", "batch/v1", "CronJob") => Some(kind_name(kind)),
        _ => None,
    }
}

/// The controller of `obj` (of kind `child`) when it is the kind whose template makes it (owners
/// share the namespace), unless `obj` is a Pod with ephemeral containers.
pub(super) fn controller_of(obj: &DynamicObject, child: &str) -> Option<OwnerRef> {
    // A container added by `kubectl debug` is in no template: such a Pod is judged itself.
    if child == "Pod"
        && obj.data["spec"]["ephemeralContainers"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    {
        return None;
    }
    let owner = obj
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    Some(OwnerRef {
        key: ObjectKey {
            kind: owner_kind(child, &owner.api_version, &owner.kind)?,
            namespace: obj.metadata.namespace.clone().unwrap_or_default(),
            name: owner.name.clone(),
        },
        uid: owner.uid.as_str().into(),
    })
}

/// Every workload object the operator knows, and how it is evaluated.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// Objects evaluated themselves, with their bodies.
    pub objects: HashMap<ObjectKey, Arc<CachedObject>>,
    /// The uid of every known object of an owner kind, evaluated itself or parked.
    owners: HashMap<ObjectKey, Box<str>>,
    /// Objects evaluated through their owner: child → owner.
    parked: HashMap<ObjectKey, ObjectKey>,
    /// Objects evaluated themselves until their (watched-kind) owner shows up: owner → children
    /// with the uid they expect, and child → owner to undo it.
    waiting: HashMap<ObjectKey, Vec<(ObjectKey, Box<str>)>>,
    waiting_for: HashMap<ObjectKey, ObjectKey>,
    /// Parked objects whose owner went away, to be fetched and evaluated themselves.
    orphans: HashSet<ObjectKey>,
    /// Set when orphans were added, until the caller takes note.
    new_orphans: bool,
}

impl Index {
    /// Adds or replaces one object.
    pub fn apply(&mut self, entry: Entry, changes: &mut Vec<CacheChange>) {
        let Entry {
            key,
            uid,
            controller,
            body,
        } = entry;
        self.unlink(&key);
        if key.kind != "Pod" {
            let known = self.owners.insert(key.clone(), uid.clone());
            if known.as_deref() != Some(&*uid) {
                // Replaced by another object of the same name: its children are not ours.
                if known.is_some() {
                    let children = self.parked_under(|owner| *owner == key);
                    self.orphan(children);
                }
                self.adopt_waiting(&key, &uid, changes);
            }
        }
        match controller {
            Some(owner) if self.owners.get(&owner.key) == Some(&owner.uid) => {
                let old = self.objects.remove(&key);
                self.parked.insert(key, owner.key);
                if let Some(old) = old {
                    changes.push(CacheChange::Object {
                        old: Some(old),
                        new: None,
                    });
                }
            }
            controller => {
                if let Some(owner) = controller {
                    self.waiting
                        .entry(owner.key.clone())
                        .or_default()
                        .push((key.clone(), owner.uid));
                    self.waiting_for.insert(key.clone(), owner.key);
                }
                match body {
                    Some(body) => {
                        let old = self.objects.insert(key, body.clone());
                        changes.push(CacheChange::Object {
                            old,
                            new: Some(body),
                        });
                    }
                    // Expected to be parked, but the owner went away meanwhile: fetch it again.
                    None => {
                        self.orphans.insert(key);
                        self.new_orphans = true;
                    }
                }
            }
        }
    }

    /// Removes one object; children parked under it become orphans.
    pub fn delete(&mut self, key: &ObjectKey, changes: &mut Vec<CacheChange>) {
        self.unlink(key);
        if let Some(old) = self.objects.remove(key) {
            changes.push(CacheChange::Object {
                old: Some(old),
                new: None,
            });
        }
        if self.owners.remove(key).is_some() {
            let children = self.parked_under(|owner| owner == key);
            self.orphan(children);
        }
    }

    /// Replaces every object of one kind after a (re)list.
    pub fn replace_kind(
        &mut self,
        kind: &'static str,
        entries: Vec<Entry>,
        changes: &mut Vec<CacheChange>,
    ) {
        let listed: HashSet<&ObjectKey> = entries.iter().map(|e| &e.key).collect();
        let gone: Vec<ObjectKey> = self
            .objects
            .keys()
            .chain(self.parked.keys())
            .chain(self.owners.keys())
            .chain(self.orphans.iter())
            .chain(self.waiting_for.keys())
            .filter(|k| k.kind == kind && !listed.contains(k))
            .cloned()
            .collect();
        // Removed without orphaning yet: an owner listed again keeps its children parked.
        for key in &gone {
            self.unlink(key);
            self.objects.remove(key);
            self.owners.remove(key);
        }
        for entry in entries {
            self.apply(entry, &mut Vec::new());
        }
        let children = self.parked_under(|owner| !self.owners.contains_key(owner));
        self.orphan(children);
        changes.push(CacheChange::Relisted);
    }

    /// Whether the object is parked under a known owner (used by `prune` to skip packing).
    pub fn parks(&self, owner: &OwnerRef) -> bool {
        self.owners.get(&owner.key) == Some(&owner.uid)
    }

    /// The orphans to fetch.
    pub fn orphan_keys(&self) -> Vec<ObjectKey> {
        self.orphans.iter().cloned().collect()
    }

    /// An orphan that no longer exists.
    pub fn forget_orphan(&mut self, key: &ObjectKey) {
        self.orphans.remove(key);
    }

    /// Whether orphans were added since the last call.
    pub fn take_new_orphans(&mut self) -> bool {
        std::mem::take(&mut self.new_orphans)
    }

    /// Whether `key` still awaits fetching (not deleted or re-applied meanwhile).
    pub fn is_orphan(&self, key: &ObjectKey) -> bool {
        self.orphans.contains(key)
    }

    /// Drops what the index says about how `key` is evaluated (not its body or owner uid).
    fn unlink(&mut self, key: &ObjectKey) {
        self.parked.remove(key);
        self.orphans.remove(key);
        if let Some(owner) = self.waiting_for.remove(key)
            && let Some(children) = self.waiting.get_mut(&owner)
        {
            children.retain(|(child, _)| child != key);
            if children.is_empty() {
                self.waiting.remove(&owner);
            }
        }
    }

    /// An owner arrived: the children waiting for it (with its uid) are parked, bodies dropped.
    fn adopt_waiting(&mut self, owner: &ObjectKey, uid: &str, changes: &mut Vec<CacheChange>) {
        let Some(children) = self.waiting.remove(owner) else {
            return;
        };
        let mut still_waiting = Vec::new();
        for (child, expected) in children {
            if &*expected != uid {
                still_waiting.push((child, expected));
                continue;
            }
            self.waiting_for.remove(&child);
            if let Some(old) = self.objects.remove(&child) {
                changes.push(CacheChange::Object {
                    old: Some(old),
                    new: None,
                });
            }
            self.parked.insert(child, owner.clone());
        }
        if !still_waiting.is_empty() {
            self.waiting.insert(owner.clone(), still_waiting);
        }
    }

    /// The children parked under owners `gone` accepts.
    fn parked_under(&self, gone: impl Fn(&ObjectKey) -> bool) -> Vec<ObjectKey> {
        self.parked
            .iter()
            .filter(|(_, owner)| gone(owner))
            .map(|(child, _)| child.clone())
            .collect()
    }

    /// Parked children whose owner went away become orphans. Their own parked children stay
    /// parked: their owner is still known (and is fetched as an orphan itself).
    fn orphan(&mut self, children: Vec<ObjectKey>) {
        for child in children {
            self.parked.remove(&child);
            self.orphans.insert(child);
            self.new_orphans = true;
        }
    }

    #[cfg(test)]
    fn parked_len(&self) -> usize {
        self.parked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::packed::Packer;

    fn key(kind: &'static str, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            namespace: "a".into(),
            name: name.into(),
        }
    }

    fn entry(kind: &'static str, name: &str, owner: Option<(&'static str, &str)>) -> Entry {
        Entry {
            key: key(kind, name),
            uid: format!("uid-{name}").into(),
            controller: owner.map(|(kind, name)| OwnerRef {
                key: key(kind, name),
                uid: format!("uid-{name}").into(),
            }),
            body: Some(Arc::new(Packer::default().pack(b"{}"))),
        }
    }

    fn evaluated(index: &Index) -> Vec<String> {
        let mut names: Vec<String> = index.objects.keys().map(|k| k.name.clone()).collect();
        names.sort();
        names
    }

    #[test]
    fn children_of_a_known_owner_are_parked_and_others_evaluated() {
        let mut index = Index::default();
        let changes = &mut Vec::new();
        index.apply(entry("Deployment", "web", None), changes);
        index.apply(
            entry("ReplicaSet", "web-1", Some(("Deployment", "web"))),
            changes,
        );
        index.apply(
            entry("Pod", "web-1-x", Some(("ReplicaSet", "web-1"))),
            changes,
        );
        // No owner of a watched kind: evaluated itself.
        index.apply(entry("Pod", "bare", None), changes);
        let mut wrong_uid = entry("Pod", "impostor", Some(("ReplicaSet", "web-1")));
        if let Some(owner) = wrong_uid.controller.as_mut() {
            owner.uid = "forged".into();
        }
        index.apply(wrong_uid, changes);
        assert_eq!(evaluated(&index), vec!["bare", "impostor", "web"]);
        assert_eq!(index.parked_len(), 2);
    }

    #[test]
    fn an_owner_arriving_later_parks_its_waiting_children() {
        let mut index = Index::default();
        let changes = &mut Vec::new();
        index.apply(
            entry("Pod", "web-1-x", Some(("ReplicaSet", "web-1"))),
            changes,
        );
        assert_eq!(evaluated(&index), vec!["web-1-x"]);
        changes.clear();
        index.apply(entry("ReplicaSet", "web-1", None), changes);
        assert_eq!(evaluated(&index), vec!["web-1"]);
        assert!(
            changes.iter().any(|c| matches!(
                c,
                CacheChange::Object {
                    old: Some(_),
                    new: None
                }
            )),
            "the child's policies are re-evaluated"
        );
    }

    #[test]
    fn children_of_a_deleted_owner_become_orphans_unless_deleted_first() {
        let mut index = Index::default();
        let changes = &mut Vec::new();
        index.apply(entry("ReplicaSet", "web-1", None), changes);
        index.apply(entry("Pod", "x", Some(("ReplicaSet", "web-1"))), changes);
        index.apply(entry("Pod", "y", Some(("ReplicaSet", "web-1"))), changes);
        index.delete(&key("ReplicaSet", "web-1"), changes);
        assert!(index.is_orphan(&key("Pod", "x")) && index.is_orphan(&key("Pod", "y")));
        // The garbage collector deletes one before it is fetched.
        index.delete(&key("Pod", "y"), changes);
        assert!(index.take_new_orphans());
        assert_eq!(index.orphan_keys(), vec![key("Pod", "x")]);
        // Fetched again: its owner is gone, so it is evaluated itself.
        index.apply(entry("Pod", "x", Some(("ReplicaSet", "web-1"))), changes);
        assert_eq!(evaluated(&index), vec!["x"]);
    }

    #[test]
    fn a_relist_of_the_owner_kind_keeps_children_parked_under_owners_still_there() {
        let mut index = Index::default();
        let changes = &mut Vec::new();
        index.apply(entry("ReplicaSet", "stays", None), changes);
        index.apply(entry("ReplicaSet", "goes", None), changes);
        index.apply(entry("Pod", "x", Some(("ReplicaSet", "stays"))), changes);
        index.apply(entry("Pod", "y", Some(("ReplicaSet", "goes"))), changes);
        index.replace_kind(
            "ReplicaSet",
            vec![entry("ReplicaSet", "stays", None)],
            changes,
        );
        assert!(index.is_orphan(&key("Pod", "y")));
        assert!(!index.is_orphan(&key("Pod", "x")));
        assert_eq!(evaluated(&index), vec!["stays"]);
    }

    /// An object as its watch delivers it, taken in the way `watch_kind` takes it; its owner
    /// reference (apiVersion, kind, name) carries the uid `entry` gives that owner.
    fn watched(
        kind: &str,
        name: &str,
        owner: Option<(&str, &str, &str)>,
        spec: serde_json::Value,
    ) -> Entry {
        let ar = crate::cache::workload_resources()
            .into_iter()
            .find(|ar| ar.kind == kind)
            .expect("a workload kind");
        let refs = owner.map(|(api_version, kind, name)| {
            serde_json::json!([{"apiVersion": api_version, "kind": kind, "name": name,
                "uid": format!("uid-{name}"), "controller": true}])
        });
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": ar.api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "a", "uid": format!("uid-{name}"),
                "ownerReferences": refs},
            "spec": spec
        }))
        .expect("object");
        crate::cache::entry(obj, &ar, Some(&mut Packer::default())).expect("entry")
    }

    fn owners(index: &mut Index) {
        for (kind, name) in [
            ("Deployment", "deploy"),
            ("StatefulSet", "sts"),
            ("DaemonSet", "ds"),
            ("ReplicaSet", "rs"),
            ("Job", "job"),
            ("CronJob", "cron"),
        ] {
            index.apply(watched(kind, name, None, json!({})), &mut Vec::new());
        }
    }

    use serde_json::json;

    #[test]
    fn every_controller_chain_kubernetes_makes_is_parked() {
        let mut index = Index::default();
        owners(&mut index);
        for (kind, name, owner) in [
            ("Pod", "of-rs", ("apps/v1", "ReplicaSet", "rs")),
            ("Pod", "of-sts", ("apps/v1", "StatefulSet", "sts")),
            ("Pod", "of-ds", ("apps/v1", "DaemonSet", "ds")),
            ("Pod", "of-job", ("batch/v1", "Job", "job")),
            (
                "ReplicaSet",
                "of-deploy",
                ("apps/v1", "Deployment", "deploy"),
            ),
            ("Job", "of-cron", ("batch/v1", "CronJob", "cron")),
        ] {
            index.apply(watched(kind, name, Some(owner), json!({})), &mut Vec::new());
        }
        assert_eq!(index.parked_len(), 6);
        assert_eq!(
            evaluated(&index),
            vec!["cron", "deploy", "ds", "job", "rs", "sts"]
        );
    }

    #[test]
    fn a_claim_no_owner_template_covers_hides_nothing() {
        let mut index = Index::default();
        owners(&mut index);
        for (kind, name, owner) in [
            // Kubernetes makes Pods from a Deployment's ReplicaSet, never from the Deployment.
            ("Pod", "claims-deploy", ("apps/v1", "Deployment", "deploy")),
            ("Pod", "claims-cron", ("batch/v1", "CronJob", "cron")),
            (
                "Deployment",
                "claims-sts",
                ("apps/v1", "StatefulSet", "sts"),
            ),
            (
                "StatefulSet",
                "claims-deploy-too",
                ("apps/v1", "Deployment", "deploy"),
            ),
            ("DaemonSet", "claims-ds", ("apps/v1", "DaemonSet", "ds")),
            ("ReplicaSet", "claims-rs", ("apps/v1", "ReplicaSet", "rs")),
            ("CronJob", "claims-job", ("batch/v1", "Job", "job")),
            // The right kind under another API group is not Kubernetes' controller.
            (
                "Pod",
                "claims-other-group",
                ("example.com/v1", "ReplicaSet", "rs"),
            ),
        ] {
            index.apply(watched(kind, name, Some(owner), json!({})), &mut Vec::new());
        }
        assert_eq!(index.parked_len(), 0);
        assert_eq!(evaluated(&index).len(), 14);
    }

    #[test]
    fn an_object_claiming_itself_is_evaluated() {
        let mut index = Index::default();
        let changes = &mut Vec::new();
        for (kind, api_version) in [
            ("Deployment", "apps/v1"),
            ("ReplicaSet", "apps/v1"),
            ("Job", "batch/v1"),
        ] {
            let name = format!("self-{kind}");
            index.apply(
                watched(kind, &name, Some((api_version, kind, &name)), json!({})),
                changes,
            );
        }
        assert_eq!(index.parked_len(), 0);
        assert_eq!(
            evaluated(&index),
            vec!["self-Deployment", "self-Job", "self-ReplicaSet"]
        );
    }

    #[test]
    fn two_objects_claiming_each_other_are_not_both_parked() {
        for deployment_first in [true, false] {
            let mut index = Index::default();
            let changes = &mut Vec::new();
            let deploy = watched(
                "Deployment",
                "b",
                Some(("apps/v1", "ReplicaSet", "a")),
                json!({}),
            );
            let rs = watched(
                "ReplicaSet",
                "a",
                Some(("apps/v1", "Deployment", "b")),
                json!({}),
            );
            if deployment_first {
                index.apply(deploy, changes);
                index.apply(rs, changes);
            } else {
                index.apply(rs, changes);
                index.apply(deploy, changes);
            }
            // The ReplicaSet is the Deployment's; the Deployment's claim is no controller chain.
            assert_eq!(
                evaluated(&index),
                vec!["b"],
                "deployment first: {deployment_first}"
            );
            assert_eq!(index.parked_len(), 1);
        }
    }

    #[test]
    fn a_controlled_pod_with_ephemeral_containers_is_evaluated_itself() {
        let mut index = Index::default();
        owners(&mut index);
        let owner = Some(("apps/v1", "ReplicaSet", "rs"));
        index.apply(watched("Pod", "p", owner, json!({})), &mut Vec::new());
        assert_eq!(index.parked_len(), 1);
        // `kubectl debug` adds a container to the running Pod.
        let debugged = json!({"ephemeralContainers": [{"name": "debugger", "image": "busybox"}]});
        let changes = &mut Vec::new();
        index.apply(watched("Pod", "p", owner, debugged), changes);
        assert_eq!(index.parked_len(), 0);
        assert!(evaluated(&index).contains(&"p".to_owned()));
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, CacheChange::Object { new: Some(_), .. })),
            "the Pod's policies are re-evaluated"
        );
    }

    #[test]
    fn only_controller_kinds_count_as_owners() {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "a", "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u", "controller": true}
            ]}
        }))
        .expect("object");
        assert_eq!(controller_of(&obj, "Pod"), None);
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "a", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true}
            ]}
        }))
        .expect("object");
        assert_eq!(
            controller_of(&obj, "Pod"),
            Some(OwnerRef {
                key: key("ReplicaSet", "rs"),
                uid: "u".into()
            })
        );
        // The same reference on a Deployment is no controller chain.
        assert_eq!(controller_of(&obj, "Deployment"), None);
    }
}
