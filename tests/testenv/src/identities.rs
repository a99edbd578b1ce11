//! Clients that act as someone other than the admin, for RBAC tests.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::control_plane::ControlPlane;
use crate::error::{Error, Result};
use crate::kubeconfig;

/// Lifetime of minted service-account tokens: longer than any test.
const TOKEN_SECONDS: i64 = 3600;

impl ControlPlane {
    /// A client authenticated as user `name` in `groups`, with no other rights than RBAC gives
    /// them. Locally this is a real client certificate signed by the apiserver's client CA; on an
    /// existing cluster it is the admin impersonating the user.
    pub async fn client_for_user(&self, name: &str, groups: &[&str]) -> Result<Client> {
        let who = || format!("user {name}");
        let mut config = self.config().clone();
        match self.local_ref() {
            Some(local) => {
                let cert = local.pki.client_cert(name, groups)?;
                config.auth_info = kubeconfig::client_cert_auth(&cert);
            }
            None => {
                config.auth_info.impersonate = Some(name.to_owned());
                config.auth_info.impersonate_groups =
                    Some(groups.iter().map(|g| (*g).to_owned()).collect());
            }
        }
        Client::try_from(config).map_err(|source| Error::Client { who: who(), source })
    }

    /// Writes a kubeconfig to `path` that authenticates as user `name` in `groups`, for a
    /// process a test starts (`kube-guardian operator --kubeconfig`). Locally a client
    /// certificate; on an existing cluster its admin user impersonating `name`.
    pub fn write_kubeconfig_for_user(
        &self,
        name: &str,
        groups: &[&str],
        path: &std::path::Path,
    ) -> Result<()> {
        let mut config = self.kubeconfig().clone();
        let local_auth = match self.local_ref() {
            Some(local) => Some(kubeconfig::client_cert_auth(
                &local.pki.client_cert(name, groups)?,
            )),
            None => None,
        };
        for named in &mut config.auth_infos {
            let auth = named.auth_info.get_or_insert_with(Default::default);
            match &local_auth {
                Some(local) => *auth = local.clone(),
                None => {
                    auth.impersonate = Some(name.to_owned());
                    auth.impersonate_groups =
                        Some(groups.iter().map(|g| (*g).to_owned()).collect());
                }
            }
        }
        kubeconfig::write(&config, path)
    }

    /// Writes a kubeconfig to `path` whose user presents the bearer `token` (a bad or revoked
    /// one, for tests of rejected credentials).
    pub fn write_kubeconfig_with_token(&self, token: &str, path: &std::path::Path) -> Result<()> {
        self.write_kubeconfig_with_auth(kubeconfig::token_auth(token), path)
    }

    /// Writes a kubeconfig to `path` whose user presents an expired client certificate for
    /// `name` in `groups`, signed by the client CA the apiserver trusts (local control planes only).
    pub fn write_kubeconfig_with_expired_certificate(
        &self,
        name: &str,
        groups: &[&str],
        path: &std::path::Path,
    ) -> Result<()> {
        let local = self.local_ref().ok_or(Error::NotSupported {
            operation: "write_kubeconfig_with_expired_certificate",
        })?;
        let cert = local.pki.expired_client_cert(name, groups)?;
        self.write_kubeconfig_with_auth(kubeconfig::client_cert_auth(&cert), path)
    }

    fn write_kubeconfig_with_auth(
        &self,
        auth: kube::config::AuthInfo,
        path: &std::path::Path,
    ) -> Result<()> {
        let mut config = self.kubeconfig().clone();
        for named in &mut config.auth_infos {
            named.auth_info = Some(auth.clone());
        }
        kubeconfig::write(&config, path)
    }

    /// A client that authenticates as ServiceAccount `namespace/name` with a bound token from
    /// the TokenRequest API. The ServiceAccount is created if it does not exist.
    pub async fn client_for_service_account(&self, namespace: &str, name: &str) -> Result<Client> {
        let admin = self.client()?;
        let accounts: Api<ServiceAccount> = Api::namespaced(admin, namespace);
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        match accounts.create(&PostParams::default(), &account).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(source) => {
                return Err(Error::Api {
                    what: format!("creating ServiceAccount {namespace}/{name}"),
                    source,
                });
            }
        }
        self.client_for_existing_service_account(namespace, name)
            .await
    }

    /// A client that authenticates as the existing ServiceAccount `namespace/name` with a bound
    /// token from the TokenRequest API; an error if it does not exist (a test that checks what
    /// an account may do must not pass on an account it created by mistake).
    pub async fn client_for_existing_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Client> {
        let token = self.service_account_token(namespace, name).await?;
        let mut config = self.config().clone();
        config.auth_info = kubeconfig::token_auth(&token);
        Client::try_from(config).map_err(|source| Error::Client {
            who: format!("ServiceAccount {namespace}/{name}"),
            source,
        })
    }

    /// A bound token for the existing ServiceAccount `namespace/name`, from the TokenRequest API
    /// (valid for an hour: longer than any test).
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> Result<String> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client()?, namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        accounts
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(|source| Error::Api {
                what: format!("requesting a token for ServiceAccount {namespace}/{name}"),
                source,
            })?
            .status
            .and_then(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::NoToken {
                account: format!("{namespace}/{name}"),
            })
    }
}
