//! Security, reliability and efficiency best practices in the spirit of Polaris and kube-score:
//! checks that PSS does not make but that most production workloads should pass.

mod hardening;
mod images;
mod object;
mod probes;
mod resources;
mod secret_env;

use crate::crd::Profile;
use crate::governance::traits::BuiltinRule;

const BEST_PRACTICES: &[Profile] = &[Profile::BestPractices];

/// Security first, then efficiency, then reliability.
pub const RULES: &[BuiltinRule] = &[
    images::IMAGE_TAG_PINNED,
    images::ALLOWED_REGISTRIES,
    secret_env::SECRET_ENV_VARS,
    hardening::READ_ONLY_ROOT_FILESYSTEM,
    hardening::AUTOMOUNT_SERVICE_ACCOUNT_TOKEN,
    resources::CPU_REQUESTS,
    resources::MEMORY_REQUESTS,
    resources::CPU_LIMITS,
    resources::MEMORY_LIMITS,
    probes::LIVENESS_PROBE,
    probes::READINESS_PROBE,
    object::MIN_REPLICAS,
    object::REQUIRED_LABELS,
    object::DEFAULT_NAMESPACE,
];
