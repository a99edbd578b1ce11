//! The access review before every write (the edit, the enforcement switch, creating, extending
//! and revoking an exception): which verb on which object a request needs, and the
//! SelfSubjectAccessReview that answers it, explained the same way for all of them.

use guardian_cluster::write::ObjectKey;
use guardian_cluster::write::access::can_i_object;

use super::session::chain;
use crate::app::Request;

/// The verb and object `request` writes with; `None` for a request that writes nothing.
pub fn required(request: &Request) -> Option<(&'static str, ObjectKey)> {
    match request {
        Request::Edit { key, .. } | Request::ExtendException { key, .. } => {
            Some(("update", key.clone()))
        }
        Request::Apply(pending) => Some(("update", pending.session.key.clone())),
        Request::SetEnforcement { policy, .. } => Some(("update", ObjectKey::policy(policy))),
        Request::CreateException { exception, .. } => Some(("create", exception.key())),
        Request::RevokeException { key, .. } => Some(("delete", key.clone())),
        Request::Object { .. } | Request::OpenEditor(_) | Request::Impact(_) => None,
    }
}

/// Asks the API server whether the client may `verb` `key`; `Err` says what is missing.
pub async fn check(client: &kube::Client, verb: &str, key: &ObjectKey) -> Result<(), String> {
    let access = can_i_object(client, verb, key)
        .await
        .map_err(|e| chain(&e))?;
    if access.allowed {
        Ok(())
    } else {
        Err(access.explain(verb, key.kind, key.namespace.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use guardian_cluster::write::quick::NewException;
    use guardian_core::crd::Enforcement;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    #[test]
    fn every_write_names_its_verb_and_object() {
        let exception = ObjectKey::exception("shop", "root-pss");
        let new = NewException {
            namespace: "shop".to_owned(),
            name: "root-pss".to_owned(),
            policy: "p".to_owned(),
            rule: "pss-privileged".to_owned(),
            kind: "Pod".to_owned(),
            resource: "root".to_owned(),
            owner: "team".to_owned(),
            justification: "why".to_owned(),
            expires_at: Timestamp::UNIX_EPOCH,
        };
        let cases = [
            (
                Request::SetEnforcement {
                    cluster: 0,
                    policy: "p".to_owned(),
                    to: Enforcement::Deny,
                },
                ("update", ObjectKey::policy("p")),
            ),
            (
                Request::CreateException {
                    cluster: 0,
                    exception: new,
                },
                ("create", exception.clone()),
            ),
            (
                Request::ExtendException {
                    cluster: 0,
                    key: exception.clone(),
                    expires_at: Timestamp::UNIX_EPOCH,
                },
                ("update", exception.clone()),
            ),
            (
                Request::RevokeException {
                    cluster: 0,
                    key: exception.clone(),
                },
                ("delete", exception.clone()),
            ),
            (
                Request::Edit {
                    cluster: 0,
                    key: ObjectKey::policy("p"),
                },
                ("update", ObjectKey::policy("p")),
            ),
        ];
        for (request, want) in cases {
            assert_eq!(required(&request), Some(want), "{request:?}");
        }
    }
}
