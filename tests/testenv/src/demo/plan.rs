//! What each demo cluster gets: which examples, which namespaces and their labels. Pure data, so
//! the choice is unit-tested without a cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::documents::{self, Document};
use super::error::Result;

/// Label on every namespace the demo creates, so they are easy to find and clean up.
pub const DEMO_LABEL: &str = "kube-guardian.dev/demo";
/// The policy the drifted cluster lacks (a rename of the example breaks a unit test, not the demo).
pub(crate) const DRIFTED_WITHOUT_POLICY: &str = "team-ownership";
/// The drifted cluster's extra workload, embedded so the binary needs no file beside examples/.
const DRIFTED_EXTRA_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/drifted-extra.yaml");
const DRIFTED_EXTRA: &str = include_str!("drifted-extra.yaml");
/// Namespaces every cluster already has: never created or relabelled.
const BUILT_IN_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Which slice of the examples a cluster is seeded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Every example: policies, exceptions, compliant and violating workloads; namespaces `env: prod`.
    Reference,
    /// A cluster that drifted from the reference: no `team-ownership` policy and no exceptions (so
    /// the node agent excepted on the reference fails here), namespaces `env: staging`, and one more
    /// violating Deployment in `payments`.
    Drifted,
}

impl Variant {
    fn env_label(self) -> &'static str {
        match self {
            Self::Reference => "prod",
            Self::Drifted => "staging",
        }
    }
}

/// A namespace to create, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Everything one cluster is seeded with, in apply order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every namespace the objects name, except the built-in ones.
    pub namespaces: Vec<NamespacePlan>,
    /// GuardianPolicies and GuardianExceptions first (an operator watching sees policies before
    /// the workloads they judge), then the workloads in file order.
    pub documents: Vec<Document>,
}

impl Plan {
    /// The plan for `variant` from the files under `examples` (the repository's `examples/`).
    pub fn load(examples: &Path, variant: Variant) -> Result<Self> {
        let mut documents = documents::load_dir(examples)?;
        if variant == Variant::Drifted {
            documents.retain(|d| {
                !(d.kind() == "GuardianException"
                    || (d.kind() == "GuardianPolicy" && d.name() == DRIFTED_WITHOUT_POLICY))
            });
            documents.extend(documents::parse(
                DRIFTED_EXTRA,
                Path::new(DRIFTED_EXTRA_PATH),
            )?);
        }
        // Stable: keeps file order within each group.
        documents.sort_by_key(|d| !is_guardian_kind(d.kind()));
        let names: BTreeSet<&str> = documents
            .iter()
            .filter_map(|d| d.object.metadata.namespace.as_deref())
            .filter(|ns| !BUILT_IN_NAMESPACES.contains(ns))
            .collect();
        let namespaces = names
            .into_iter()
            .map(|name| NamespacePlan {
                name: name.to_owned(),
                labels: namespace_labels(variant, name),
            })
            .collect();
        Ok(Self {
            namespaces,
            documents,
        })
    }
}

fn is_guardian_kind(kind: &str) -> bool {
    matches!(kind, "GuardianPolicy" | "GuardianException")
}

/// `env` differs per cluster and `team` names the owner, so namespaceSelectors and the console's
/// filters have something to select on.
fn namespace_labels(variant: Variant, name: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (DEMO_LABEL.to_owned(), "true".to_owned()),
        ("env".to_owned(), variant.env_label().to_owned()),
    ]);
    let team = match name {
        "monitoring" => Some("observability"),
        "shop" | "payments" => Some(name),
        _ => None,
    };
    if let Some(team) = team {
        labels.insert("team".to_owned(), team.to_owned());
    }
    labels
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn examples() -> PathBuf {
        super::super::examples_dir()
    }

    fn kinds(plan: &Plan) -> BTreeSet<&str> {
        plan.documents.iter().map(Document::kind).collect()
    }

    fn has(plan: &Plan, kind: &str, name: &str) -> bool {
        plan.documents
            .iter()
            .any(|d| d.kind() == kind && d.name() == name)
    }

    #[test]
    fn the_reference_plan_has_every_kind_and_namespace() -> Result<()> {
        let plan = Plan::load(&examples(), Variant::Reference)?;
        for kind in [
            "GuardianPolicy",
            "GuardianException",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "CronJob",
            "Pod",
        ] {
            assert!(
                kinds(&plan).contains(kind),
                "no {kind} in {:?}",
                kinds(&plan)
            );
        }
        let names: Vec<&str> = plan.namespaces.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["monitoring", "shop"]);
        assert_eq!(plan.namespaces[1].labels["env"], "prod");
        assert_eq!(plan.namespaces[1].labels["team"], "shop");
        // Policies and exceptions come before any workload.
        let first_workload = plan
            .documents
            .iter()
            .position(|d| !is_guardian_kind(d.kind()))
            .unwrap_or(plan.documents.len());
        assert!(
            plan.documents[first_workload..]
                .iter()
                .all(|d| !is_guardian_kind(d.kind()))
        );
        Ok(())
    }

    #[test]
    fn the_drifted_plan_differs_as_documented() -> Result<()> {
        let reference = Plan::load(&examples(), Variant::Reference)?;
        let drifted = Plan::load(&examples(), Variant::Drifted)?;
        // The policy it drops exists in the examples; otherwise dropping it would do nothing.
        assert!(has(&reference, "GuardianPolicy", DRIFTED_WITHOUT_POLICY));
        assert!(!has(&drifted, "GuardianPolicy", DRIFTED_WITHOUT_POLICY));
        assert!(has(&drifted, "GuardianPolicy", "restricted-security"));
        assert!(!kinds(&drifted).contains("GuardianException"));
        assert!(has(&drifted, "Deployment", "checkout"));
        assert!(!has(&reference, "Deployment", "checkout"));
        let payments = drifted.namespaces.iter().find(|n| n.name == "payments");
        assert_eq!(payments.map(|n| n.labels["env"].as_str()), Some("staging"));
        Ok(())
    }
}
