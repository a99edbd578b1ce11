//! "Can I?": a SelfSubjectAccessReview before a write, so a missing permission is explained
//! before the editor opens instead of failing after the user's work (k9s checks the same way).

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::{Client, Resource};

use super::{ObjectKey, WriteKind};
use crate::Error;

/// The API server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub allowed: bool,
    /// The authorizer's reason, when it gave one.
    pub reason: String,
}

impl Access {
    /// Why a write is not offered: `no permission to update guardianpolicies (group …)`.
    pub fn explain(&self, verb: &str, kind: WriteKind, namespace: Option<&str>) -> String {
        let group = WriteKind::Policy.api_resource().group;
        let scope = namespace.map_or(String::new(), |ns| format!(" in namespace {ns}"));
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.reason)
        };
        format!(
            "no permission to {verb} {}.{group}{scope}{reason}: ask a cluster admin for a Role with that verb",
            kind.plural()
        )
    }
}

/// Whether the client's user may `verb` resources of `kind` (in `namespace`, for exceptions).
pub async fn can_i(
    client: &Client,
    verb: &str,
    kind: WriteKind,
    namespace: Option<&str>,
) -> Result<Access, Error> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(kind.api_resource().group),
                resource: Some(kind.plural().to_owned()),
                verb: Some(verb.to_owned()),
                namespace: namespace.map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|source| Error::Write {
            what: "reviewing access to",
            object: format!("{} ({verb})", SelfSubjectAccessReview::kind(&())),
            source: Box::new(source),
        })?;
    let status = answer.status.unwrap_or_default();
    Ok(Access {
        allowed: status.allowed && !status.denied.unwrap_or(false),
        reason: status.reason.unwrap_or_default(),
    })
}

/// [`can_i`] for one object.
pub async fn can_i_object(client: &Client, verb: &str, key: &ObjectKey) -> Result<Access, Error> {
    can_i(client, verb, key.kind, key.namespace.as_deref()).await
}
