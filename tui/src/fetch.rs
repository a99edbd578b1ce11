//! Reading one object from its cluster for the detail pane (the snapshot keeps evaluations, not
//! objects): a GET through the cluster's shared client ([`Clients`]), returned as YAML without
//! managedFields, delivered to the reducer as an action.

use std::sync::Arc;

use guardian_cluster::cache::workload_resources;
use guardian_core::model::ResourceRef;
use kube::api::{Api, DynamicObject};
use tokio::sync::mpsc;

use crate::action::Action;
use crate::app::state::ObjectText;
use crate::clients::Clients;

/// How long a GET may take before the pane says so.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads objects in background tasks, so a slow exec credential plugin or a dead cluster never
/// holds up the UI; each cluster's client is made once and reused.
#[derive(Debug, Clone)]
pub struct Fetcher {
    clients: Clients,
    results: mpsc::Sender<Action>,
}

impl Fetcher {
    pub fn new(clients: Clients, results: mpsc::Sender<Action>) -> Fetcher {
        Fetcher { clients, results }
    }

    /// Starts reading `resource` of `cluster`; the answer arrives as [`Action::Object`].
    pub fn request(&self, cluster: usize, resource: Arc<ResourceRef>) {
        let clients = self.clients.clone();
        let results = self.results.clone();
        tokio::spawn(async move {
            let read = async {
                let client = clients.get(cluster).await.map_err(|e| chain(&e))?;
                get(client, &resource).await
            };
            let text = match tokio::time::timeout(TIMEOUT, read).await {
                Ok(text) => text,
                Err(_) => Err(format!("no answer within {}s", TIMEOUT.as_secs())),
            };
            let object = ObjectText {
                cluster,
                resource,
                text,
            };
            let _ = results.send(Action::Object(Box::new(object))).await;
        });
    }
}

/// The error with its causes, for the pane's one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The object as YAML, without managedFields (noise for a reader).
async fn get(client: kube::Client, resource: &ResourceRef) -> Result<String, String> {
    let api_resource = workload_resources()
        .into_iter()
        .find(|r| r.kind == resource.kind && r.api_version == resource.api_version)
        .ok_or_else(|| {
            format!(
                "{} {} is not a workload kind",
                resource.api_version, resource.kind
            )
        })?;
    let api: Api<DynamicObject> = match &resource.namespace {
        Some(ns) => Api::namespaced_with(client, ns, &api_resource),
        None => Api::all_with(client, &api_resource),
    };
    let mut object = api
        .get(&resource.name)
        .await
        .map_err(|e| format!("reading {resource}: {e}"))?;
    object.metadata.managed_fields = None;
    serde_yaml_ng::to_string(&object).map_err(|e| format!("{resource} as YAML: {e}"))
}
