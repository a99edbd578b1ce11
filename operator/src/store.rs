//! The current compiled policy set, shared by the reconcile loop and every webhook request.
//!
//! Rebuilt from the GuardianPolicy and GuardianException watch caches whenever either changes
//! and swapped atomically: readers never block and always see one consistent set.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::PolicySet;

/// One consistent view of the policies.
#[derive(Debug)]
pub struct PolicySnapshot {
    /// The valid policies and exceptions, compiled.
    pub set: Arc<PolicySet>,
    /// Policies that failed to compile, by name, with every error as text.
    pub rejected_policies: BTreeMap<String, Vec<String>>,
    /// Exceptions that failed to compile, by `namespace/name`.
    pub rejected_exceptions: BTreeMap<String, Vec<String>>,
    /// Increases with every rebuild.
    pub version: u64,
}

/// Holds the latest snapshot; cheap to read from any thread.
#[derive(Debug)]
pub struct PolicyStore {
    current: ArcSwap<PolicySnapshot>,
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
                rejected_exceptions: BTreeMap::new(),
                version: 0,
            }),
        }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<PolicySnapshot> {
        self.current.load_full()
    }

    /// Recompiles from the full current lists of policies and exceptions and publishes the result.
    pub fn rebuild(
        &self,
        policies: &[GuardianPolicy],
        exceptions: &[GuardianException],
    ) -> Arc<PolicySnapshot> {
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
        let snapshot = Arc::new(PolicySnapshot {
            set: Arc::new(set),
            rejected_policies,
            rejected_exceptions,
            version: self.current.load().version + 1,
        });
        self.current.store(snapshot.clone());
        snapshot
    }
}
