//! The operator's Leases, as the cluster layer knows them: the operator holds the election Lease,
//! each replica keeps a candidate record of its own, and the multi-cluster layer reads both to
//! tell whether an operator runs, who leads and who stands by.
//!
//! A candidate record is a plain `coordination.k8s.io/v1` Lease in the election Lease's
//! namespace, in the spirit of upstream's LeaseCandidate (KEP-4355) but with no feature gate:
//! `holderIdentity` is the replica, `renewTime` its last renewal, `leaseDurationSeconds` how long
//! that renewal counts, and the label [`CANDIDATE_FOR`] names the election it stands for.

/// The Lease an operator holds unless `--lease-name` says otherwise. Renaming it would leave
/// every running operator's Lease behind on upgrade.
pub const DEFAULT_LEASE_NAME: &str = "kube-guardian-operator";

/// The label on a candidate record whose value is [`candidate_label`] of the election's name, so a
/// watcher selects every candidate of one election.
pub const CANDIDATE_FOR: &str = "guardian.kube-guardian.io/candidate-for";

/// The longest label value and the longest name used for a candidate record (a DNS-1123 label:
/// safe wherever a name or a label value goes).
const MAX_LEN: usize = 63;

/// The label selector of the candidates of election `lease_name`.
pub fn candidate_selector(lease_name: &str) -> String {
    format!("{CANDIDATE_FOR}={}", candidate_label(lease_name))
}

/// The [`CANDIDATE_FOR`] value for election `lease_name`: the name itself when it is a valid label
/// value, else a sanitised, length-capped form with a stable hash of the name.
pub fn candidate_label(lease_name: &str) -> String {
    dns_label(lease_name)
}

/// The name of the candidate record of the replica in pod `pod` in election `lease_name`: stable
/// for the pod (a restarted container overwrites its own record), DNS-1123-safe, at most 63
/// characters (a hash of both keeps long names distinct).
pub fn candidate_name(lease_name: &str, pod: &str) -> String {
    dns_label(&format!("{lease_name}-candidate-{pod}"))
}

/// `text` as a DNS-1123 label: lowercase alphanumerics and `-`, starting and ending with an
/// alphanumeric, at most 63 characters. Text changed on the way gets a hash of the original
/// appended, so two different texts do not end up with one name.
fn dns_label(text: &str) -> String {
    let mut label: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .collect();
    let trimmed = label.trim_matches('-');
    if trimmed == text && trimmed.len() <= MAX_LEN && !trimmed.is_empty() {
        return label;
    }
    let hash = format!("{:08x}", fnv1a(text) & 0xffff_ffff);
    label = trimmed.to_owned();
    label.truncate(MAX_LEN - hash.len() - 1);
    let head = label.trim_end_matches('-');
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

/// FNV-1a: a hash that is the same in every process and release (std's is randomly keyed).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_label(text: &str) -> bool {
        !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !text.starts_with('-')
            && !text.ends_with('-')
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
    }

    #[test]
    fn odd_or_long_identities_give_stable_distinct_dns_labels() {
        let long = "a".repeat(300);
        let names = [
            candidate_name("kube-guardian-operator", "Node_1.example.com"),
            candidate_name("kube-guardian-operator", "node-1-example-com"),
            candidate_name("kube-guardian-operator", &long),
            candidate_name("kube-guardian-operator", &format!("{long}b")),
            candidate_name("kube-guardian.operator", "x"),
            candidate_label(&"lease.".repeat(20)),
            candidate_label("---"),
        ];
        for name in &names {
            assert!(is_dns_label(name), "{name:?}");
        }
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            candidate_name("kube-guardian-operator", &long),
            candidate_name("kube-guardian-operator", &long),
            "stable for the identity"
        );
    }
}
