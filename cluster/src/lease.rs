//! The operator's Leases, as the cluster layer knows them: the operator holds the election Lease,
//! each replica keeps a candidate record of its own, and the multi-cluster layer reads both to
//! tell whether an operator runs, who leads and who stands by.
//!
//! A candidate record is a plain `coordination.k8s.io/v1` Lease in the election Lease's
//! namespace, in the spirit of upstream's LeaseCandidate (KEP-4355) but with no feature gate:
//! `holderIdentity` is the replica, `renewTime` its last renewal, `leaseDurationSeconds` how long
//! that renewal counts, and the label [`CANDIDATE_FOR`] names the election it stands for.
//!
//! The chart's ValidatingAdmissionPolicy (helm/kube-guardian/templates/lease-policy.yaml) admits
//! only records named `<lease>-candidate-…` that carry [`candidate_label`]: so a record's name
//! always keeps that prefix whole (only the pod's part is shortened), and the chart computes the
//! label the same way (`kube-guardian.candidateLabel` in _helpers.tpl). Change both together.

use ring::digest::{SHA256, digest};

use crate::names::{HASH_LEN, head_and_hash, with_hashed_tail};

/// The Lease an operator holds unless `--lease-name` says otherwise. Renaming it would leave
/// every running operator's Lease behind on upgrade.
pub const DEFAULT_LEASE_NAME: &str = "kube-guardian-operator";

/// The label on a candidate record whose value is [`candidate_label`] of the election's name, so a
/// watcher selects every candidate of one election.
pub const CANDIDATE_FOR: &str = "guardian.kube-guardian.io/candidate-for";

/// What joins the election's name and the pod's part in a candidate record's name.
const INFIX: &str = "-candidate-";

/// The longest object name (a DNS-1123 subdomain), the limit of every Lease name.
const MAX_NAME: usize = 253;

/// The longest label value.
const MAX_LABEL: usize = 63;

/// The longest election Lease name the operator accepts: its candidate records' names keep
/// `<lease>-candidate-` whole and need room for at least a hash of the pod after it.
pub const MAX_LEASE_NAME: usize = MAX_NAME - INFIX.len() - HASH_LEN;

/// Why `lease_name` cannot name an election Lease, or `None` when it can: a DNS-1123 subdomain
/// (what the API server accepts for a Lease) of at most [`MAX_LEASE_NAME`] characters.
pub fn lease_name_problem(lease_name: &str) -> Option<String> {
    if lease_name.len() > MAX_LEASE_NAME {
        return Some(format!(
            "the lease name is {} characters long; at most {MAX_LEASE_NAME} leave room for its \
             candidate records `<lease>{INFIX}<pod>` (Kubernetes names end at {MAX_NAME})",
            lease_name.len()
        ));
    }
    if !is_dns_subdomain(lease_name) {
        return Some(format!(
            "the lease name {lease_name:?} is not a DNS-1123 subdomain (lowercase letters, \
             digits, '-' and '.', each dot-separated part starting and ending with a letter or \
             digit)"
        ));
    }
    None
}

/// Whether `text` has a DNS-1123 subdomain's characters: dot-separated parts of lowercase
/// letters, digits and `-`, each starting and ending with a letter or digit (length aside).
fn is_dns_subdomain(text: &str) -> bool {
    text.split('.').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    })
}

/// The label selector of the candidates of election `lease_name`.
pub fn candidate_selector(lease_name: &str) -> String {
    format!("{CANDIDATE_FOR}={}", candidate_label(lease_name))
}

/// The [`CANDIDATE_FOR`] value for election `lease_name`: the name itself when it fits a label
/// value (a valid Lease name of at most 63 characters does), else its first 54 characters
/// (trailing `-` and `.` dropped), `-` and the first 8 hex digits of its SHA-256. The chart
/// computes the same with sprig's `trunc` and `sha256sum`.
pub fn candidate_label(lease_name: &str) -> String {
    if lease_name.len() <= MAX_LABEL && lease_name_problem(lease_name).is_none() {
        return lease_name.to_owned();
    }
    let sha = digest(&SHA256, lease_name.as_bytes());
    let hash: String = sha.as_ref()[..HASH_LEN / 2]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    head_and_hash(lease_name, MAX_LABEL, hash)
}

