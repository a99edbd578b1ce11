//! Policy drift across clusters: GuardianPolicies (by name) and GuardianExceptions (by
//! namespace/name) compared across the selected clusters. An object is reported when some
//! cluster lacks it, or when its spec differs: each differing field by its JSON path
//! (`spec.enforcement`, `spec.rules[1].severity`) with every cluster's value. Deterministic:
//! policies before exceptions, by name; fields in key order.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::snapshot::{ClusterSnapshot, KindState};

pub use crate::kinds::EXCEPTIONS as EXCEPTIONS_RESOURCE;
/// The resources drift compares, as [`crate::KindStatus::resource`] names them.
pub use crate::kinds::POLICIES as POLICIES_RESOURCE;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum DriftKind {
    GuardianPolicy,
    GuardianException,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::GuardianPolicy => "GuardianPolicy",
            DriftKind::GuardianException => "GuardianException",
        }
    }
}

/// One field's value in one cluster; `None` when the field is absent there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterValue {
    pub context: String,
    pub value: Option<Value>,
}

/// A field whose value is not the same in every cluster that has the object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDrift {
    /// From the object's root: `spec.rules[1].severity`.
    pub path: String,
    /// One per cluster that has the object, in the clusters' order.
    pub values: Vec<ClusterValue>,
}

/// One object that is missing somewhere or differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub kind: DriftKind,
    /// The policy's name, or the exception's `namespace/name`.
    pub name: String,
    pub present_in: Vec<String>,
    pub missing_in: Vec<String>,
    /// Empty when the object is only missing somewhere and the same everywhere else.
    pub fields: Vec<FieldDrift>,
}

/// What drifted among the compared clusters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// The clusters whose policies and exceptions are known (synced at least once, both kinds
    /// readable and installed); the others cannot be compared.
    pub compared: Vec<String>,
    pub drifts: Vec<Drift>,
}

/// Compares the policies and exceptions of `snapshots`.
pub fn drift(snapshots: &[&ClusterSnapshot]) -> DriftReport {
    let compared: Vec<&ClusterSnapshot> = snapshots
        .iter()
        .copied()
        .filter(|s| comparable(s))
        .collect();
    // (kind, name) → per compared cluster, its spec as JSON.
    let mut objects: BTreeMap<(DriftKind, String), Vec<Option<Value>>> = BTreeMap::new();
    for (index, snapshot) in compared.iter().enumerate() {
        let mut put = |kind: DriftKind, name: String, spec: Value| {
            objects
                .entry((kind, name))
                .or_insert_with(|| vec![None; compared.len()])[index] = Some(spec);
        };
        for policy in &snapshot.policies {
            let name = policy.metadata.name.clone().unwrap_or_default();
            put(DriftKind::GuardianPolicy, name, to_json(&policy.spec));
        }
        for exception in &snapshot.exceptions {
            let name = format!(
                "{}/{}",
                exception.metadata.namespace.as_deref().unwrap_or_default(),
                exception.metadata.name.as_deref().unwrap_or_default()
            );
            put(DriftKind::GuardianException, name, to_json(&exception.spec));
        }
    }
    let mut drifts = Vec::new();
    for ((kind, name), specs) in objects {
        let (mut present_in, mut missing_in) = (Vec::new(), Vec::new());
        let mut present = Vec::new();
        for (snapshot, spec) in compared.iter().zip(&specs) {
            match spec {
                Some(spec) => {
                    present_in.push(snapshot.context.clone());
                    present.push(Some(spec));
                }
                None => missing_in.push(snapshot.context.clone()),
            }
        }
        let mut fields = Vec::new();
        diff("spec", &present, &mut |path, values| {
            fields.push(FieldDrift {
                path,
                values: present_in
                    .iter()
                    .zip(values)
                    .map(|(context, value)| ClusterValue {
                        context: context.clone(),
                        value: value.cloned(),
                    })
                    .collect(),
            });
        });
        if !missing_in.is_empty() || !fields.is_empty() {
            drifts.push(Drift {
                kind,
                name,
                present_in,
                missing_in,
                fields,
            });
        }
    }
    DriftReport {
        compared: compared.iter().map(|s| s.context.clone()).collect(),
        drifts,
    }
}

/// Whether a cluster's policies and exceptions are known: both kinds listed once and neither is
/// forbidden or missing now (comparing an unknown set would report everything as missing).
/// Public so a face can tell whether a new snapshot changes the comparison.
pub fn comparable(snapshot: &ClusterSnapshot) -> bool {
    snapshot.connection.last_synced.is_some()
        && snapshot.policies_known()
        && !snapshot.kinds.iter().any(|k| {
            (k.resource == POLICIES_RESOURCE || k.resource == EXCEPTIONS_RESOURCE)
                && matches!(
                    k.state,
                    KindState::Forbidden { .. } | KindState::NotInstalled
                )
        })
}

