//! An object read once for many evaluations: what every evaluation of a plain `Value` reads
//! again (its identity, the workload view, its resource reference, each env var's map) is read
//! here once. A caller that evaluates the same objects again and again (the console's impact
//! previews, the operator on every policy change) prepares each object once.

use std::sync::Arc;

use serde_json::Value;

use crate::model::ResourceRef;
use crate::workload::{ObjectMeta, ViewError, WorkloadView};

/// A workload ready to evaluate, borrowed from its object; see
/// [`PolicySet::evaluate_prepared`](super::PolicySet::evaluate_prepared). Its findings are those
/// of evaluating the object itself.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    pub(super) object: &'a Value,
    pub(super) workload: WorkloadView<'a>,
    pub(super) resource: Arc<ResourceRef>,
}

impl<'a> Prepared<'a> {
    /// Reads `object` for evaluation; `Err` is why no rule applies to it (not a Kubernetes
    /// object, or not a workload kind), the reason an evaluation gives as `Skipped`.
    pub fn new(object: &'a Value) -> Result<Prepared<'a>, String> {
        let mut workload = view(object)?;
        workload.read_env();
        Ok(Prepared {
            object,
            resource: Arc::new(workload.meta.resource_ref()),
            workload,
        })
    }

    /// The object it was prepared from.
    pub fn object(&self) -> &'a Value {
        self.object
    }

    /// The resource its findings name.
    pub fn resource(&self) -> &Arc<ResourceRef> {
        &self.resource
    }
}

/// The workload view of `object` (its env vars left in their maps: reading them ahead costs an
/// allocation that only pays back over several evaluations), or why no rule applies to it.
pub(super) fn view(object: &Value) -> Result<WorkloadView<'_>, String> {
    let meta = match ObjectMeta::from_value(object) {
        Ok(meta) => meta,
        Err(ViewError::NotAManifest(why)) => {
            return Err(format!("not a Kubernetes object: {why}"));
        }
    };
    WorkloadView::new(meta, object).ok_or_else(|| {
        format!(
            "{} {} is not a workload kind; no rule applies",
            meta.api_version, meta.kind
        )
    })
}
