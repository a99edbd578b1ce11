//! Kubeconfig data for the local control plane: written to a file for kubectl and turned into a
//! kube `Config` for clients, so both speak to the apiserver the same way.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::certs::CertAndKey;
use crate::error::{Error, Result};

/// A single-context kubeconfig: cluster and context `context`, user `user`.
pub(crate) fn build(
    context: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    auth_info: AuthInfo,
) -> Kubeconfig {
    Kubeconfig {
        api_version: Some("v1".into()),
        kind: Some("Config".into()),
        clusters: vec![NamedCluster {
            name: context.into(),
            cluster: Some(Cluster {
                server: Some(server.into()),
                certificate_authority_data: Some(BASE64.encode(ca_pem)),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user.into(),
            auth_info: Some(auth_info),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: context.into(),
            context: Some(Context {
                cluster: context.into(),
                user: Some(user.into()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(context.into()),
        ..Kubeconfig::default()
    }
}

/// Authentication by client certificate.
pub(crate) fn client_cert_auth(cert: &CertAndKey) -> AuthInfo {
    AuthInfo {
        client_certificate_data: Some(BASE64.encode(&cert.cert_pem)),
        client_key_data: Some(BASE64.encode(&cert.key_pem).into()),
        ..AuthInfo::default()
    }
}

/// Authentication by bearer token.
pub(crate) fn token_auth(token: &str) -> AuthInfo {
    AuthInfo {
        token: Some(token.to_owned().into()),
        ..AuthInfo::default()
    }
}

/// Writes `kubeconfig` as YAML, readable by the owner only (it holds a private key).
pub(crate) fn write(kubeconfig: &Kubeconfig, path: &Path) -> Result<()> {
    let yaml = serde_yaml_ng::to_string(kubeconfig).map_err(Error::SerializeKubeconfig)?;
    write_private(path, yaml.as_bytes())
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let write_err = |source| Error::WriteFile {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(write_err)?;
    file.write_all(contents).map_err(write_err)
}

/// A kube `Config` for `context` of `kubeconfig`; `origin` names the source in errors.
pub(crate) async fn to_config(
    kubeconfig: Kubeconfig,
    context: Option<&str>,
    origin: &Path,
) -> Result<kube::Config> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| Error::Kubeconfig {
            path: PathBuf::from(origin),
            source,
        })
}