fn to_json(spec: &impl Serialize) -> Value {
    // A spec that was deserialised always serialises; Null would only hide a difference.
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

/// Calls `report` with the path and values of every leaf where `values` differ. An absent
/// value (`None`) differs from any present one.
fn diff(path: &str, values: &[Option<&Value>], report: &mut dyn FnMut(String, &[Option<&Value>])) {
    if values.windows(2).all(|pair| pair[0] == pair[1]) {
        return;
    }
    let present = || values.iter().flatten();
    if present().all(|v| v.is_object()) {
        let keys: BTreeSet<&String> = present()
            .filter_map(|v| v.as_object())
            .flat_map(|o| o.keys())
            .collect();
        for key in keys {
            let children: Vec<Option<&Value>> = values
                .iter()
                .map(|v| v.and_then(|v| v.get(key.as_str())))
                .collect();
            diff(&child_path(path, key), &children, report);
        }
    } else if present().all(|v| v.is_array()) {
        let len = present()
            .filter_map(|v| v.as_array().map(Vec::len))
            .max()
            .unwrap_or(0);
        for index in 0..len {
            let children: Vec<Option<&Value>> = values
                .iter()
                .map(|v| v.and_then(|v| v.get(index)))
                .collect();
            diff(&format!("{path}[{index}]"), &children, report);
        }
    } else {
        report(path.to_owned(), values);
    }
}

/// `spec.match`, or `…matchLabels["app.kubernetes.io/name"]` for a key that is not a plain
/// identifier.
fn child_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use guardian_core::crd::{Enforcement, GuardianPolicy, GuardianPolicySpec, Profile, RuleSpec};
    use guardian_core::model::Severity;
    use serde_json::json;

    use super::*;
    use crate::snapshot::KindStatus;
    use crate::testing::snapshot;

    fn policy(
        name: &str,
        enforcement: Enforcement,
        severity: Option<Severity>,
    ) -> Arc<GuardianPolicy> {
        Arc::new(GuardianPolicy::new(
            name,
            GuardianPolicySpec {
                enforcement,
                profiles: vec![Profile::PssBaseline],
                rules: vec![
                    RuleSpec {
                        id: Some("privileged".into()),
                        ..RuleSpec::default()
                    },
                    RuleSpec {
                        id: Some("host-path".into()),
                        severity,
                        ..RuleSpec::default()
                    },
                ],
                ..GuardianPolicySpec::default()
            },
        ))
    }

    fn cluster(context: &str, policies: Vec<Arc<GuardianPolicy>>) -> ClusterSnapshot {
        let mut s = snapshot(context, Vec::new());
        s.policies = policies;
        s
    }

    #[test]
    fn missing_and_changed_policies_are_reported_field_by_field() {
        let a = cluster(
            "a",
            vec![
                policy("same", Enforcement::Deny, None),
                policy("changed", Enforcement::Deny, None),
                policy("only-a", Enforcement::Audit, None),
            ],
        );
        let b = cluster(
            "b",
            vec![
                policy("same", Enforcement::Deny, None),
                policy("changed", Enforcement::Warn, Some(Severity::Low)),
            ],
        );
        let report = drift(&[&a, &b]);
        assert_eq!(report.compared, ["a", "b"]);
        let got = serde_json::to_value(&report.drifts).expect("serialises");
        assert_eq!(
            got,
            json!([
                {
                    "kind": "GuardianPolicy", "name": "changed",
                    "presentIn": ["a", "b"], "missingIn": [],
                    "fields": [
                        {"path": "spec.enforcement", "values": [
                            {"context": "a", "value": "Deny"},
                            {"context": "b", "value": "Warn"}]},
                        {"path": "spec.rules[1].severity", "values": [
                            {"context": "a", "value": null},
                            {"context": "b", "value": "low"}]},
                    ]
                },
                {
                    "kind": "GuardianPolicy", "name": "only-a",
                    "presentIn": ["a"], "missingIn": ["b"], "fields": []
                }
            ])
        );
    }

    #[test]
    fn paths_quote_keys_that_are_not_identifiers_and_index_longer_lists() {
        let mut fields = Vec::new();
        let a = json!({"sel": {"app.kubernetes.io/name": "x"}, "ns": ["a"]});
        let b = json!({"sel": {"app.kubernetes.io/name": "y"}, "ns": ["a", "b"]});
        diff("spec", &[Some(&a), Some(&b)], &mut |path, values| {
            fields.push((path, values.iter().map(|v| v.cloned()).collect::<Vec<_>>()));
        });
        assert_eq!(
            fields,
            [
                ("spec.ns[1]".to_owned(), vec![None, Some(json!("b"))]),
                (
                    "spec.sel[\"app.kubernetes.io/name\"]".to_owned(),
                    vec![Some(json!("x")), Some(json!("y"))]
                ),
            ]
        );
    }

    #[test]
    fn clusters_whose_policies_are_unknown_are_not_compared() {
        let a = cluster("a", vec![policy("p", Enforcement::Deny, None)]);
        let mut never_synced = cluster("b", Vec::new());
        never_synced.connection.last_synced = None;
        let mut no_crds = cluster("c", Vec::new());
        no_crds.kinds = vec![KindStatus {
            resource: POLICIES_RESOURCE.into(),
            state: KindState::NotInstalled,
            objects: 0,
            listed: false,
        }];
        let report = drift(&[&a, &never_synced, &no_crds]);
        assert_eq!(report.compared, ["a"]);
        assert!(report.drifts.is_empty(), "{:?}", report.drifts);
    }
}
