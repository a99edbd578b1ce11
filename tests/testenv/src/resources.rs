//! Cluster setup helpers: the project's CRDs and per-test namespaces.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::{Api, Client};

use crate::control_plane::ControlPlane;
use crate::error::{Error, Result};
use crate::local::error_chain;

/// The PolicyReports (wgpolicyk8s.io/v1alpha2) of `namespace`, as kube-guardian writes them.
pub fn policy_reports(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "wgpolicyk8s.io/v1alpha2".into(),
        kind: "PolicyReport".into(),
        plural: "policyreports".into(),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// Label on every namespace the harness creates: `kubectl delete ns -l kube-guardian.dev/testenv`
/// cleans up after runs against an existing cluster.
pub const NAMESPACE_LABEL: &str = "kube-guardian.dev/testenv";
/// Server-side apply field manager of the harness.
const FIELD_MANAGER: &str = "guardian-testenv";
/// How long a CRD may take to be Established and served.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

impl ControlPlane {
    /// Applies every CRD of `guardian_core::crd::all_crds()` and waits until each is Established
    /// and its resource is served. Idempotent, so tests sharing a control plane may all call it.
    pub async fn install_crds(&self) -> Result<()> {
        let client = self.client()?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let all = guardian_core::crd::all_crds();
        for crd in &all {
            let name = crd.metadata.name.clone().unwrap_or_default();
            crds.patch(&name, &params, &Patch::Apply(crd))
                .await
                .map_err(|source| Error::Api {
                    what: format!("applying CRD {name}"),
                    source,
                })?;
        }
        for crd in &all {
            wait_until_served(&client, &crds, crd).await?;
        }
        Ok(())
    }

    /// Creates a namespace named `<prefix>-<random>` (labelled [`NAMESPACE_LABEL`]) and returns
    /// its name; unique across tests, test binaries and runs.
    pub async fn create_namespace(&self, prefix: &str) -> Result<String> {
        let name = unique_name(prefix);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([(
                    NAMESPACE_LABEL.to_owned(),
                    "true".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client()?)
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(|source| Error::Api {
                what: format!("creating namespace {name}"),
                source,
            })?;
        Ok(name)
    }
}

/// Established is not quite enough: discovery and the resource's handler catch up a moment later,
/// so also wait until a list of the new resource succeeds.
async fn wait_until_served(
    client: &Client,
    crds: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
) -> Result<()> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let started = Instant::now();
    let mut last: String;
    loop {
        match crds.get(&name).await {
            Ok(current) if is_established(&current) => {
                match Api::<DynamicObject>::all_with(client.clone(), &api_resource(crd))
                    .list(&ListParams::default().limit(1))
                    .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        last = format!("Established, but listing it failed: {}", error_chain(&e))
                    }
                }
            }
            Ok(current) => {
                last = format!("conditions {:?}", current.status.and_then(|s| s.conditions))
            }
            Err(e) => last = error_chain(&e),
        }
        if started.elapsed() >= CRD_TIMEOUT {
            return Err(Error::CrdNotEstablished {
                name,
                waited: started.elapsed(),
                last,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// The dynamic API description of a CRD's storage version.
fn api_resource(crd: &CustomResourceDefinition) -> ApiResource {
    let spec = &crd.spec;
    let version = spec
        .versions
        .iter()
        .find(|v| v.storage)
        .or_else(|| spec.versions.first())
        .map(|v| v.name.clone())
        .unwrap_or_default();
    ApiResource {
        group: spec.group.clone(),
        api_version: format!("{}/{version}", spec.group),
        version,
        kind: spec.names.kind.clone(),
        plural: spec.names.plural.clone(),
    }
}

/// `<prefix>-<6 random chars>`, a valid DNS-1123 label of at most 63 characters: a name no
/// other test (or earlier run against an existing cluster) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    clean = clean.trim_matches('-').to_owned();
    if clean.is_empty() {
        clean.push_str("test");
    }
    // RandomState is seeded randomly per process; mixing in a counter and the pid keeps names
    // distinct within a process and across parallel test binaries.
    let seed = COUNTER.fetch_add(1, Ordering::Relaxed) ^ (u64::from(std::process::id()) << 32);
    let mut n = RandomState::new().hash_one(seed);
    let suffix: String = (0..6)
        .map(|_| {
            let c = b"abcdefghijklmnopqrstuvwxyz0123456789"[(n % 36) as usize];
            n /= 36;
            char::from(c)
        })
        .collect();
    format!("{clean}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_dns_labels_and_differ() {
        let a = unique_name("RBAC_Test!");
        let b = unique_name("RBAC_Test!");
        assert_ne!(a, b);
        for name in [&a, &b, &unique_name(""), &unique_name(&"x".repeat(100))] {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
        assert!(a.starts_with("rbac-test-"), "{a}");
    }
}
