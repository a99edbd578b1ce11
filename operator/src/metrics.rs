//! Prometheus metrics with bounded labels: static strings per result, error kind and decision;
//! policy names only where the issue asks for them (they are few and admin-controlled).

use std::time::Duration;

use guardian_core::model::Severity;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::Error;

/// Admission latency buckets, fine below a millisecond where a review normally lands.
const ADMISSION_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 1.0,
];

/// Decision latency buckets: a single change is decided in about a millisecond.
const DECISION_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// `path` of objects evaluated over every cached object (a policy's full evaluation).
pub const FULL: &str = "full";
/// `path` of objects evaluated because they changed.
pub const CHANGE: &str = "change";

/// Every metric the operator and the webhook export, in one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    reconcile_duration: HistogramVec,
    errors: IntCounterVec,
    violations: IntGaugeVec,
    resources_evaluated: IntGaugeVec,
    leader: IntGauge,
    objects_evaluated: IntCounterVec,
    decision: HistogramVec,
    report_passes: IntCounter,
    admission_requests: IntCounterVec,
    admission_duration: HistogramVec,
    admission_evaluation: HistogramVec,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    name: &'static str,
    metric: Result<T, prometheus::Error>,
) -> Result<T, Error> {
    let metric = metric.map_err(|source| Error::Metrics { name, source })?;
    registry
        .register(Box::new(metric.clone()))
        .map_err(|source| Error::Metrics { name, source })?;
    Ok(metric)
}

impl Metrics {
    pub fn new() -> Result<Self, Error> {
        let registry =
            Registry::new_custom(Some("kube_guardian".to_owned()), None).map_err(|source| {
                Error::Metrics {
                    name: "registry",
                    source,
                }
            })?;
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .map_err(|source| Error::Metrics {
                name: "process",
                source,
            })?;
        let r = &registry;
        Ok(Metrics {
            reconciles: register(
                r,
                "reconciles_total",
                IntCounterVec::new(
                    Opts::new("reconciles_total", "Reconciles by result"),
                    &["result"],
                ),
            )?,
            reconcile_duration: register(
                r,
                "reconcile_duration_seconds",
                HistogramVec::new(
                    // Up to a minute: a full evaluation of a big cluster on a loaded node runs
                    // past 5 s, and a quantile past the top bucket reads as +Inf.
                    HistogramOpts::new("reconcile_duration_seconds", "Reconcile duration").buckets(
                        vec![
                            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                            30.0, 60.0,
                        ],
                    ),
                    &[],
                ),
            )?,
            errors: register(
                r,
                "errors_total",
                IntCounterVec::new(Opts::new("errors_total", "Errors by kind"), &["kind"]),
            )?,
            violations: register(
                r,
                "violations",
                IntGaugeVec::new(
                    Opts::new("violations", "Current violations by policy and severity"),
                    &["policy", "severity"],
                ),
            )?,
            resources_evaluated: register(
                r,
                "resources_evaluated",
                IntGaugeVec::new(
                    Opts::new(
                        "resources_evaluated",
                        "Resources a policy evaluated in its last reconcile",
                    ),
                    &["policy"],
                ),
            )?,
            leader: register(
                r,
                "leader",
                IntGauge::new("leader", "1 while this replica holds the lease"),
            )?,
            report_passes: register(
                r,
                "report_passes_total",
                IntCounter::new(
                    "report_passes_total",
                    "Report convergence passes completed: one per leadership term, once every \
                     live policy was evaluated and the PolicyReports were written",
                ),
            )?,
            objects_evaluated: register(
                r,
                "objects_evaluated_total",
                IntCounterVec::new(
                    Opts::new(
                        "objects_evaluated_total",
                        "Objects the controller evaluated, by path: full (a policy over every \
                         cached object) or change (one changed object against every policy)",
                    ),
                    &["path"],
                ),
            )?,
            decision: register(
                r,
                "reconcile_decision_seconds",
                HistogramVec::new(
                    HistogramOpts::new(
                        "reconcile_decision_seconds",
                        "Time from a workload's watch event, as its watch yields it (the wait \
                         behind earlier changes included), to the decision whether any policy's \
                         status or report must be written",
                    )
                    .buckets(DECISION_BUCKETS.to_vec()),
                    &["decision"],
                ),
            )?,
            admission_requests: register(
                r,
                "admission_requests_total",
                IntCounterVec::new(
                    Opts::new(
                        "admission_requests_total",
                        "Admission reviews by decision and enforcement",
                    ),
                    &["decision", "enforcement"],
                ),
            )?,
            admission_duration: register(
                r,
                "admission_duration_seconds",
                HistogramVec::new(
                    HistogramOpts::new(
                        "admission_duration_seconds",
                        "Time to answer an admission review",
                    )
                    .buckets(ADMISSION_BUCKETS.to_vec()),
                    &[],
                ),
            )?,
            admission_evaluation: register(
                r,
                "admission_evaluation_seconds",
                HistogramVec::new(
                    HistogramOpts::new(
                        "admission_evaluation_seconds",
                        "Time a review spends in its evaluation slot (parse, evaluate, encode), \
                         without the wait for a slot",
                    )
                    .buckets(ADMISSION_BUCKETS.to_vec()),
                    &[],
                ),
            )?,
            registry,
        })
    }

