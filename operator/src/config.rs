//! The operator's command-line flags (flattened into `kube-guardian operator`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `kube-guardian operator`.
#[derive(Debug, Clone, clap::Args)]
pub struct OperatorArgs {
    /// Kubeconfig file; default: in-cluster config, else $KUBECONFIG or ~/.kube/config.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context; default: the current context.
    #[arg(long)]
    pub context: Option<String>,
    /// How often every policy is re-evaluated even without changes (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub resync_interval: Duration,
    /// Policies reconciled at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// How the workload caches get their initial state: `streaming` (one watch, Kubernetes 1.34+ with
    /// WatchList on), `paged` (list calls, any version) or `auto` (streaming from 1.34 on).
    #[arg(long, value_enum, default_value = "auto")]
    pub initial_list: InitialListFlag,
    /// Address of the plain-HTTP port: /healthz, /readyz, /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub health_addr: SocketAddr,
    #[command(flatten)]
    pub leader: LeaderArgs,
    #[command(flatten)]
    pub webhook: WebhookArgs,
}

/// The `--initial-list` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitialListFlag {
    Auto,
    Streaming,
    Paged,
}

/// Admission webhook flags; the webhook runs when a certificate directory is given.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Directory holding tls.crt and tls.key (a mounted kubernetes.io/tls Secret); enables the webhook.
    #[arg(long = "webhook-cert-dir", value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// HTTPS address of the webhook.
    #[arg(long = "webhook-addr", default_value = "0.0.0.0:8443")]
    pub addr: SocketAddr,
    /// CA bundle; when set, the API server must present a client certificate it signed (mTLS).
    /// Re-read when its content changes; a bundle that does not load keeps the previous one.
    #[arg(long = "webhook-client-ca", value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Accept only client certificates naming this identity (a SAN DNS name or the subject's
    /// common name); repeatable. Needs --webhook-client-ca.
    #[arg(
        long = "webhook-client-name",
        value_name = "NAME",
        requires = "client_ca"
    )]
    pub client_names: Vec<String>,
    /// Open webhook connections at most; further ones wait until one closes.
    #[arg(long = "webhook-max-connections", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Close a webhook connection without a request in flight for this long (HTTP/1 and HTTP/2).
    #[arg(long = "webhook-idle-timeout", default_value = "120s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Largest AdmissionReview body accepted, in bytes (the API server's own limit is 3 MiB).
    #[arg(long = "webhook-body-limit", default_value_t = 3 * 1024 * 1024)]
    pub body_limit: usize,
}

/// Leader-election flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaderArgs {
    /// Hold a coordination.k8s.io Lease so only one replica reconciles and writes.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, default_value = guardian_cluster::lease::DEFAULT_LEASE_NAME)]
    pub lease_name: String,
    /// Namespace of the Lease; default: the pod's namespace.
    #[arg(long)]
    pub lease_namespace: Option<String>,
    /// How long a lease is valid without renewal.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it stops writing.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub renew_deadline: Duration,
    /// Keep a candidate record per replica (a Lease `<lease>-candidate-<pod>`), so the console
    /// shows the standbys; `false` writes the election Lease only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub lease_candidates: bool,
}

/// Parses `500ms`, `30s`, `5m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}; use e.g. 500ms, 30s, 5m or 1h"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {s:?}; use ms, s, m or h"
            ));
        }
    };
    if duration.is_zero() {
        return Err(format!("duration {s:?} must be greater than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn the_default_lease_is_the_one_the_cluster_layer_reads() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Flags {
            #[command(flatten)]
            leader: LeaderArgs,
        }
        let flags = Flags::try_parse_from(["operator"]).expect("no flags are needed");
        assert_eq!(
            flags.leader.lease_name,
            guardian_cluster::lease::DEFAULT_LEASE_NAME
        );
        // What running operators hold: a new default would leave their Leases behind.
        assert_eq!(flags.leader.lease_name, "kube-guardian-operator");
        assert!(
            flags.leader.lease_candidates,
            "candidate records on by default"
        );
        let off = Flags::try_parse_from(["operator", "--lease-candidates=false"]).expect("off");
        assert!(!off.leader.lease_candidates);
    }
}
