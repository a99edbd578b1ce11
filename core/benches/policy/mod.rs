//! The policy set the benches evaluate: one policy with every built-in profile.

use guardian_core::crd::{GuardianPolicy, GuardianPolicySpec, Profile};
use guardian_core::engine::PolicySet;

/// Every built-in rule, in one policy named `all`.
pub fn all_rules() -> PolicySet {
    let policy = GuardianPolicy::new(
        "all",
        GuardianPolicySpec {
            profiles: Profile::ALL.to_vec(),
            ..GuardianPolicySpec::default()
        },
    );
    PolicySet::compile(&[policy], &[]).expect("the built-in profiles compile")
}
