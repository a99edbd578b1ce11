//! CRDs shipped as YAML files (the PolicyReport CRD of the Helm chart), applied and waited for
//! until their resource is served. The project's own CRDs come from code
//! ([`crate::ControlPlane::install_crds`]); this is for the ones that exist only as files.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client};

use super::apply::FIELD_MANAGER;
use super::error::{Error, Result};
use crate::local::error_chain;

/// How long a CRD may take to be Established and served.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Applies every CRD in `path` and waits until each one's resource can be listed. Returns their
/// names. Idempotent.
pub async fn install_crd_file(client: &Client, path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut installed = Vec::new();
    // Read as `check` and the API server read YAML (guardian-core's loader).
    for document in guardian_core::load::documents(&text) {
        let line = document.first_line;
        let value = document.value.map_err(|error| Error::Parse {
            path: path.to_owned(),
            line: super::documents::manifest_line(&error).unwrap_or(line),
            source: Box::new(error),
        })?;
        // Typed rather than dynamic: the wait below needs group, version and plural.
        let crd: CustomResourceDefinition =
            serde_json::from_value(value).map_err(|source| Error::Decode {
                path: path.to_owned(),
                line,
                what: "CustomResourceDefinition",
                source,
            })?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|source| Error::Api {
                what: format!("applying CRD {name} from {}", path.display()),
                source,
            })?;
        wait_until_served(client, &crd).await?;
        installed.push(name);
    }
    Ok(installed)
}

/// Established is not quite enough: the resource's handler is installed a moment later, so wait
/// until a list of it succeeds.
async fn wait_until_served(client: &Client, crd: &CustomResourceDefinition) -> Result<()> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let spec = &crd.spec;
    let version = spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.as_str())
        .unwrap_or_default();
    let gvk = GroupVersionKind::gvk(&spec.group, version, &spec.names.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &spec.names.plural);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let started = Instant::now();
    loop {
        let last = match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => return Ok(()),
            Err(e) => error_chain(&e),
        };
        if started.elapsed() >= CRD_TIMEOUT {
            return Err(Error::NotServed {
                name,
                waited: started.elapsed(),
                last,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
