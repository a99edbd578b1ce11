//! What the compiled policy set is built from, so a write that changes none of it (a status
//! write, the reconcile's own) neither recompiles the set nor re-evaluates anything.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use guardian_cluster::store::LAST_GOOD_ANNOTATION;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use kube::ResourceExt;

/// One policy's or exception's part in the compiled set: its identity, its spec's generation,
/// whether it is being deleted, and a policy's recorded last good generation (what a broken
/// policy falls back to). Not the resourceVersion: a status write changes that, not the set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Exceptions sort after policies.
    exception: bool,
    key: String,
    uid: Option<String>,
    /// `metadata.generation`, or the resourceVersion for an object without one.
    revision: String,
    deleting: bool,
    last_good: Option<String>,
}

fn stamp<K: ResourceExt>(
    object: &K,
    exception: bool,
    key: String,
    last_good: Option<String>,
) -> Stamp {
    let meta = object.meta();
    Stamp {
        exception,
        key,
        uid: meta.uid.clone(),
        revision: match meta.generation {
            Some(generation) => generation.to_string(),
            None => format!("rv {}", meta.resource_version.as_deref().unwrap_or("")),
        },
        deleting: meta.deletion_timestamp.is_some(),
        last_good,
    }
}

/// The sorted stamps of every policy and exception: equal fingerprints compile to the same set.
pub fn fingerprint(
    policies: &[Arc<GuardianPolicy>],
    exceptions: &[Arc<GuardianException>],
) -> Vec<Stamp> {
    let mut stamps: Vec<Stamp> = policies
        .iter()
        .map(|p| {
            let last_good = p.annotations().get(LAST_GOOD_ANNOTATION).cloned();
            stamp(&**p, false, p.name_any(), last_good)
        })
        .chain(exceptions.iter().map(|e| {
            let key = format!("{}/{}", e.namespace().unwrap_or_default(), e.name_any());
            stamp(&**e, true, key, None)
        }))
        .collect();
    stamps.sort();
    stamps
}

/// What each policy's results depend on, by policy name, as a hash: its identity, its spec's
/// generation and its deletion, and every exception's. Not its recorded last good generation:
/// the reconcile records it after evaluating, which must not distrust the results just kept (a
/// policy enforced through it is broken, and its next edit changes the generation anyway).
pub fn policy_inputs(fingerprint: &[Stamp]) -> HashMap<String, u64> {
    let mut exceptions = DefaultHasher::new();
    fingerprint
        .iter()
        .filter(|s| s.exception)
        .for_each(|s| s.hash(&mut exceptions));
    let exceptions = exceptions.finish();
    fingerprint
        .iter()
        .filter(|s| !s.exception)
        .map(|s| {
            let mut hasher = DefaultHasher::new();
            (&s.uid, &s.revision, s.deleting, exceptions).hash(&mut hasher);
            (s.key.clone(), hasher.finish())
        })
        .collect()
}

/// What a policy's watch event must change to be reconciled (the controller's predicate): its
/// identity, its spec's generation, its deletion and the finalizer the cleanup waits on. Not its
/// status nor its resourceVersion, so the reconcile's own status and annotation writes do not
/// reconcile (re-evaluate every object) again; the periodic resync still does.
pub fn reconcile_trigger(policy: &GuardianPolicy) -> Option<u64> {
    let meta = &policy.metadata;
    let mut hasher = DefaultHasher::new();
    (
        &meta.uid,
        meta.generation,
        meta.deletion_timestamp.is_some(),
        policy
            .finalizers()
            .iter()
            .any(|f| f == crate::reconcile::FINALIZER),
    )
        .hash(&mut hasher);
    Some(hasher.finish())
}

#[cfg(test)]
mod tests {
    use guardian_core::crd::{GuardianPolicyStatus, PolicySummary};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    use super::*;

    fn policy() -> GuardianPolicy {
        serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": { "name": "p", "uid": "u1", "generation": 3, "resourceVersion": "10" },
            "spec": { "profiles": ["pss-baseline"] }
        }))
        .expect("policy")
    }

    fn of(p: GuardianPolicy) -> Vec<Stamp> {
        fingerprint(&[Arc::new(p)], &[])
    }

    #[test]
    fn a_status_write_leaves_the_fingerprint_alone() {
        let mut written = policy();
        written.metadata.resource_version = Some("11".into());
        written.status = Some(GuardianPolicyStatus {
            summary: Some(PolicySummary::default()),
            ..GuardianPolicyStatus::default()
        });
        assert_eq!(of(policy()), of(written));
    }

    #[test]
    fn a_spec_edit_a_recreation_a_deletion_or_a_last_good_record_changes_it() {
        let mut edited = policy();
        edited.metadata.generation = Some(4);
        let mut recreated = policy();
        recreated.metadata.uid = Some("u2".into());
        let mut deleting = policy();
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut recorded = policy();
        recorded
            .annotations_mut()
            .insert(LAST_GOOD_ANNOTATION.into(), "{}".into());
        for changed in [edited, recreated, deleting, recorded] {
            assert_ne!(of(policy()), of(changed));
        }
    }

    #[test]
    fn a_policy_s_inputs_follow_its_spec_and_the_exceptions_not_its_last_good_record() {
        let inputs = |p: GuardianPolicy, exceptions: &[Arc<GuardianException>]| {
            policy_inputs(&fingerprint(&[Arc::new(p)], exceptions))["p"]
        };
        let mut recorded = policy();
        recorded
            .annotations_mut()
            .insert(LAST_GOOD_ANNOTATION.into(), "{}".into());
        assert_eq!(inputs(policy(), &[]), inputs(recorded, &[]));
        let mut edited = policy();
        edited.metadata.generation = Some(4);
        assert_ne!(inputs(policy(), &[]), inputs(edited, &[]));
        let exception: GuardianException = serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianException",
            "metadata": { "name": "e", "namespace": "a", "generation": 1 },
            "spec": { "policy": "p", "resources": {}, "owner": "o", "justification": "j",
                      "expiresAt": "2999-01-01T00:00:00Z" }
        }))
        .expect("exception");
        assert_ne!(
            inputs(policy(), &[]),
            inputs(policy(), &[Arc::new(exception)])
        );
    }

    #[test]
    fn status_and_annotation_writes_do_not_trigger_a_reconcile() {
        let mut written = policy();
        written.metadata.resource_version = Some("12".into());
        written.status = Some(GuardianPolicyStatus::default());
        written
            .annotations_mut()
            .insert(LAST_GOOD_ANNOTATION.into(), "{}".into());
        assert_eq!(reconcile_trigger(&policy()), reconcile_trigger(&written));
    }

    #[test]
    fn an_edit_a_deletion_or_the_finalizer_triggers_a_reconcile() {
        let mut edited = policy();
        edited.metadata.generation = Some(4);
        let mut deleting = policy();
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut finalized = policy();
        finalized
            .finalizers_mut()
            .push(crate::reconcile::FINALIZER.to_owned());
        for changed in [edited, deleting, finalized] {
            assert_ne!(reconcile_trigger(&policy()), reconcile_trigger(&changed));
        }
    }
}
