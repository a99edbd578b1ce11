//! The current compiled policy set, shared by the reconcile loop and every webhook request.
//!
//! Rebuilt from the GuardianPolicy and GuardianException watch caches whenever either changes
//! and swapped atomically: readers never block and always see one consistent set.
//!
//! A broken edit never turns a policy off: the last generation of each policy that compiled is
//! kept (as its source object, which compiles the same way again) and compiled in place of a
//! generation that does not, until the policy is fixed or deleted. The leader also records it on
//! the policy itself ([`LAST_GOOD_ANNOTATION`]), so a replica that never saw it compile (a
//! standby started later, or any replica after a restart) enforces it too.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use guardian_core::crd::{GuardianException, GuardianPolicy, GuardianPolicySpec};
use guardian_core::engine::PolicySet;
use serde::{Deserialize, Serialize};

/// The annotation holding a policy's last generation that compiled, as JSON
/// `{"uid": …, "generation": 2, "spec": {…}}`; written by the leader, read by every replica when
/// the current generation does not compile. It applies only to the object it was written on (the
/// uid), not to a copy made from exported YAML. Whoever may edit the policy may edit it too, which
/// grants nothing: they could as well change the spec.
pub const LAST_GOOD_ANNOTATION: &str = "guardian.kube-guardian.dev/last-good";

/// The content of [`LAST_GOOD_ANNOTATION`].
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    uid: Option<String>,
    generation: Option<i64>,
    spec: GuardianPolicySpec,
}

/// The annotation value to write on `policy` when its current generation compiles and the
/// annotation does not already record that generation; `None` when nothing is to be written.
pub fn last_good_annotation(policy: &GuardianPolicy) -> Option<String> {
    let recorded = recorded(policy);
    if recorded.is_some_and(|r| r.generation == policy.metadata.generation && r.spec == policy.spec)
    {
        return None;
    }
    PolicySet::compile(std::slice::from_ref(policy), &[]).ok()?;
    serde_json::to_string(&Recorded {
        uid: policy.metadata.uid.clone(),
        generation: policy.metadata.generation,
        spec: policy.spec.clone(),
    })
    .ok()
}

/// The annotation's record, when it was written on this very object.
fn recorded(policy: &GuardianPolicy) -> Option<Recorded> {
    let value = policy
        .metadata
        .annotations
        .as_ref()?
        .get(LAST_GOOD_ANNOTATION)?;
    serde_json::from_str::<Recorded>(value)
        .ok()
        .filter(|r| r.uid == policy.metadata.uid)
}

/// The policy as its annotation records its last good generation.
fn from_annotation(policy: &GuardianPolicy) -> Option<Remembered> {
    let recorded = recorded(policy)?;
    let mut last_good = policy.clone();
    last_good.spec = recorded.spec;
    last_good.metadata.generation = recorded.generation;
    Some(Remembered {
        uid: policy.metadata.uid.clone(),
        generation: recorded.generation,
        resource_version: None,
        policy: last_good,
    })
}

/// One consistent view of the policies.
#[derive(Debug)]
pub struct PolicySnapshot {
    /// The valid policies and exceptions, compiled; for a policy whose current generation does
    /// not compile, its last good generation (see `enforced_instead`).
    pub set: Arc<PolicySet>,
    /// Policies whose current generation fails to compile, by name, with every error as text.
    pub rejected_policies: BTreeMap<String, Vec<String>>,
    /// Rejected policies still enforced through their last good generation, by name: the
    /// generation in `set` instead of the current one.
    pub enforced_instead: BTreeMap<String, LastGood>,
    /// Exceptions that failed to compile, by `namespace/name`.
    pub rejected_exceptions: BTreeMap<String, Vec<String>>,
    /// Increases with every rebuild.
    pub version: u64,
}

/// Which generation of a policy is enforced in place of a broken one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastGood {
    /// `metadata.generation` of the last good version (`None` only for objects not read from
    /// an API server).
    pub generation: Option<i64>,
}

/// The last generation of one policy that compiled.
#[derive(Debug)]
struct Remembered {
    uid: Option<String>,
    generation: Option<i64>,
    resource_version: Option<String>,
    policy: GuardianPolicy,
}

/// Holds the latest snapshot; cheap to read from any thread.
#[derive(Debug)]
pub struct PolicyStore {
    current: ArcSwap<PolicySnapshot>,
    /// Per policy name, its last generation that compiled. Only rebuilds touch it.
    last_good: Mutex<HashMap<String, Remembered>>,
}

