//! The operator's Lease, as the cluster layer knows it: the operator holds it, and the
//! multi-cluster layer reads it to tell whether an operator runs and how healthy it is.

/// The Lease an operator holds unless `--lease-name` says otherwise. Renaming it would leave
/// every running operator's Lease behind on upgrade.
pub const DEFAULT_LEASE_NAME: &str = "kube-guardian-operator";
