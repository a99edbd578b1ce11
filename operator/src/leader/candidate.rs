//! This replica's candidate record: a small Lease of its own, next to the election Lease, that
//! says it stands for the election and is alive (see `guardian_cluster::lease`). Written by
//! server-side apply, so creating and renewing are one idempotent request with no read first.
//! It only informs: a failure to write it is logged, counted and retried, never touches leading.

use std::time::Duration;

use guardian_cluster::lease::{CANDIDATE_FOR, candidate_label, candidate_name, candidate_selector};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{FIRST_RETRY, LeaseConfig, chain};
use crate::Error;
use crate::metrics::Metrics;

/// The field manager of candidate records (apart from the election's, so neither strips the
/// other's fields).
const MANAGER: &str = "kube-guardian-candidate";

/// The leader deletes a record not renewed for this many times its duration: a replica that
/// crashed, or was rescheduled under another pod name, never deletes its own.
pub(super) const PRUNE_AFTER_DURATIONS: i64 = 5;

/// Writes, renews and deletes one replica's candidate record.
#[derive(Debug)]
pub(super) struct Candidate {
    api: Api<Lease>,
    name: String,
    label: String,
    selector: String,
    identity: String,
    lease_seconds: i32,
    renew: Duration,
    metrics: Metrics,
}

impl Candidate {
    pub(super) fn new(client: Client, config: &LeaseConfig, metrics: Metrics) -> Candidate {
        Candidate {
            api: Api::namespaced(client, &config.namespace),
            name: candidate_name(&config.name, &config.pod),
            label: candidate_label(&config.name),
            selector: candidate_selector(&config.name),
            identity: config.identity.clone(),
            lease_seconds: i32::try_from(config.candidate_seconds()).unwrap_or(i32::MAX),
            renew: config.candidate_renew.max(Duration::from_secs(1)),
            metrics,
        }
    }

    /// Renews the record every renew interval until `stop`; while `leading`, also prunes the
    /// election's long-stale records. After a failure retries sooner, doubling from
    /// [`FIRST_RETRY`] up to the renew interval. `stop` is checked between renewals only, so a
    /// renewal in flight finishes (each is bounded by the renew interval).
    pub(super) async fn run(&self, leading: watch::Receiver<bool>, stop: CancellationToken) {
        let mut retry = FIRST_RETRY.min(self.renew);
        let mut failing = false;
        while !stop.is_cancelled() {
            // A renewal that hangs must not let the record expire (it counts for three
            // intervals): bounded by one interval.
            let failure = match tokio::time::timeout(self.renew, self.renew()).await {
                Ok(Ok(())) => None,
                Ok(Err(source)) => {
                    Some(Box::new(source) as Box<dyn std::error::Error + Send + Sync>)
                }
                Err(_) => Some(Box::new(Error::Timeout {
                    what: "renewing the candidate record",
                    after: self.renew,
                })
                    as Box<dyn std::error::Error + Send + Sync>),
            };
            let delay = match failure {
                None => {
                    if failing {
                        info!(candidate = %self.name, "the candidate record is renewed again");
                    }
                    failing = false;
                    retry = FIRST_RETRY.min(self.renew);
                    if *leading.borrow() {
                        self.prune().await;
                    }
                    self.renew
                }
                Some(source) => {
                    let error = Error::LeaseCandidate {
                        name: self.name.clone(),
                        source,
                    };
                    // Warned once per outage (e.g. a chart without the candidate RBAC refuses
                    // every renewal), counted every time.
                    self.metrics.error(error.metric_label());
                    if failing {
                        debug!(candidate = %self.name, error = %chain(&error), "the candidate record will be retried");
                    } else {
                        self.report_only_log(&error);
                    }
                    failing = true;
                    let delay = retry;
                    retry = (retry * 2).min(self.renew);
                    delay
                }
            };
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Deletes the election's records not renewed for [`PRUNE_AFTER_DURATIONS`] times their
    /// duration (bounded by one renew interval; a failure is logged and retried next time). The
    /// delete is conditional on the record's resourceVersion, so a record renewed meanwhile stays.
    async fn prune(&self) {
        let pruning = async {
            let records = self
                .api
                .list(&ListParams::default().labels(&self.selector))
                .await?;
            let now = Timestamp::now().as_second();
            let mut pruned = 0_usize;
            for record in records.items {
                let (Some(name), Some(spec)) = (record.metadata.name.as_deref(), &record.spec)
                else {
                    continue;
                };
                let (Some(renewed), Some(seconds)) =
                    (spec.renew_time.as_ref(), spec.lease_duration_seconds)
                else {
                    continue;
                };
                let age = now - renewed.0.as_second();
                if name == self.name || age <= PRUNE_AFTER_DURATIONS * i64::from(seconds.max(1)) {
                    continue;
                }
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: record.metadata.resource_version.clone(),
                        uid: None,
                    }),
                    ..DeleteParams::default()
                };
                match self.api.delete(name, &params).await {
                    Ok(_) => {
                        pruned += 1;
                        info!(record = %name, age_seconds = age, "pruned a stale candidate record");
                    }
                    // Gone already, or renewed meanwhile (a 409 on the precondition).
                    Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok::<usize, kube::Error>(pruned)
        };
        let failure = match tokio::time::timeout(self.renew, pruning).await {
            Ok(Ok(pruned)) => {
                debug!(pruned, "checked the candidate records for stale ones");
                return;
            }
            Ok(Err(source)) => Box::new(source) as Box<dyn std::error::Error + Send + Sync>,
            Err(_) => Box::new(Error::Timeout {
                what: "pruning stale candidate records",
                after: self.renew,
            }),
        };
        self.report(Error::LeaseCandidate {
            name: self.selector.clone(),
            source: failure,
        });
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

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn report(&self, error: Error) {
        self.metrics.error(error.metric_label());
        self.report_only_log(&error);
    }

    fn report_only_log(&self, error: &Error) {
        warn!(candidate = %self.name, error = %chain(error), "the candidate record will be retried");
    }
}
