//! `ControlPlane`: a real kube-apiserver + etcd for a test (or an existing cluster, when
//! `KUBE_GUARDIAN_TEST_KUBECONFIG` is set), its kubeconfig and clients.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::Client;
use kube::config::Kubeconfig;

use crate::binaries;
use crate::env;
use crate::error::{Error, Result};
use crate::kubeconfig;
use crate::local::{LocalOptions, LocalPlane};

/// A Kubernetes API to test against. Dropping a local one stops its processes (apiserver first,
/// then etcd) and removes its temp dir; a panicking test keeps the dir for inspection.
///
/// The control plane holds no async resources, so one instance may serve several tokio runtimes
/// (see [`ControlPlane::shared`]); clients are made per call for the same reason.
#[derive(Debug)]
pub struct ControlPlane {
    backend: Backend,
    context: String,
    config: kube::Config,
}

#[derive(Debug)]
enum Backend {
    Local(Box<LocalPlane>),
    Existing {
        kubeconfig: Box<Kubeconfig>,
        path: PathBuf,
    },
}

/// Options for [`ControlPlane`]; [`ControlPlaneBuilder::start`] starts it.
#[derive(Debug, Clone)]
pub struct ControlPlaneBuilder {
    binary_dir: Option<PathBuf>,
    context: String,
    extra_apiserver_args: Vec<String>,
    start_timeout: Duration,
    use_existing: Option<bool>,
    existing: Option<(PathBuf, Option<String>)>,
    controller_manager: bool,
}

impl Default for ControlPlaneBuilder {
    fn default() -> Self {
        Self {
            binary_dir: None,
            context: "envtest".into(),
            extra_apiserver_args: Vec::new(),
            // Generous: a cold start on a loaded 2-core machine takes several seconds, not 60.
            start_timeout: Duration::from_secs(60),
            use_existing: None,
            existing: None,
            controller_manager: false,
        }
    }
}

impl ControlPlaneBuilder {
    /// Where `etcd` and `kube-apiserver` are; default: the directory build.sh builds into.
    pub fn binary_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.binary_dir = Some(dir.into());
        self
    }

    /// The kubeconfig context (and cluster) name; default `envtest`.
    pub fn context_name(mut self, name: impl Into<String>) -> Self {
        self.context = name.into();
        self
    }

    /// An extra kube-apiserver flag, e.g. `--admission-control-config-file=…`. Later flags win.
    pub fn apiserver_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_apiserver_args.push(arg.into());
        self
    }

    /// How long to wait for `/readyz`; default 60 s.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Whether to use the cluster of `KUBE_GUARDIAN_TEST_KUBECONFIG`; default: whether it is set.
    /// `false` forces a local control plane, for tests that restart or break it.
    pub fn use_existing_cluster(mut self, use_existing: bool) -> Self {
        self.use_existing = Some(use_existing);
        self
    }

    /// Also run kube-controller-manager (built by `build.sh --with-controller-manager`), for tests
    /// and demos that need Deployments to make Pods, namespaces to finish deleting, or garbage
    /// collection. Off by default: it costs ~125 MB and a few seconds of start-up.
    pub fn with_controller_manager(mut self) -> Self {
        self.controller_manager = true;
        self
    }

    /// Use the cluster of this kubeconfig (and context, else its current one) instead of starting
    /// one, as `KUBE_GUARDIAN_TEST_KUBECONFIG` does.
    pub fn existing_cluster(
        mut self,
        kubeconfig: impl Into<PathBuf>,
        context: Option<String>,
    ) -> Self {
        self.existing = Some((kubeconfig.into(), context));
        self
    }

    /// Starts the control plane (or connects to the existing cluster) and waits until it is ready.
    pub async fn start(self) -> Result<ControlPlane> {
        let existing = match self.use_existing {
            Some(false) => None,
            Some(true) | None => self.existing.or_else(env::existing_cluster),
        };
        if let Some((path, context)) = existing {
            return ControlPlane::existing(path, context).await;
        }
        let binary_dir = match self.binary_dir {
            Some(dir) => dir,
            None => binaries::default_dir()?,
        };
        let local = LocalPlane::start(LocalOptions {
            binary_dir,
            context: self.context.clone(),
            extra_apiserver_args: self.extra_apiserver_args,
            start_timeout: self.start_timeout,
            controller_manager: self.controller_manager,
        })
        .await?;
        Ok(ControlPlane {
            config: local.config.clone(),
            context: self.context,
            backend: Backend::Local(Box::new(local)),
        })
    }
}

impl ControlPlane {
    /// Options for a control plane.
    pub fn builder() -> ControlPlaneBuilder {
        ControlPlaneBuilder::default()
    }

    /// Starts a control plane with default options.
    pub async fn start() -> Result<Self> {
        Self::builder().start().await
    }

