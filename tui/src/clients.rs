//! One kube client per followed cluster, made on first use and shared by every read and write
//! the console makes itself (the detail pane's GET, edits): a client keeps its connections and
//! credentials, so a second request costs no new TLS handshake or exec plugin run.
//!
//! Clones share the clients. A client that could not be made is tried again on the next use.

use std::sync::Arc;

use guardian_cluster::Target;
use tokio::sync::OnceCell;

use crate::error::Error;

/// The clients of the followed clusters, by position (the state's cluster index).
#[derive(Debug, Clone)]
pub struct Clients {
    slots: Arc<[Slot]>,
}

struct Slot {
    target: Target,
    client: OnceCell<kube::Client>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("target", &self.target)
            .field("client", &self.client.initialized())
            .finish()
    }
}

impl Clients {
    pub fn new(targets: Vec<Target>) -> Clients {
        Clients {
            slots: targets
                .into_iter()
                .map(|target| Slot {
                    target,
                    client: OnceCell::new(),
                })
                .collect(),
        }
    }

    /// The context of the cluster at `cluster`.
    pub fn context(&self, cluster: usize) -> Option<&str> {
        self.slots.get(cluster).map(|s| s.target.context.as_str())
    }

    /// The client of the cluster at `cluster` (cheap to clone), made the first time.
    pub async fn get(&self, cluster: usize) -> Result<kube::Client, Error> {
        let slot = self.slots.get(cluster).ok_or(Error::NoCluster {
            position: cluster,
            count: self.slots.len(),
        })?;
        let client = slot
            .client
            .get_or_try_init(|| async {
                let config = slot.target.config().await.map_err(|source| Error::Client {
                    context: slot.target.context.clone(),
                    source: Box::new(source),
                })?;
                kube::Client::try_from(config).map_err(|source| Error::Client {
                    context: slot.target.context.clone(),
                    source: Box::new(source),
                })
            })
            .await?;
        Ok(client.clone())
    }
}
