//! Label selectors compiled once: validated operators, no allocation per lookup.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Map, Value};

/// Anything labels can be read from.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for Map<String, Value> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// The labels an object without a `metadata.labels` map has: none.
#[derive(Debug)]
pub struct NoLabels;

impl Labels for NoLabels {
    fn label(&self, _: &str) -> Option<&str> {
        None
    }
}

/// The one label the API server puts on every namespace (since Kubernetes 1.21), used when a
/// namespace's labels are unknown (offline).
#[derive(Debug)]
pub struct NamespaceNameOnly<'a>(pub &'a str);

impl Labels for NamespaceNameOnly<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        (key == "kubernetes.io/metadata.name").then_some(self.0)
    }
}

#[derive(Debug, Clone)]
enum Requirement {
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A compiled `LabelSelector`. An empty selector matches everything, as in Kubernetes.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    pub fn compile(selector: &LabelSelector) -> Result<Self, String> {
        let mut requirements: Vec<Requirement> = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
            .collect();
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let key = expr.key.clone();
            let requirement = match expr.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => {
                    return Err(format!(
                        "matchExpressions key {key:?}: operator {} needs at least one value",
                        expr.operator
                    ));
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(format!(
                        "matchExpressions key {key:?}: operator {} takes no values",
                        expr.operator
                    ));
                }
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => {
                    return Err(format!(
                        "matchExpressions key {key:?}: unknown operator {other:?}; use In, NotIn, Exists or DoesNotExist"
                    ));
                }
            };
            requirements.push(requirement);
        }
        Ok(Selector { requirements })
    }

    pub fn matches(&self, labels: &dyn Labels) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.label(k) == Some(v.as_str()),
            Requirement::In(k, vs) => labels.label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => labels.label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => labels.label(k).is_some(),
            Requirement::DoesNotExist(k) => labels.label(k).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).into()).collect()),
        }
    }

    #[test]
    fn match_labels_and_expressions_combine_with_and() {
        let sel = Selector::compile(&LabelSelector {
            match_labels: Some(labels(&[("team", "shop")])),
            match_expressions: Some(vec![
                expr("env", "In", &["prod", "staging"]),
                expr("legacy", "DoesNotExist", &[]),
                expr("tier", "NotIn", &["batch"]),
            ]),
        })
        .expect("valid selector");
        assert!(sel.matches(&labels(&[("team", "shop"), ("env", "prod")])));
        assert!(!sel.matches(&labels(&[("team", "shop"), ("env", "dev")])));
        assert!(!sel.matches(&labels(&[
            ("team", "shop"),
            ("env", "prod"),
            ("legacy", "")
        ])));
        assert!(!sel.matches(&labels(&[
            ("team", "shop"),
            ("env", "prod"),
            ("tier", "batch")
        ])));
        assert!(!sel.matches(&NoLabels));
    }

    #[test]
    fn empty_selector_matches_everything() {
        let sel = Selector::compile(&LabelSelector::default()).expect("valid");
        assert!(sel.matches(&NoLabels));
    }

    #[test]
    fn invalid_operators_and_values_are_rejected_with_the_key() {
        for (op, values) in [
            ("Equals", &["a"][..]),
            ("In", &[][..]),
            ("Exists", &["x"][..]),
        ] {
            let err = Selector::compile(&LabelSelector {
                match_expressions: Some(vec![expr("k", op, values)]),
                ..Default::default()
            })
            .expect_err("must be rejected");
            assert!(err.contains("\"k\""), "{err}");
        }
    }

    #[test]
    fn unknown_namespaces_carry_only_their_name_label() {
        let sel = Selector::compile(&LabelSelector {
            match_labels: Some(labels(&[("kubernetes.io/metadata.name", "prod")])),
            ..Default::default()
        })
        .expect("valid");
        assert!(sel.matches(&NamespaceNameOnly("prod")));
        assert!(!sel.matches(&NamespaceNameOnly("dev")));
    }
}