    /// One control plane per test binary, started by the first test that asks. Tests share it and
    /// isolate themselves by namespace ([`ControlPlane::create_namespace`]).
    ///
    /// It lives in a static and is never dropped: its processes die with the test process (the
    /// kernel kills them), and its temp dir is removed by the next start of any control plane.
    pub async fn shared() -> Result<&'static ControlPlane> {
        static SHARED: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();
        SHARED.get_or_try_init(Self::start).await
    }

    /// [`ControlPlane::shared`], or `None` when [`SKIP_ENV`](crate::SKIP_ENV) asks to skip cluster
    /// tests (said loudly on stderr; an error under CI, see `guardian_core::ci`).
    pub async fn shared_unless_skipped() -> Result<Option<&'static ControlPlane>> {
        if env::skip_cluster_tests()? {
            return Ok(None);
        }
        Self::shared().await.map(Some)
    }

    async fn existing(path: PathBuf, context: Option<String>) -> Result<Self> {
        let kubeconfig = Kubeconfig::read_from(&path).map_err(|source| Error::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        let config = kubeconfig::to_config(kubeconfig.clone(), context.as_deref(), &path).await?;
        let context = context
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_default();
        Ok(Self {
            backend: Backend::Existing {
                kubeconfig: Box::new(kubeconfig),
                path,
            },
            context,
            config,
        })
    }

    /// A new admin client. Call it inside the tokio runtime that will use the client: a client
    /// is bound to the runtime it was made in.
    pub fn client(&self) -> Result<Client> {
        // kube's client spawns a task at construction; outside a runtime that would panic.
        tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        Client::try_from(self.config.clone()).map_err(|source| Error::Client {
            who: "the admin user".into(),
            source,
        })
    }

    /// The admin client configuration.
    pub fn config(&self) -> &kube::Config {
        &self.config
    }

    /// The kubeconfig file, usable by kubectl (`kubectl --kubeconfig <path> get ns`).
    pub fn kubeconfig_path(&self) -> &Path {
        match &self.backend {
            Backend::Local(local) => &local.kubeconfig_path,
            Backend::Existing { path, .. } => path,
        }
    }

    /// The kubeconfig as data.
    pub fn kubeconfig(&self) -> &Kubeconfig {
        match &self.backend {
            Backend::Local(local) => &local.kubeconfig,
            Backend::Existing { kubeconfig, .. } => kubeconfig,
        }
    }

    /// The kubeconfig context name.
    pub fn context_name(&self) -> &str {
        &self.context
    }

    /// True when this is the cluster of `KUBE_GUARDIAN_TEST_KUBECONFIG`, not a local one.
    pub fn is_existing_cluster(&self) -> bool {
        matches!(self.backend, Backend::Existing { .. })
    }

    /// The temp dir holding the PKI, kubeconfig and logs (local control planes only).
    pub fn dir(&self) -> Option<&Path> {
        self.local_ref().map(LocalPlane::dir)
    }

    /// The kube-apiserver log file (local control planes only).
    pub fn apiserver_log(&self) -> Option<PathBuf> {
        self.local_ref().map(LocalPlane::apiserver_log)
    }

    /// The etcd log file (local control planes only).
    pub fn etcd_log(&self) -> Option<PathBuf> {
        self.local_ref().map(LocalPlane::etcd_log)
    }

    /// The kube-controller-manager log file (local control planes started with it only).
    pub fn controller_manager_log(&self) -> Option<PathBuf> {
        self.local_ref()
            .filter(|l| l.runs_controller_manager())
            .map(LocalPlane::controller_manager_log)
    }

    /// `(name, pid)` of each running child process (local control planes only; empty otherwise).
    pub fn process_ids(&self) -> Vec<(&'static str, u32)> {
        self.local_ref()
            .map(LocalPlane::process_ids)
            .unwrap_or_default()
    }

    /// PEM of the CA the apiserver trusts for client certificates (local control planes only).
    pub fn client_ca_pem(&self) -> Option<&str> {
        self.local_ref().map(|l| l.pki.client_ca_pem.as_str())
    }

    /// Stops kube-apiserver and starts it again; stored objects survive (etcd keeps running).
    pub async fn restart_apiserver(&mut self) -> Result<()> {
        self.local_mut("restart_apiserver")?
            .restart_apiserver()
            .await
    }

    /// Stops kube-apiserver, keeping etcd and the port: clients see the connection refused, as
    /// for a cluster that went away.
    pub fn stop_apiserver(&mut self) -> Result<()> {
        self.local_mut("stop_apiserver")?.stop_apiserver()
    }

    /// Starts kube-apiserver again after [`ControlPlane::stop_apiserver`], on the same port, and
    /// waits until it is ready.
    pub async fn start_apiserver(&mut self) -> Result<()> {
        self.local_mut("start_apiserver")?.start_apiserver().await
    }

    /// Kills etcd as a crash would, keeping its data; the apiserver stays up but turns unready.
    pub fn stop_etcd(&mut self) -> Result<()> {
        self.local_mut("stop_etcd")?.stop_etcd()
    }

    /// Starts etcd again and waits until the apiserver is ready again.
    pub async fn start_etcd(&mut self) -> Result<()> {
        self.local_mut("start_etcd")?.start_etcd().await
    }

    pub(crate) fn local_ref(&self) -> Option<&LocalPlane> {
        match &self.backend {
            Backend::Local(local) => Some(local),
            Backend::Existing { .. } => None,
        }
    }

    fn local_mut(&mut self, operation: &'static str) -> Result<&mut LocalPlane> {
        match &mut self.backend {
            Backend::Local(local) => Ok(local),
            Backend::Existing { .. } => Err(Error::NotSupported { operation }),
        }
    }
}
