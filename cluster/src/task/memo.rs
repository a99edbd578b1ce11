//! Each object's evaluation, kept between snapshots: an object the cache did not replace (same
//! `Arc`) is not evaluated again while the policies, the namespace labels and the exceptions'
//! expiry are the same. A cluster with churn then costs what changed, not all its objects.

use std::collections::HashMap;
use std::sync::Arc;

use guardian_core::engine::PolicySet;
use k8s_openapi::jiff::Timestamp;

use crate::cache::{AuditNamespaces, CachedObject};
use crate::evaluate::{Evaluator, sort};
use crate::snapshot::ObjectEvaluation;

/// What every evaluation depends on besides its object.
#[derive(Debug)]
pub struct Basis {
    pub set: Arc<PolicySet>,
    pub namespaces: Arc<AuditNamespaces>,
    /// The next expiry of an exception: from then on every object is evaluated again.
    pub until: Option<Timestamp>,
}

impl Basis {
    fn holds_for(&self, next: &Basis, now: Timestamp) -> bool {
        Arc::ptr_eq(&self.set, &next.set)
            && Arc::ptr_eq(&self.namespaces, &next.namespaces)
            && self.until.is_none_or(|until| now < until)
    }
}

/// Evaluations by the address of the cached object (kept alive here, so never reused).
#[derive(Debug, Default)]
pub struct Memo {
    basis: Option<Basis>,
    by_object: HashMap<usize, (Arc<CachedObject>, Option<Arc<ObjectEvaluation>>)>,
}

impl Memo {
    /// Every object's evaluation, sorted, and how many objects were evaluated now (the others
    /// kept theirs). Runs on a blocking thread: evaluating a big cluster takes a while.
    pub fn run(
        &mut self,
        basis: Basis,
        objects: Vec<Arc<CachedObject>>,
        now: Timestamp,
    ) -> (Vec<Arc<ObjectEvaluation>>, usize) {
        if !self
            .basis
            .as_ref()
            .is_some_and(|b| b.holds_for(&basis, now))
        {
            self.by_object.clear();
        }
        let evaluator = Evaluator::new(&basis.set, &*basis.namespaces, now);
        let mut previous = std::mem::take(&mut self.by_object);
        let mut evaluated = 0;
        for object in objects {
            let key = Arc::as_ptr(&object) as usize;
            let entry = match previous.remove(&key) {
                Some(entry) => entry,
                None => {
                    evaluated += 1;
                    let evaluation = object
                        .value()
                        .and_then(|v| evaluator.object(&v))
                        .map(Arc::new);
                    (object, evaluation)
                }
            };
            self.by_object.insert(key, entry);
        }
        self.basis = Some(basis);
        let mut evaluations: Vec<Arc<ObjectEvaluation>> = self
            .by_object
            .values()
            .filter_map(|(_, evaluation)| evaluation.clone())
            .collect();
        sort(&mut evaluations);
        (evaluations, evaluated)
    }
}
