//! What a rule is: static metadata plus a check over a workload view.

use serde_json::{Map, Value};

use crate::crd::Profile;
use crate::model::{Category, Severity};
use crate::workload::{WorkloadKind, WorkloadView};

/// Everything a user sees about a built-in rule, fixed at compile time.
#[derive(Debug)]
pub struct RuleMeta {
    /// Stable id, e.g. `pss-privileged`. Never renamed once released.
    pub id: &'static str,
    pub title: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// The profiles that include this rule.
    pub profiles: &'static [Profile],
    /// One or two sentences on what the rule checks and why.
    pub description: &'static str,
    pub remediation: &'static str,
    /// Parameters the rule accepts (empty when none).
    pub parameters: &'static [ParamDoc],
    /// A short manifest fragment that fails the rule.
    pub example_fail: &'static str,
    /// The same fragment, fixed.
    pub example_pass: &'static str,
}

/// Documentation of one rule parameter.
#[derive(Debug)]
pub struct ParamDoc {
    pub name: &'static str,
    pub description: &'static str,
    /// The value used when the policy gives none, as JSON text.
    pub default: &'static str,
}

/// One failure of a rule: where and why. The engine adds policy, rule and resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted field path with indices, e.g. `spec.template.spec.containers[0].securityContext.privileged`.
    pub path: String,
    pub message: String,
    pub container: Option<String>,
}

impl Violation {
    pub fn new(path: String, message: String) -> Self {
        Violation {
            path,
            message,
            container: None,
        }
    }

    pub fn in_container(path: String, message: String, container: &str) -> Self {
        Violation {
            path,
            message,
            container: Some(container.to_owned()),
        }
    }
}

/// A configured built-in rule, ready to evaluate. Built once per policy, shared across threads.
pub trait Rule: Send + Sync + std::fmt::Debug {
    /// Appends a violation for every failing field. Must not panic on any input. `out` may
    /// already hold other rules' violations (the engine shares one buffer per policy and
    /// attributes them by position): only append, never read, reorder, or remove.
    fn check(&self, workload: &WorkloadView<'_>, out: &mut Vec<Violation>);

    /// Whether the rule can find anything on this kind of workload. The engine selects each
    /// policy's rules per kind once, at compile time, and never calls `check` on other kinds.
    fn applies_to(&self, kind: WorkloadKind) -> bool {
        let _ = kind;
        true
    }
}

/// A library entry: the metadata, and how to build the rule from a policy's parameters.
#[derive(Debug)]
pub struct BuiltinRule {
    pub meta: RuleMeta,
    /// Builds the rule; an `Err` is a human-readable reason the parameters are invalid.
    pub build: fn(&Params) -> Result<Box<dyn Rule>, String>,
}

/// A rule's parameters as given in the policy (possibly empty).
#[derive(Debug, Default, Clone, Copy)]
pub struct Params<'a>(pub Option<&'a Map<String, Value>>);

impl<'a> Params<'a> {
    /// A list of strings at `key`, or `default` when absent.
    pub fn strings(&self, key: &str, default: &[&str]) -> Result<Vec<String>, String> {
        match self.0.and_then(|m| m.get(key)) {
            None => Ok(default.iter().map(|s| (*s).to_owned()).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{key} must be a list of strings, found {v}"))
                })
                .collect(),
            Some(other) => Err(format!("{key} must be a list of strings, found {other}")),
        }
    }

    /// An integer at `key` within `min..=max`, or `default` when absent.
    pub fn integer(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, String> {
        match self.0.and_then(|m| m.get(key)) {
            None => Ok(default),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "{key} must be an integer from {min} to {max}, found {v}"
                )),
            },
        }
    }

    /// Keys the policy gave that the rule does not know, so typos are caught at load time.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), String> {
        if let Some(map) = self.0
            && let Some(k) = map.keys().find(|k| !known.contains(&k.as_str()))
        {
            return Err(format!(
                "unknown parameter {k:?}; accepted: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        Ok(())
    }
}

/// Builds a parameterless rule, rejecting any parameters.
pub fn no_params<R: Rule + Default + 'static>(params: &Params) -> Result<Box<dyn Rule>, String> {
    params.reject_unknown(&[])?;
    Ok(Box::new(R::default()))
}