/// The name of the candidate record of the replica in pod `pod` in election `lease_name` (a name
/// [`lease_name_problem`] accepts): `<lease>-candidate-<pod>`, stable for the pod (a restarted
/// container overwrites its own record). When the pod's part would break the name (too long,
/// characters a name cannot hold), it is shortened and a hash of the pod appended, so two pods
/// do not share a record; the `<lease>-candidate-` prefix is always kept whole.
pub fn candidate_name(lease_name: &str, pod: &str) -> String {
    let prefix = format!("{lease_name}{INFIX}");
    let room = MAX_NAME.saturating_sub(prefix.len());
    let plain = !pod.is_empty()
        && pod.len() <= room
        && pod
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !pod.ends_with('-');
    if plain {
        return format!("{prefix}{pod}");
    }
    format!("{prefix}{}", with_hashed_tail(pod, room))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DNS-1123 subdomain of at most `max` characters.
    fn is_dns_name(text: &str, max: usize) -> bool {
        text.len() <= max && is_dns_subdomain(text)
    }

    #[test]
    fn a_plain_name_is_kept_as_it_is() {
        assert_eq!(
            candidate_name("kube-guardian-operator", "pod-1-0a1b2c3d"),
            "kube-guardian-operator-candidate-pod-1-0a1b2c3d"
        );
        assert_eq!(
            candidate_label("kube-guardian-operator"),
            "kube-guardian-operator"
        );
        assert_eq!(
            candidate_selector("kube-guardian-operator"),
            "guardian.kube-guardian.io/candidate-for=kube-guardian-operator"
        );
        assert_eq!(candidate_label("ops.kube-guardian"), "ops.kube-guardian");
    }

    #[test]
    fn names_over_the_limits_keep_the_election_prefix_the_chart_admits() {
        let longest_lease = format!("{}.{}", "l".repeat(100), "e".repeat(MAX_LEASE_NAME - 101));
        assert_eq!(lease_name_problem(&longest_lease), None);
        let long_pod = format!("{}-0a1b2", "p".repeat(247));
        for lease in ["kube-guardian-operator", longest_lease.as_str(), "x"] {
            let prefix = format!("{lease}-candidate-");
            let mut names = Vec::new();
            for pod in [
                long_pod.as_str(),
                "Node_1.example.com",
                "pod-1",
                "pod-2",
                "---",
            ] {
                let name = candidate_name(lease, pod);
                assert!(name.starts_with(&prefix), "{name} keeps {prefix}");
                assert!(
                    is_dns_name(&name, MAX_NAME),
                    "{name:?} is a valid Lease name"
                );
                assert_eq!(name, candidate_name(lease, pod), "stable for the pod");
                names.push(name);
            }
            let mut distinct = names.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), names.len(), "{names:?}");
        }
        // A pod name that just fits is kept whole; one more character and it is hashed.
        let lease = "kube-guardian-operator";
        let fits = "p".repeat(MAX_NAME - lease.len() - INFIX.len());
        assert_eq!(
            candidate_name(lease, &fits),
            format!("{lease}-candidate-{fits}")
        );
        let over = candidate_name(lease, &format!("{fits}q"));
        assert_eq!(over.len(), MAX_NAME);
        assert_ne!(over, candidate_name(lease, &format!("{fits}r")));
    }

    #[test]
    fn a_long_lease_gets_a_hashed_label_the_chart_can_compute() {
        let lease = format!("{}.kube-guardian-operator", "a".repeat(60));
        let label = candidate_label(&lease);
        // sprig: trunc 54 of the name with '.' as '-', then the first 8 hex digits of sha256sum.
        let sha = "497c449c";
        assert_eq!(label, format!("{}-{sha}", "a".repeat(54)));
        assert!(is_dns_name(&label, MAX_LABEL));
        assert_ne!(candidate_label(&format!("{lease}x")), label);
        assert!(candidate_label("---").len() == HASH_LEN);
    }

    #[test]
    fn lease_names_the_candidates_cannot_follow_are_refused() {
        assert_eq!(lease_name_problem(DEFAULT_LEASE_NAME), None);
        assert!(lease_name_problem(&"a".repeat(MAX_LEASE_NAME + 1)).is_some());
        for bad in ["", "Lease", "lease-", "a..b", "a_b", ".a"] {
            assert!(lease_name_problem(bad).is_some(), "{bad:?}");
        }
    }
}
