//! GuardianExceptions compiled once and looked up per finding.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;

use super::selector::{NoLabels, Selector};
use crate::crd::GuardianException;
use crate::engine::matcher::{DEFAULT_NAMESPACE, KindSet};
use crate::workload::WorkloadView;

#[derive(Debug, Clone)]
enum NamePattern {
    Exact(String),
    Prefix(String),
}

impl NamePattern {
    fn parse(s: &str) -> Self {
        match s.strip_suffix('*') {
            Some(prefix) => NamePattern::Prefix(prefix.to_owned()),
            None => NamePattern::Exact(s.to_owned()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Prefix(p) => name.starts_with(p.as_str()),
        }
    }
}

/// One exception, ready to test findings against.
#[derive(Debug, Clone)]
pub struct CompiledException {
    /// `namespace/name`, shown on every finding it covers.
    pub id: String,
    pub justification: String,
    pub policy: String,
    namespace: String,
    rules: Vec<String>,
    kinds: KindSet,
    names: Vec<NamePattern>,
    selector: Option<Selector>,
    container: Option<String>,
    expires_at: Timestamp,
}

impl CompiledException {
    pub fn compile(ex: &GuardianException) -> Result<Self, (&'static str, String)> {
        let namespace = ex
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        let name = ex.metadata.name.clone().unwrap_or_default();
        let res = &ex.spec.resources;
        let selector = res
            .selector
            .as_ref()
            .map(Selector::compile)
            .transpose()
            .map_err(|e| ("spec.resources.selector", e))?;
        if res.names.is_empty() && selector.is_none() {
            return Err((
                "spec.resources",
                "name resources in names or give a selector".to_owned(),
            ));
        }
        Ok(CompiledException {
            id: format!("{namespace}/{name}"),
            justification: ex.spec.justification.clone(),
            policy: ex.spec.policy.clone(),
            namespace,
            rules: ex.spec.rules.clone(),
            kinds: KindSet::from_names(&res.kinds),
            names: res.names.iter().map(|n| NamePattern::parse(n)).collect(),
            selector,
            container: res.container.clone(),
            expires_at: ex.spec.expires_at.0,
        })
    }

    /// Whether this exception covers the resource at all (rule and container checked per finding).
    pub fn covers_resource(&self, w: &WorkloadView<'_>, now: Timestamp) -> bool {
        if now >= self.expires_at {
            return false;
        }
        if w.meta.namespace.unwrap_or(DEFAULT_NAMESPACE) != self.namespace
            || !self.kinds.contains(w.kind.name())
        {
            return false;
        }
        let by_name = self.names.iter().any(|n| n.matches(w.meta.name));
        let by_selector = self
            .selector
            .as_ref()
            .is_some_and(|s| match w.meta.labels() {
                Some(labels) => s.matches(labels),
                None => s.matches(&NoLabels),
            });
        by_name || by_selector
    }

    /// Whether it covers one finding of a covered resource.
    pub fn covers_finding(&self, rule: &str, container: Option<&str>) -> bool {
        let rule_ok = self.rules.is_empty() || self.rules.iter().any(|r| r == rule);
        let container_ok = match &self.container {
            None => true,
            Some(c) => container == Some(c.as_str()),
        };
        rule_ok && container_ok
    }
}

/// A policy's exceptions indexed by namespace, since an exception only ever covers resources of
/// its own namespace: an object is tested against its namespace's exceptions alone.
#[derive(Debug, Default)]
pub struct ExceptionIndex {
    by_namespace: HashMap<String, Vec<CompiledException>>,
}

impl ExceptionIndex {
    /// Adds an exception; within a namespace they keep the order given (the first that covers a
    /// finding names it).
    pub fn push(&mut self, exception: CompiledException) {
        self.by_namespace
            .entry(exception.namespace.clone())
            .or_default()
            .push(exception);
    }

    /// Appends the exceptions covering this resource at `now` to `out`.
    pub fn covering<'s>(
        &'s self,
        w: &WorkloadView<'_>,
        now: Timestamp,
        out: &mut Vec<&'s CompiledException>,
    ) {
        if self.by_namespace.is_empty() {
            return;
        }
        let namespace = w.meta.namespace.unwrap_or(DEFAULT_NAMESPACE);
        if let Some(exceptions) = self.by_namespace.get(namespace) {
            out.extend(exceptions.iter().filter(|e| e.covers_resource(w, now)));
        }
    }
}
