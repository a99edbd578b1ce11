//! A client for one kubeconfig context: the single-context path of the operator.
//!
//! Several kubeconfigs and contexts at once are `kubeconfig`'s job; this is the one cluster a
//! process runs against, found the way kube-rs finds it.

use std::path::Path;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;

/// A client from `kubeconfig` (its `context`, else its current one); without a file, from the
/// default kubeconfig when a `context` is named, else in-cluster, else the default kubeconfig.
pub async fn client(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client, Error> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| connect(format!("reading {}", path.display()), e))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| connect(format!("using {}", path.display()), e))?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| connect("loading the default kubeconfig".into(), e))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| connect("inferring the configuration".into(), e))?,
    };
    Client::try_from(config).map_err(|e| connect("creating the client".into(), e))
}

fn connect(what: String, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Connect {
        what,
        source: Box::new(source),
    }
}
