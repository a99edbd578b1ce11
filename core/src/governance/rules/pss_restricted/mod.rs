//! Pod Security Standards, restricted level: the controls restricted adds to baseline
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>).
//!
//! Follows the Kubernetes 1.37 policy version of the pod-security admission controller: the
//! Linux-only controls exempt pods with `spec.os.name: windows`, and the user controls exempt pods
//! in a user namespace (`spec.hostUsers: false`).

mod linux;
mod users;
mod volumes;

use crate::crd::Profile;
use crate::governance::traits::BuiltinRule;

const RESTRICTED: &[Profile] = &[Profile::PssRestricted];

/// In the order of the PSS restricted table.
pub const RULES: &[BuiltinRule] = &[
    volumes::VOLUME_TYPES,
    linux::PRIVILEGE_ESCALATION,
    users::RUN_AS_NON_ROOT,
    users::RUN_AS_USER,
    linux::SECCOMP,
    linux::CAPABILITIES,
    linux::PROC_MOUNT,
];
