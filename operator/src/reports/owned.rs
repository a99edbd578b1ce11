//! Which PolicyReports this operator owns, for deleting those no policy has results for any more
//! (see `converge`).

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};

use super::REPORT_NAME;
use super::api::{MANAGED_BY, MANAGED_BY_LABEL, crd_missing, report_resource};

/// The namespaces holding a report this operator owns, for deleting those no policy has results
/// for any more. Owned: named [`REPORT_NAME`] and labelled as kube-guardian's, or named so
/// without any managed-by label and holding only kube-guardian results (written before reports
/// were labelled; the next write labels them). A report with another manager's label is never
/// touched. Lists metadata only, in pages. `Ok(None)` when the PolicyReport CRD is not installed.
pub async fn owned_namespaces(client: &Client) -> Result<Option<Vec<String>>, kube::Error> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &report_resource());
    let mut params = ListParams::default()
        .fields(&format!("metadata.name={REPORT_NAME}"))
        .limit(500);
    let mut owned = Vec::new();
    loop {
        let page = match api.list_metadata(&params).await {
            Ok(page) => page,
            Err(kube::Error::Api(s)) if s.code == 404 && crd_missing(&s) => return Ok(None),
            Err(e) => return Err(e),
        };
        for meta in &page.items {
            let Some(namespace) = meta.metadata.namespace.clone() else {
                continue;
            };
            let label = meta
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(MANAGED_BY_LABEL));
            let ours = match label {
                Some(manager) => manager == MANAGED_BY,
                None => is_unlabelled_own(client, &namespace).await?,
            };
            if ours {
                owned.push(namespace);
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(Some(owned)),
        }
    }
}

/// An unlabelled report named like ours is ours when every result came from kube-guardian.
async fn is_unlabelled_own(client: &Client, namespace: &str) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &report_resource());
    let Some(report) = api.get_opt(REPORT_NAME).await? else {
        return Ok(false);
    };
    Ok(report.data["results"]
        .as_array()
        .is_none_or(|results| results.iter().all(|r| r["source"] == "kube-guardian")))
}
