//! scan_cli's two control planes, seeded once per test binary, and how its tests run the binary
//! against them.
//!
//! scan-a gets every example policy and the exception; scan-b lacks `team-ownership` and the
//! exception, and its `restricted-security` warns instead of denying.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{
    Applier, Document, NamespacePlan, load_dir, merge_kubeconfigs, write_kubeconfig,
};
use serde_json::Value;
use tokio::sync::OnceCell;

pub const A: &str = "scan-a";
pub const B: &str = "scan-b";
/// A context whose API server address has nothing listening.
pub const DOWN: &str = "scan-down";

/// The two control planes, seeded once for every test of this binary, and the files they use.
pub struct Clusters {
    pub a: ControlPlane,
    _b: ControlPlane,
    dir: tempfile::TempDir,
}

impl Clusters {
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The policy files each cluster got, for `check` with the same policies.
    pub fn policies(&self, context: &str) -> PathBuf {
        self.dir.path().join(context)
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn clusters() -> &'static Clusters {
    static CLUSTERS: OnceCell<Clusters> = OnceCell::const_new();
    CLUSTERS.get_or_init(start).await
}

async fn start() -> Clusters {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (a, b) = tokio::join!(
        ControlPlane::builder().context_name(A).start(),
        ControlPlane::builder().context_name(B).start()
    );
    let (a, b) = (a.expect("scan-a starts"), b.expect("scan-b starts"));

    let examples = root().join("examples");
    let manifests = load_dir(&examples.join("manifests")).expect("the example manifests load");
    let mut policies_a = load_dir(&examples.join("policies")).expect("the example policies load");
    policies_a.extend(load_dir(&examples.join("exceptions")).expect("the exception loads"));
    let mut policies_b: Vec<Document> = policies_a
        .iter()
        .filter(|d| d.kind() == "GuardianPolicy" && d.name() != "team-ownership")
        .cloned()
        .collect();
    for policy in &mut policies_b {
        if policy.name() == "restricted-security" {
            policy.object.data["spec"]["enforcement"] = Value::from("Warn");
        }
    }
    for (context, policies) in [(A, &policies_a), (B, &policies_b)] {
        write_documents(&dir.path().join(context), policies);
    }
    tokio::try_join!(
        seed(&a, &policies_a, &manifests),
        seed(&b, &policies_b, &manifests)
    )
    .expect("both clusters are seeded");

    // One kubeconfig with both contexts and one pointing at a closed port.
    let mut merged = merge_kubeconfigs(&[a.kubeconfig(), b.kubeconfig()]);
    let mut cluster = merged.clusters[0].clone();
    cluster.name = DOWN.into();
    if let Some(cluster) = cluster.cluster.as_mut() {
        cluster.server = Some(format!("https://127.0.0.1:{}", closed_port()));
    }
    let mut context = merged.contexts[0].clone();
    context.name = DOWN.into();
    if let Some(context) = context.context.as_mut() {
        context.cluster = DOWN.into();
    }
    merged.clusters.push(cluster);
    merged.contexts.push(context);
    write_kubeconfig(&merged, &dir.path().join("kubeconfig")).expect("kubeconfig written");
    Clusters { a, _b: b, dir }
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

async fn seed(
    cp: &ControlPlane,
    policies: &[Document],
    manifests: &[Document],
) -> guardian_testenv::demo::Result<()> {
    cp.install_crds().await?;
    let mut applier = Applier::new(cp.client()?);
    let namespaces: std::collections::BTreeSet<&str> = manifests
        .iter()
        .chain(policies)
        .filter_map(|d| d.object.metadata.namespace.as_deref())
        .filter(|ns| *ns != "default")
        .collect();
    for name in namespaces {
        let plan = NamespacePlan {
            name: name.to_owned(),
            labels: Default::default(),
        };
        applier.apply_namespace(&plan).await?;
    }
    for document in policies.iter().chain(manifests) {
        applier.apply(document).await?;
    }
    Ok(())
}

fn write_documents(dir: &Path, documents: &[Document]) {
    std::fs::create_dir_all(dir).expect("policy dir");
    for (index, document) in documents.iter().enumerate() {
        let text = serde_yaml_ng::to_string(&document.object).expect("a document serialises");
        std::fs::write(dir.join(format!("{index:02}.yaml")), text).expect("policy file");
    }
}

pub fn kube_guardian(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("the binary runs")
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn scan(clusters: &Clusters, contexts: &str, extra: &[&str]) -> Output {
    let kubeconfig = clusters.kubeconfig();
    let mut args = vec![
        "scan",
        "--kubeconfig",
        kubeconfig.to_str().expect("UTF-8 path"),
        "--contexts",
        contexts,
    ];
    args.extend(extra);
    kube_guardian(&args)
}

pub fn cluster<'a>(report: &'a Value, context: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["context"] == context))
        .unwrap_or_else(|| panic!("no cluster {context} in {report:#}"))
}
