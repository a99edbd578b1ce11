//! The demo's two clusters differ on purpose; the drift report says exactly how. The objects are
//! the ones `make demo` applies (`guardian_testenv::demo::Plan`), turned into snapshots.

use std::sync::Arc;

use guardian_cluster::drift::{DriftKind, drift};
use guardian_cluster::{ClusterSnapshot, ClusterState, Connection};
use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_testenv::demo::{Plan, Variant, examples_dir};
use k8s_openapi::jiff::Timestamp;
use serde::de::DeserializeOwned;

fn typed<T: DeserializeOwned>(plan: &Plan, kind: &str) -> Vec<Arc<T>> {
    plan.documents
        .iter()
        .filter(|d| d.kind() == kind)
        .map(|d| {
            let json = serde_json::to_value(&d.object).expect("a document serialises");
            Arc::new(serde_json::from_value(json).unwrap_or_else(|e| {
                panic!("{} {} is not a {kind}: {e}", d.source.display(), d.name())
            }))
        })
        .collect()
}

fn seeded(context: &str, variant: Variant) -> ClusterSnapshot {
    let plan = Plan::load(&examples_dir(), variant).expect("the demo plan loads");
    ClusterSnapshot {
        generation: 1,
        connection: Connection {
            state: ClusterState::Synced,
            since: Timestamp::UNIX_EPOCH,
            last_synced: Some(Timestamp::UNIX_EPOCH),
            next_retry: None,
        },
        evaluations: Vec::new(),
        policies: typed::<GuardianPolicy>(&plan, "GuardianPolicy"),
        exceptions: typed::<GuardianException>(&plan, "GuardianException"),
        ..ClusterSnapshot::connecting(context, Timestamp::UNIX_EPOCH)
    }
}

#[test]
fn the_demo_clusters_drift_by_one_policy_and_one_exception() {
    let a = seeded("demo-a", Variant::Reference);
    let b = seeded("demo-b", Variant::Drifted);
    assert!(a.policies.len() > 1, "the demo seeds several policies");
    let report = drift(&[&a, &b]);
    assert_eq!(report.compared, ["demo-a", "demo-b"]);
    assert_eq!(
        serde_json::to_value(&report.drifts).expect("the report serialises"),
        serde_json::json!([
            {
                "kind": "GuardianPolicy", "name": "team-ownership",
                "presentIn": ["demo-a"], "missingIn": ["demo-b"], "fields": []
            },
            {
                "kind": "GuardianException", "name": "monitoring/legacy-node-agent",
                "presentIn": ["demo-a"], "missingIn": ["demo-b"], "fields": []
            }
        ])
    );
    assert_eq!(report.drifts[0].kind, DriftKind::GuardianPolicy);
}
