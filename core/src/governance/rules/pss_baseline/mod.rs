//! Pod Security Standards, baseline level: <https://kubernetes.io/docs/concepts/security/pod-security-standards/>.
//!
//! Follows the Kubernetes 1.37 policy version of the pod-security admission controller, control by
//! control: every check covers init, regular and ephemeral containers, as PSS does.

mod confinement;
mod containers;
mod host;

use crate::crd::Profile;
use crate::governance::traits::BuiltinRule;

pub(crate) use containers::proc_mount_violations;

const BASELINE: &[Profile] = &[Profile::PssBaseline, Profile::PssRestricted];

/// In the order of the PSS baseline table.
pub const RULES: &[BuiltinRule] = &[
    host::HOST_PROCESS,
    host::HOST_NAMESPACES,
    containers::PRIVILEGED,
    containers::CAPABILITIES,
    host::HOST_PATH_VOLUMES,
    host::HOST_PORTS,
    host::HOST_PROBES,
    confinement::APPARMOR,
    confinement::SELINUX,
    containers::PROC_MOUNT,
    confinement::SECCOMP,
    confinement::SYSCTLS,
];
