//! This replica's candidate record: a small Lease of its own, next to the election Lease, that
//! says it stands for the election and is alive (see `guardian_cluster::lease`). Written by
//! server-side apply, so creating and renewing are one idempotent request with no read first.
//! It only informs: a failure to write it is logged, counted and retried, never touches leading.

use std::convert::Infallible;
use std::time::Duration;

use guardian_cluster::lease::{CANDIDATE_FOR, candidate_label, candidate_name};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};
use tracing::{debug, warn};

use super::{FIRST_RETRY, LeaseConfig, chain};
use crate::Error;
use crate::metrics::Metrics;

/// The field manager of candidate records (apart from the election's, so neither strips the
/// other's fields).
const MANAGER: &str = "kube-guardian-candidate";

/// Writes, renews and deletes one replica's candidate record.
#[derive(Debug)]
pub(super) struct Candidate {
    api: Api<Lease>,
    name: String,
    label: String,
    identity: String,
    lease_seconds: i32,
    retry_period: Duration,
    metrics: Metrics,
}

impl Candidate {
    pub(super) fn new(client: Client, config: &LeaseConfig, metrics: Metrics) -> Candidate {
        Candidate {
            api: Api::namespaced(client, &config.namespace),
            name: candidate_name(&config.name, &config.identity),
            label: candidate_label(&config.name),
            identity: config.identity.clone(),
            lease_seconds: i32::try_from(config.lease_seconds()).unwrap_or(i32::MAX),
            retry_period: config.retry_period,
            metrics,
        }
    }

    /// Renews the record every retry period, forever; after a failure retries sooner, doubling
    /// from [`FIRST_RETRY`] up to the retry period. Dropped to stop.
    pub(super) async fn run(&self) -> Infallible {
        let mut retry = FIRST_RETRY.min(self.retry_period);
        loop {
            // A renewal that hangs must not stop the later ones: bounded by the record's duration.
            let timeout = Duration::from_secs(u64::from(self.lease_seconds.unsigned_abs()));
            let renewed = tokio::time::timeout(timeout, self.renew()).await;
            let failure = match renewed {
                Ok(Ok(())) => None,
                Ok(Err(source)) => Some(Error::LeaseCandidate {
                    name: self.name.clone(),
                    source: Box::new(source),
                }),
                Err(_) => Some(Error::Timeout {
                    what: "renewing the candidate record",
                    after: timeout,
                }),
            };
            let delay = match failure {
                None => {
                    retry = FIRST_RETRY.min(self.retry_period);
                    self.retry_period
                }
                Some(error) => {
                    self.report(error);
                    let delay = retry;
                    retry = (retry * 2).min(self.retry_period);
                    delay
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn renew(&self) -> Result<(), kube::Error> {
        let record = serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "labels": { CANDIDATE_FOR: self.label },
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_seconds,
                "renewTime": MicroTime(Timestamp::now()),
            },
        });
        let params = PatchParams::apply(MANAGER).force();
        self.api
            .patch(&self.name, &params, &Patch::Apply(record))
            .await?;
        debug!(candidate = %self.name, "renewed the candidate record");
        Ok(())
    }

    /// Deletes the record (graceful shutdown), so the replica leaves the list at once instead of
    /// turning stale. Already gone is fine.
    pub(super) async fn delete(&self) -> Result<(), Error> {
        match self.api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(Error::LeaseCandidate {
                name: self.name.clone(),
                source: Box::new(source),
            }),
        }
    }

    pub(super) fn report(&self, error: Error) {
        self.metrics.error(error.metric_label());
        warn!(candidate = %self.name, error = %chain(&error), "the candidate record will be retried");
    }
}
