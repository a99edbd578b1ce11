//! The two-cluster demo (`make demo`) and the seed it shares with the integration tests.
//!
//! [`prepare`] installs the CRDs (the project's and the PolicyReport CRD the Helm chart ships) and
//! seeds a cluster from the repository's `examples/`: namespaces named by the manifests (labelled
//! `env` and `team`), GuardianPolicies and GuardianExceptions, then the compliant and violating
//! workloads. [`Variant`] makes the second cluster differ. [`Operator`] runs `kube-guardian
//! operator` against a cluster (one of several leader-elected replicas with
//! [`Operator::start_replica`]); [`merge_kubeconfigs`] gives kubectl and the console one file
//! with every cluster's context; [`Console`] runs `kube-guardian tui` on it in the foreground.

mod apply;
mod console;
mod crd;
mod documents;
mod error;
mod operator;
mod plan;

use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;

pub use apply::{Applied, Applier, FIELD_MANAGER};
pub use console::{Console, RunningConsole, supports_console};
pub use crd::install_crd_file;
pub use documents::{Document, load_dir, parse};
pub use error::{Error, Result};
pub use operator::{Operator, Replica, supports_operator};
pub use plan::{DEMO_LABEL, NamespacePlan, Plan, Variant};

use crate::ControlPlane;

/// What [`seed`] put into a cluster.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// The namespaces it created or labelled.
    pub namespaces: Vec<String>,
    /// Every object it applied, in order.
    pub objects: Vec<Applied>,
}

impl Seeded {
    /// How many objects of `kind` were applied.
    pub fn count(&self, kind: &str) -> usize {
        self.objects.iter().filter(|o| o.kind == kind).count()
    }

    /// Each kind applied, in the order first applied, with how many objects of it.
    pub fn counts(&self) -> Vec<(&str, usize)> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for object in &self.objects {
            match counts.iter_mut().find(|(kind, _)| *kind == object.kind) {
                Some((_, count)) => *count += 1,
                None => counts.push((&object.kind, 1)),
            }
        }
        counts
    }
}

/// The repository root (this crate lives in `tests/testenv`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .unwrap_or(manifest)
        .to_owned()
}

/// The repository's `examples/`, the seed of the demo and of the integration tests.
pub fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

/// The PolicyReport CRD file the Helm chart ships.
pub fn policy_report_crd_file() -> PathBuf {
    repo_root().join("helm/kube-guardian/files/policyreports.wgpolicyk8s.io.yaml")
}

/// Installs every CRD the operator needs (see [`install_crds`]) and seeds the cluster with
/// `variant` of the examples in `examples`.
pub async fn prepare(cp: &ControlPlane, examples: &Path, variant: Variant) -> Result<Seeded> {
    install_crds(cp).await?;
    seed(&cp.client()?, examples, variant).await
}

/// The project's CRDs (from code) and the PolicyReport CRD (from the chart).
pub async fn install_crds(cp: &ControlPlane) -> Result<()> {
    cp.install_crds().await?;
    install_policy_report_crd(&cp.client()?).await
}

/// The PolicyReport CRD the chart ships, installed and served ([`install_crd_file`]).
pub async fn install_policy_report_crd(client: &kube::Client) -> Result<()> {
    install_crd_file(client, &policy_report_crd_file()).await?;
    Ok(())
}

/// Applies the [`Plan`] for `variant` by server-side apply: namespaces first, then the objects.
/// The CRDs must be installed. Idempotent.
pub async fn seed(client: &kube::Client, examples: &Path, variant: Variant) -> Result<Seeded> {
    let plan = Plan::load(examples, variant)?;
    let mut applier = Applier::new(client.clone());
    let mut seeded = Seeded::default();
    for namespace in &plan.namespaces {
        applier.apply_namespace(namespace).await?;
        seeded.namespaces.push(namespace.name.clone());
    }
    for document in &plan.documents {
        seeded.objects.push(applier.apply(document).await?);
    }
    Ok(seeded)
}

/// One kubeconfig with the clusters, users and contexts of every given one; the first one's
/// current context stays current. Names must differ (the demo's are `demo-a` and `demo-b`).
pub fn merge_kubeconfigs(kubeconfigs: &[&Kubeconfig]) -> Kubeconfig {
    let mut merged = Kubeconfig {
        api_version: Some("v1".into()),
        kind: Some("Config".into()),
        current_context: kubeconfigs.first().and_then(|k| k.current_context.clone()),
        ..Kubeconfig::default()
    };
    for one in kubeconfigs {
        merged.clusters.extend(one.clusters.iter().cloned());
        merged.auth_infos.extend(one.auth_infos.iter().cloned());
        merged.contexts.extend(one.contexts.iter().cloned());
    }
    merged
}

/// Writes a kubeconfig readable by its owner only (it holds client keys).
pub fn write_kubeconfig(kubeconfig: &Kubeconfig, path: &Path) -> Result<()> {
    crate::kubeconfig::write(kubeconfig, path).map_err(Error::from)
}

/// Whether `binary <subcommand> --help` succeeds, i.e. this build has that subcommand.
pub fn has_subcommand(binary: &Path, subcommand: &str) -> bool {
    std::process::Command::new(binary)
        .args([subcommand, "--help"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Resident memory of a process in bytes, from `/proc/<pid>/status`; `None` once it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_of_this_process_is_known_and_of_a_missing_one_is_not() {
        assert!(rss_bytes(std::process::id()).is_some_and(|b| b > 0));
        assert_eq!(rss_bytes(u32::MAX), None);
    }

    #[test]
    fn merged_kubeconfigs_keep_every_context_and_the_first_current_one() {
        let one = |name: &str| {
            crate::kubeconfig::build(
                name,
                "https://127.0.0.1:1",
                "ca",
                &format!("{name}-admin"),
                crate::kubeconfig::token_auth("t"),
            )
        };
        let merged = merge_kubeconfigs(&[&one("demo-a"), &one("demo-b")]);
        let contexts: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(contexts, ["demo-a", "demo-b"]);
        assert_eq!(merged.clusters.len(), 2);
        assert_eq!(merged.auth_infos.len(), 2);
        assert_eq!(merged.current_context.as_deref(), Some("demo-a"));
    }

    #[test]
    fn counts_are_per_kind_in_the_order_first_applied() {
        let applied = |kind: &str, name: &str| Applied {
            kind: kind.to_owned(),
            namespace: None,
            name: name.to_owned(),
        };
        let seeded = Seeded {
            namespaces: Vec::new(),
            objects: vec![
                applied("GuardianPolicy", "a"),
                applied("Deployment", "b"),
                applied("GuardianPolicy", "c"),
                applied("Pod", "d"),
            ],
        };
        assert_eq!(
            seeded.counts(),
            [("GuardianPolicy", 2), ("Deployment", 1), ("Pod", 1)]
        );
    }

    #[test]
    fn the_policy_report_crd_file_is_where_the_chart_keeps_it() {
        assert!(policy_report_crd_file().is_file());
        assert!(examples_dir().join("policies").is_dir());
    }
}
