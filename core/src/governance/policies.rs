//! The built-in rule library: every rule, in a stable order, and lookups by id and profile.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::rules;
use super::traits::BuiltinRule;
use crate::crd::Profile;

static LIBRARY: LazyLock<Vec<&'static BuiltinRule>> = LazyLock::new(|| {
    rules::pss_baseline::RULES
        .iter()
        .chain(rules::pss_restricted::RULES)
        .chain(rules::best_practices::RULES)
        .collect()
});

static BY_ID: LazyLock<HashMap<&'static str, &'static BuiltinRule>> =
    LazyLock::new(|| LIBRARY.iter().map(|r| (r.meta.id, *r)).collect());

/// Every built-in rule, PSS baseline first, then restricted, then best practices.
pub fn library() -> &'static [&'static BuiltinRule] {
    &LIBRARY
}

/// The built-in rule with this id.
pub fn rule(id: &str) -> Option<&'static BuiltinRule> {
    BY_ID.get(id).copied()
}

/// The rules of a profile, in library order.
pub fn profile_rules(profile: Profile) -> impl Iterator<Item = &'static BuiltinRule> {
    LIBRARY
        .iter()
        .copied()
        .filter(move |r| r.meta.profiles.contains(&profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in library() {
            assert!(seen.insert(r.meta.id), "duplicate id {}", r.meta.id);
            assert!(
                r.meta
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "id {} is not kebab-case",
                r.meta.id
            );
            assert!(
                !r.meta.remediation.is_empty(),
                "{} has no remediation",
                r.meta.id
            );
        }
    }

    #[test]
    fn restricted_includes_every_baseline_rule() {
        for r in profile_rules(Profile::PssBaseline) {
            assert!(
                r.meta.profiles.contains(&Profile::PssRestricted),
                "{} is baseline but not restricted",
                r.meta.id
            );
        }
    }

    #[test]
    fn every_rule_builds_with_default_parameters() {
        for r in library() {
            assert!(
                (r.build)(&Default::default()).is_ok(),
                "{} fails to build",
                r.meta.id
            );
        }
    }
}
