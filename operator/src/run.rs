//! `kube-guardian operator`: everything started in order, and stopped in order on SIGTERM.
//!
//! Shutdown: release the lease first (a standby takes over at once and this replica stops
//! writing), then stop the controller and the servers, within a 10 s budget.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::cache::{NamespaceCache, WorkloadCache};
use guardian_cluster::store::PolicyStore;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::OperatorArgs;
use crate::controller::{self, ControllerOptions};
use crate::health::{self, HealthServer, Readiness};
use crate::leader::{self, LeaderElection, LeaderHandle, LeaseConfig};
use crate::metrics::Metrics;
use crate::webhook::{Webhook, WebhookConfig, WebhookState};

/// How long shutdown may take before the process gives up waiting.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(10);

/// Runs the operator until `stop` completes (SIGTERM or SIGINT in `main`).
pub async fn run(
    args: OperatorArgs,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let client =
        guardian_cluster::connect::client(args.kubeconfig.as_deref(), args.context.as_deref())
            .await?;
    controller::check_crds(&client).await?;
    let metrics = Metrics::new()?;
    let readiness = Readiness::new();
    let store = Arc::new(PolicyStore::new());
    // One namespace cache for reconciles and admission: the same labels, the same verdict.
    let namespaces = Arc::new(NamespaceCache::default());
    // Set once, when the policy set is first built from synced caches; unlike `readiness` it is
    // not cleared at shutdown, so the webhook keeps answering while connections drain.
    let policies_loaded = Readiness::new();

    let (leader_handle, leader_rx) = if args.leader.leader_elect {
        let config = LeaseConfig {
            lease_duration: args.leader.lease_duration,
            renew_deadline: args.leader.renew_deadline,
            pod: leader::pod_name(),
            candidates: args.leader.lease_candidates,
            ..LeaseConfig::new(
                args.leader.lease_name.clone(),
                args.leader
                    .lease_namespace
                    .clone()
                    .unwrap_or_else(leader::default_namespace),
                leader::default_identity(),
            )
        };
        LeaderElection::start(client.clone(), config, metrics.clone())?
    } else {
        LeaderHandle::standalone(leader::default_identity(), metrics.clone())
    };
    let identity = leader_handle.identity().to_owned();
    tracing::info!(%identity, leader_elect = args.leader.leader_elect, "kube-guardian operator starting");

    let token = CancellationToken::new();
    let health = HealthServer::bind(args.health_addr).await?;
    tracing::info!(addr = %health.local_addr(), "health and metrics listening");
    let health_task = tokio::spawn(health.serve(
        health::router(readiness.clone(), metrics.clone()),
        cancelled(&token),
    ));

    let webhook_task = match &args.webhook.cert_dir {
        Some(dir) => {
            let config = WebhookConfig {
                client_ca: args.webhook.client_ca.clone(),
                client_names: args.webhook.client_names.clone(),
                max_connections: args.webhook.max_connections as usize,
                idle_timeout: args.webhook.idle_timeout,
                body_limit: args.webhook.body_limit,
                ..WebhookConfig::new(args.webhook.addr, dir.clone())
            };
            // The same namespace labels as the reconcile loop (a namespace it does not know yet
            // is waited for, then judged by every namespaceSelector), and no answer before the
            // policy set is built from the synced caches.
            let state = WebhookState::new(store.clone(), metrics.clone())
                .with_namespaces(namespaces.clone())
                .with_loaded(policies_loaded.clone());
            let webhook = Webhook::bind(&config, state).await?;
            tracing::info!(addr = %webhook.local_addr(), "admission webhook listening");
            Some(tokio::spawn(webhook.serve(cancelled(&token))))
        }
        None => None,
    };

    let on_ready: Arc<dyn Fn() + Send + Sync> = {
        let readiness = readiness.clone();
        Arc::new(move || {
            tracing::info!("caches synced and policies built; ready");
            policies_loaded.set_ready();
            readiness.set_ready();
        })
    };
    let controller_task = tokio::spawn(controller::run(
        client,
        ControllerOptions {
            resync: args.resync_interval,
            concurrency: args.concurrency,
            initial_list: args.initial_list,
            identity,
            report_retry: (crate::reports::FIRST_RETRY, crate::reports::MAX_RETRY),
        },
        store,
        Arc::new(WorkloadCache::default()),
        namespaces,
        metrics,
        leader_rx,
        on_ready,
        token.clone(),
    ));

    stop.await;
    tracing::info!("shutting down");
    readiness.set_not_ready();
    match tokio::time::timeout(SHUTDOWN_BUDGET / 2, leader_handle.release()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "releasing the lease failed; it will expire on its own")
        }
        Err(_) => tracing::warn!("releasing the lease timed out; it will expire on its own"),
    }
    token.cancel();
    let drain = async {
        let _ = controller_task.await;
        let _ = health_task.await;
        if let Some(task) = webhook_task {
            let _ = task.await;
        }
    };
    if tokio::time::timeout(SHUTDOWN_BUDGET / 2, drain)
        .await
        .is_err()
    {
        tracing::warn!("in-flight work did not finish in time; exiting anyway");
    }
    tracing::info!("stopped");
    Ok(())
}

fn cancelled(token: &CancellationToken) -> impl Future<Output = ()> + Send + 'static {
    let token = token.clone();
    async move { token.cancelled().await }
}
