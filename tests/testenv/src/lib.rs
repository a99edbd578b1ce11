//! A real local Kubernetes control plane for kube-guardian's tests and demo.
//!
//! [`ControlPlane::start`] runs `etcd` and `kube-apiserver` (built by
//! `tests/control-plane/build.sh`) as child processes on free loopback ports, with a fresh PKI,
//! RBAC authorization and a kubeconfig on disk, much like controller-runtime's envtest.
//! [`ControlPlaneBuilder::with_controller_manager`] adds kube-controller-manager where a test
//! or the demo needs Pods from Deployments, namespace deletion or garbage collection.
//! Setting `KUBE_GUARDIAN_TEST_KUBECONFIG` (and optionally `KUBE_GUARDIAN_TEST_CONTEXT`) makes
//! the same API talk to an existing cluster instead.
//!
//! ```no_run
//! # async fn demo() -> Result<(), guardian_testenv::Error> {
//! let cp = guardian_testenv::ControlPlane::shared().await?;
//! cp.install_crds().await?;
//! let ns = cp.create_namespace("my-test").await?;
//! let client = cp.client()?;
//! # let _ = (ns, client);
//! # Ok(())
//! # }
//! ```
//!
//! Linux only: children are tied to the test process with `PR_SET_PDEATHSIG`.

mod binaries;
mod certs;
mod command;
mod control_plane;
pub mod demo;
mod env;
mod error;
mod identities;
mod kubeconfig;
pub mod lease;
mod local;
pub mod operator_process;
pub mod pods;
pub mod policy;
mod ports;
mod process;
mod resources;
pub mod tmux;
mod webhook;

pub use binaries::{DIR_ENV, Versions, default_dir as default_binary_dir};
pub use certs::{Ca, CertAndKey};
pub use command::output_within;
pub use control_plane::{ControlPlane, ControlPlaneBuilder};
pub use env::{
    EXISTING_CONTEXT_ENV, EXISTING_KUBECONFIG_ENV, SKIP_ENV, existing_cluster_configured,
    local_plane_wanted, skip_cluster_tests,
};
pub use error::{Error, Result};
pub use resources::{NAMESPACE_LABEL, policy_reports, unique_name};
pub use webhook::{WEBHOOK_NAME, webhook_configuration, webhook_resources};
