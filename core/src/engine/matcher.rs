//! A policy's `match` block compiled once: kinds as a bit set, selectors pre-validated.

use super::namespaces::NamespaceSet;
use super::selector::{Labels, NamespaceNameOnly, NoLabels, Selector};
use crate::crd::{MatchSpec, WorkloadKindName};
use crate::workload::WorkloadView;

/// A set of workload kinds as bits; empty means every kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindSet(u8);

impl KindSet {
    pub fn from_names(kinds: &[WorkloadKindName]) -> Self {
        KindSet(kinds.iter().fold(0, |acc, k| acc | (1 << (*k as u8))))
    }

    pub fn contains(self, kind: WorkloadKindName) -> bool {
        self.0 == 0 || self.0 & (1 << (kind as u8)) != 0
    }
}

/// Where namespace labels come from when a policy has a namespaceSelector.
pub trait NamespaceLabels: Sync {
    /// Runs `check` on the labels of `namespace`; `None` when the namespace is unknown (then only
    /// its name label is assumed). A callback, so a cache can lend labels from behind a lock or
    /// an atomic snapshot without copying them.
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool>;
}

/// In a cluster, a namespace the labels do not know yet (created a moment ago) matches every
/// `namespaceSelector`: fail-closed, the same rule for admission and audit.
#[derive(Debug, Clone, Default)]
pub struct FailClosed<N>(pub N);

impl<N: NamespaceLabels> NamespaceLabels for FailClosed<N> {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        Some(self.0.with_labels(namespace, check).unwrap_or(true))
    }
}

impl<N: NamespaceLabels + ?Sized + Send> NamespaceLabels for std::sync::Arc<N> {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        (**self).with_labels(namespace, check)
    }
}

/// No namespace is known: offline checks of manifest files.
#[derive(Debug)]
pub struct UnknownNamespaces;

impl NamespaceLabels for UnknownNamespaces {
    fn with_labels(&self, _: &str, _: &mut dyn FnMut(&dyn Labels) -> bool) -> Option<bool> {
        None
    }
}

/// Namespace labels known from a cluster (a watch cache snapshot).
#[derive(Debug, Clone, Default)]
pub struct NamespaceMap(
    pub std::collections::HashMap<String, std::collections::BTreeMap<String, String>>,
);

impl NamespaceLabels for NamespaceMap {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        self.0.get(namespace).map(|l| check(l))
    }
}

/// The namespace a manifest without `metadata.namespace` is applied to by default.
pub const DEFAULT_NAMESPACE: &str = "default";

#[derive(Debug, Clone)]
pub struct CompiledMatch {
    kinds: KindSet,
    namespaces: NamespaceSet,
    exclude_namespaces: NamespaceSet,
    namespace_selector: Option<Selector>,
    object_selector: Option<Selector>,
}

impl CompiledMatch {
    pub fn compile(spec: &MatchSpec) -> Result<Self, (&'static str, String)> {
        let namespace_selector = spec
            .namespace_selector
            .as_ref()
            .map(Selector::compile)
            .transpose()
            .map_err(|e| ("match.namespaceSelector", e))?;
        let object_selector = spec
            .object_selector
            .as_ref()
            .map(Selector::compile)
            .transpose()
            .map_err(|e| ("match.objectSelector", e))?;
        Ok(CompiledMatch {
            kinds: KindSet::from_names(&spec.kinds),
            namespaces: NamespaceSet::new(&spec.namespaces),
            exclude_namespaces: NamespaceSet::new(&spec.exclude_namespaces),
            namespace_selector,
            object_selector,
        })
    }

    pub fn matches(&self, w: &WorkloadView<'_>, namespaces: &dyn NamespaceLabels) -> bool {
        if !self.kinds.contains(w.kind.name()) {
            return false;
        }
        let ns = w.meta.namespace.unwrap_or(DEFAULT_NAMESPACE);
        if self.exclude_namespaces.contains(ns) {
            return false;
        }
        if !self.namespaces.is_empty() && !self.namespaces.contains(ns) {
            return false;
        }
        if let Some(sel) = &self.object_selector {
            let matched = match w.meta.labels() {
                Some(labels) => sel.matches(labels),
                None => sel.matches(&NoLabels),
            };
            if !matched {
                return false;
            }
        }
        if let Some(sel) = &self.namespace_selector {
            let matched = namespaces
                .with_labels(ns, &mut |labels| sel.matches(labels))
                .unwrap_or_else(|| sel.matches(&NamespaceNameOnly(ns)));
            if !matched {
                return false;
            }
        }
        true
    }
}