impl Default for PolicyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl PolicyStore {
    /// An empty store: no policies, every object allowed.
    pub fn new() -> Self {
        let (set, _) = PolicySet::compile_partial(&[], &[]);
        PolicyStore {
            current: ArcSwap::from_pointee(PolicySnapshot {
                set: Arc::new(set),
                rejected_policies: BTreeMap::new(),
                enforced_instead: BTreeMap::new(),
                rejected_exceptions: BTreeMap::new(),
                version: 0,
            }),
            last_good: Mutex::new(HashMap::new()),
        }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<PolicySnapshot> {
        self.current.load_full()
    }

    /// Recompiles from the full current lists of policies and exceptions and publishes the result.
    /// A policy missing from `policies` is forgotten, its last good generation with it.
    pub fn rebuild(
        &self,
        policies: &[GuardianPolicy],
        exceptions: &[GuardianException],
    ) -> Arc<PolicySnapshot> {
        // Held across the whole rebuild: two rebuilds racing must not interleave their memories.
        let mut last_good = match self.last_good.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (set, rejected) = PolicySet::compile_partial(policies, exceptions);
        let mut rejected_policies = BTreeMap::new();
        let mut rejected_exceptions = BTreeMap::new();
        for r in rejected {
            let errors = r.errors.iter().map(ToString::to_string).collect();
            if r.kind == "GuardianPolicy" {
                rejected_policies.insert(r.name, errors);
            } else {
                rejected_exceptions.insert(r.name, errors);
            }
        }

        last_good.retain(|name, _| policies.iter().any(|p| name_of(p) == name.as_str()));
        for policy in policies {
            let name = name_of(policy);
            if rejected_policies.contains_key(name) {
                continue;
            }
            let resource_version = policy.metadata.resource_version.clone();
            if last_good.get(name).is_some_and(|r| {
                r.resource_version == resource_version && r.uid == policy.metadata.uid
            }) {
                continue;
            }
            last_good.insert(
                name.to_owned(),
                Remembered {
                    uid: policy.metadata.uid.clone(),
                    generation: policy.metadata.generation,
                    resource_version,
                    policy: policy.clone(),
                },
            );
        }

        // A rejected policy with a remembered generation of the same object (same uid: a policy
        // deleted and created again under its name starts afresh) is compiled from that one; a
        // replica that never saw one compile takes it from the policy's annotation.
        let mut enforced_instead = BTreeMap::new();
        let substituted: Vec<GuardianPolicy> = policies
            .iter()
            .map(|p| {
                let name = name_of(p);
                if !rejected_policies.contains_key(name) {
                    return p.clone();
                }
                let remembered = last_good
                    .get(name)
                    .filter(|r| r.uid == p.metadata.uid)
                    .map(|r| (r.generation, r.policy.clone()))
                    .or_else(|| from_annotation(p).map(|r| (r.generation, r.policy)));
                match remembered {
                    Some((generation, policy)) => {
                        enforced_instead.insert(name.to_owned(), LastGood { generation });
                        policy
                    }
                    None => p.clone(),
                }
            })
            .collect();
        let set = if enforced_instead.is_empty() {
            set
        } else {
            let (set, still_rejected) = PolicySet::compile_partial(&substituted, exceptions);
            // A remembered generation compiled before and compiles the same way again; should
            // it not, the policy is simply not enforced, which the status says.
            for r in still_rejected {
                if r.kind == "GuardianPolicy" {
                    enforced_instead.remove(&r.name);
                }
            }
            set
        };

        let snapshot = Arc::new(PolicySnapshot {
            set: Arc::new(set),
            rejected_policies,
            enforced_instead,
            rejected_exceptions,
            version: self.current.load().version + 1,
        });
        self.current.store(snapshot.clone());
        snapshot
    }
}

fn name_of(policy: &GuardianPolicy) -> &str {
    policy.metadata.name.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardian_core::engine::{EvalContext, Evaluation};
    use serde_json::{Value, json};

    fn policy(uid: &str, generation: i64, expression: &str) -> GuardianPolicy {
        serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": {
                "name": "deny", "uid": uid, "generation": generation,
                "resourceVersion": format!("{uid}-{generation}")
            },
            "spec": {
                "enforcement": "Deny",
                "rules": [
                    {"id": "pss-privileged"},
                    {"cel": {"name": "team", "expression": expression, "message": "team label"}}
                ]
            }
        }))
        .expect("policy")
    }

    fn privileged_pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "a", "labels": {"team": "x"}},
            "spec": {"containers": [{"name": "c", "image": "r/c:1",
                "securityContext": {"privileged": true}}]}
        })
    }

    fn failed_rules(snapshot: &PolicySnapshot) -> Vec<String> {
        match snapshot
            .set
            .evaluate(&privileged_pod(), &EvalContext::offline())
        {
            Evaluation::Evaluated { findings, .. } => {
                findings.iter().map(|f| f.rule_id().to_string()).collect()
            }
            Evaluation::Skipped(why) => panic!("skipped: {why}"),
        }
    }

    const GOOD: &str = "'team' in object.metadata.labels";
    const BROKEN: &str = "object.metadata.(";

    #[test]
    fn a_broken_edit_keeps_the_last_good_generation_enforced() {
        let store = PolicyStore::new();
        let first = store.rebuild(&[policy("u1", 2, GOOD)], &[]);
        assert_eq!(failed_rules(&first), vec!["pss-privileged"]);
        assert!(first.enforced_instead.is_empty());

        let broken = store.rebuild(&[policy("u1", 3, BROKEN)], &[]);
        assert!(broken.rejected_policies.contains_key("deny"));
        assert_eq!(
            broken.enforced_instead.get("deny"),
            Some(&LastGood {
                generation: Some(2)
            })
        );
        assert_eq!(failed_rules(&broken), vec!["pss-privileged"]);
        assert_eq!(
            broken.set.policies().map(|p| p.name).collect::<Vec<_>>(),
            vec!["deny"]
        );

        // Still broken after another broken edit: generation 2 stays the one enforced.
        let again = store.rebuild(&[policy("u1", 4, "object.(")], &[]);
        assert_eq!(
            again.enforced_instead.get("deny").map(|g| g.generation),
            Some(Some(2))
        );

        // Fixed: the new generation is the one enforced, and remembered.
        let fixed = store.rebuild(&[policy("u1", 5, GOOD)], &[]);
        assert!(fixed.rejected_policies.is_empty() && fixed.enforced_instead.is_empty());
        let broken = store.rebuild(&[policy("u1", 6, BROKEN)], &[]);
        assert_eq!(
            broken.enforced_instead.get("deny").map(|g| g.generation),
            Some(Some(5))
        );
    }

    #[test]
    fn a_replica_that_never_saw_the_good_generation_enforces_the_annotated_one() {
        let good = policy("u1", 2, GOOD);
        let annotation = last_good_annotation(&good).expect("a generation that compiles");
        let mut annotated = good.clone();
        annotated
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(LAST_GOOD_ANNOTATION.to_owned(), annotation);
        assert_eq!(last_good_annotation(&annotated), None, "already recorded");

        let mut broken = policy("u1", 3, BROKEN);
        broken.metadata.annotations = annotated.metadata.annotations.clone();
        assert_eq!(
            last_good_annotation(&broken),
            None,
            "a broken generation is not recorded"
        );
        // A fresh store: a restarted operator, or a standby started after the good generation.
        let store = PolicyStore::new();
        let snapshot = store.rebuild(&[broken], &[]);
        assert_eq!(
            snapshot.enforced_instead.get("deny"),
            Some(&LastGood {
                generation: Some(2)
            })
        );
        assert_eq!(failed_rules(&snapshot), vec!["pss-privileged"]);

        // A copy created from exported YAML is another object: the annotation is not its own.
        let mut copy = policy("u2", 1, BROKEN);
        copy.metadata.annotations = annotated.metadata.annotations.clone();
        let snapshot = PolicyStore::new().rebuild(&[copy], &[]);
        assert!(snapshot.enforced_instead.is_empty());
    }

    #[test]
    fn a_policy_that_never_compiled_enforces_nothing() {
        let store = PolicyStore::new();
        let snapshot = store.rebuild(&[policy("u1", 1, BROKEN)], &[]);
        assert!(snapshot.rejected_policies.contains_key("deny"));
        assert!(snapshot.enforced_instead.is_empty());
        assert_eq!(snapshot.set.policies().count(), 0);
    }

    #[test]
    fn deleting_a_policy_forgets_its_last_good_generation() {
        let store = PolicyStore::new();
        store.rebuild(&[policy("u1", 1, GOOD)], &[]);
        let gone = store.rebuild(&[], &[]);
        assert_eq!(gone.set.policies().count(), 0);
        // Created again under the same name and broken: nothing of the old one comes back.
        let recreated = store.rebuild(&[policy("u1", 2, BROKEN)], &[]);
        assert!(recreated.enforced_instead.is_empty());
        assert_eq!(recreated.set.policies().count(), 0);
    }

    #[test]
    fn a_recreated_policy_does_not_inherit_the_old_objects_generation() {
        let store = PolicyStore::new();
        store.rebuild(&[policy("u1", 1, GOOD)], &[]);
        // Deleted and created again between two rebuilds: another uid.
        let snapshot = store.rebuild(&[policy("u2", 1, BROKEN)], &[]);
        assert!(snapshot.enforced_instead.is_empty());
        assert_eq!(snapshot.set.policies().count(), 0);
    }
}
