//! Shared helpers for the operator's tests against the real local control plane.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use guardian_cluster::cache::{NamespaceCache, WorkloadCache};
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::GuardianPolicy;
pub use guardian_operator::config::InitialListFlag;
use guardian_operator::controller::{self, ControllerOptions};
use guardian_operator::metrics::Metrics;
use guardian_testenv::ControlPlane;
pub use guardian_testenv::policy::TestPolicy;
use kube::Client;
use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub mod reconciles;
pub mod report_refusal;

/// Generous: the CI machine has two loaded cores.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub async fn cluster() -> &'static ControlPlane {
    let cp = ControlPlane::shared()
        .await
        .expect("the local control plane starts");
    guardian_testenv::demo::install_crds(cp)
        .await
        .expect("the CRDs install");
    cp
}

/// Polls `check` until it returns `Some`, failing with `what` after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An in-process operator (controller only) with leadership under the test's control.
#[derive(Debug)]
pub struct Operator {
    /// Tells its reconciles from other operators' (see `reconciles`).
    pub id: u64,
    pub token: CancellationToken,
    /// Held so leadership stays true for the operator's lifetime.
    _leader: watch::Sender<bool>,
    pub ready: Arc<AtomicBool>,
    pub metrics: Metrics,
    handle: tokio::task::JoinHandle<()>,
}

impl Operator {
    pub async fn start(client: Client, resync: Duration) -> Operator {
        Self::start_with(client, resync, InitialListFlag::Auto).await
    }

    pub async fn start_with(
        client: Client,
        resync: Duration,
        initial_list: InitialListFlag,
    ) -> Operator {
        let store = Arc::new(PolicyStore::new());
        Self::start_as(client, resync, initial_list, true, store, 2).await
    }

    /// `leading`: false for a standby replica (it writes nothing, and serves the webhook);
    /// `store`: the compiled set the webhook would enforce; `concurrency`: reconciles at once
    /// (1 makes them complete in the order they were scheduled).
    pub async fn start_as(
        client: Client,
        resync: Duration,
        initial_list: InitialListFlag,
        leading: bool,
        store: Arc<PolicyStore>,
        concurrency: u16,
    ) -> Operator {
        let token = CancellationToken::new();
        let (leader, leader_rx) = watch::channel(leading);
        let ready = Arc::new(AtomicBool::new(false));
        let metrics = Metrics::new().expect("metrics");
        let on_ready: Arc<dyn Fn() + Send + Sync> = {
            let ready = ready.clone();
            Arc::new(move || ready.store(true, Ordering::SeqCst))
        };
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::SeqCst);
        // Its reconciles are counted as its own (see `reconciles`).
        let span = tracing::info_span!(reconciles::OPERATOR_SPAN, id);
        let handle = tokio::spawn(tracing::Instrument::instrument(
            controller::run(
                client,
                ControllerOptions {
                    resync,
                    concurrency,
                    initial_list,
                    identity: "test".into(),
                    // A refused report write is retried within a second, well inside DEADLINE.
                    report_retry: (Duration::from_millis(100), Duration::from_secs(1)),
                },
                store,
                Arc::new(WorkloadCache::default()),
                Arc::new(NamespaceCache::default()),
                metrics.clone(),
                leader_rx,
                on_ready,
                token.clone(),
            ),
            span,
        ));
        let op = Operator {
            id,
            token,
            _leader: leader,
            ready,
            metrics,
            handle,
        };
        eventually("the operator's caches to sync", || async {
            op.ready.load(Ordering::SeqCst).then_some(())
        })
        .await;
        op
    }

    /// The sum of the operator's samples of metric `prefix` (a name, or a name and its labels).
    pub fn metric(&self, prefix: &str) -> f64 {
        guardian_testenv::operator_process::metric_sum(&self.metrics.render(), prefix)
    }

    /// Waits for the operator's report pass: every cache listed (each list distrusted the kept
    /// results before it counted) and every live policy evaluated. A policy created after it is
    /// evaluated in full once, by its own reconcile, and by nothing else.
    pub async fn converged(&self) {
        eventually("the report convergence pass", || async {
            (self.metric("kube_guardian_report_passes_total") >= 1.0).then_some(())
        })
        .await;
    }

    /// Stops the controller and waits until it has: nothing of it runs afterwards.
    pub async fn stop(self) {
        self.token.cancel();
        let stopped = tokio::time::timeout(DEADLINE, self.handle).await;
        assert!(
            stopped.is_ok(),
            "the operator did not stop within {DEADLINE:?}"
        );
    }
}

/// Creates any object from YAML in `namespace` (or cluster-scoped when it has none).
pub async fn create(client: &Client, namespace: Option<&str>, yaml: &str) -> DynamicObject {
    let obj: DynamicObject = serde_yaml_ng::from_str(yaml).expect("test YAML parses");
    let api = dynamic_api(client, namespace, &obj).await;
    api.create(&PostParams::default(), &obj)
        .await
        .expect("the object is created")
}

pub async fn dynamic_api(
    client: &Client,
    namespace: Option<&str>,
    obj: &DynamicObject,
) -> Api<DynamicObject> {
    let types = obj.types.as_ref().expect("apiVersion and kind");
    let (group, version) = types
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", &types.api_version));
    let gvk = GroupVersionKind::gvk(group, version, &types.kind);
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .expect("the kind is served");
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

pub async fn policy(client: &Client, name: &str) -> Option<GuardianPolicy> {
    Api::<GuardianPolicy>::all(client.clone())
        .get_opt(name)
        .await
        .expect("get policy")
}

/// A policy with the privileged and host-namespaces rules, matching `namespace`.
pub fn two_rule_policy(name: &str, namespace: &str, enforcement: &str) -> TestPolicy {
    TestPolicy::new(name)
        .enforcement(enforcement)
        .namespaces([namespace])
        .rules(["pss-privileged", "pss-host-namespaces"])
}

pub fn policy_report_api(client: &Client, namespace: &str) -> Api<DynamicObject> {
    guardian_testenv::policy_reports(client, namespace)
}

pub fn deployment(name: &str, privileged: bool) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
        securityContext: {{privileged: {privileged}}}
"#
    )
}

pub fn pod(name: &str, host_network: bool) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  hostNetwork: {host_network}
  containers:
  - name: app
    image: registry.example.com/app:1.0
"#
    )
}