    /// Records a finished reconcile: `result` is `success` or an error's `metric_label`.
    pub fn reconcile(&self, result: &'static str, duration: Duration) {
        self.reconcile_untimed(result);
        self.reconcile_duration
            .with_label_values(&[] as &[&str])
            .observe(duration.as_secs_f64());
    }

    /// Counts a finished reconcile without timing it.
    pub fn reconcile_untimed(&self, result: &'static str) {
        self.reconciles.with_label_values(&[result]).inc();
    }

    /// Counts objects evaluated on `path` ([`FULL`] or [`CHANGE`]).
    pub fn objects_evaluated(&self, path: &'static str, count: u64) {
        self.objects_evaluated
            .with_label_values(&[path])
            .inc_by(count);
    }

    /// Records one workload change's decision ([`Decision::outcome`](crate::incremental::Decision::outcome)),
    /// timed from its watch event leaving the watch stream.
    pub fn decision(&self, decision: &'static str, duration: Duration) {
        self.decision
            .with_label_values(&[decision])
            .observe(duration.as_secs_f64());
    }

    /// Counts a completed report convergence pass (see [`converge`](crate::converge)).
    pub fn report_pass_done(&self) {
        self.report_passes.inc();
    }

    pub fn error(&self, kind: &'static str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    /// Publishes a policy's current counts.
    pub fn policy_counts(&self, policy: &str, by_severity: &[(Severity, u64)], evaluated: u64) {
        for (severity, count) in by_severity {
            self.violations
                .with_label_values(&[policy, severity.as_str()])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        self.resources_evaluated
            .with_label_values(&[policy])
            .set(i64::try_from(evaluated).unwrap_or(i64::MAX));
    }

    /// Drops a deleted policy's series so they do not linger.
    pub fn forget_policy(&self, policy: &str) {
        for severity in Severity::ALL {
            let _ = self
                .violations
                .remove_label_values(&[policy, severity.as_str()]);
        }
        let _ = self.resources_evaluated.remove_label_values(&[policy]);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Records one admission review: `decision` is allowed, warned, denied or error.
    pub fn admission(&self, decision: &'static str, enforcement: &'static str, duration: Duration) {
        self.admission_requests
            .with_label_values(&[decision, enforcement])
            .inc();
        self.admission_duration
            .with_label_values(&[] as &[&str])
            .observe(duration.as_secs_f64());
    }

    /// Records the work of one review inside its evaluation slot: together with the total
    /// duration it separates the server's own time from queueing under load.
    pub fn admission_evaluation(&self, duration: Duration) {
        self.admission_evaluation
            .with_label_values(&[] as &[&str])
            .observe(duration.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail on I/O; a metric-family error leaves the rest intact.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}
