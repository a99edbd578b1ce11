//! rustls with the `ring` provider only (the whole workspace uses ring; a second provider panics at
//! the first handshake), TLS 1.2 and 1.3, the serving pair from a Secret-style directory and
//! optional client-certificate verification.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ResolvesServerCert;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;

use crate::Error;

/// The certificate chain's file name in a `kubernetes.io/tls` Secret volume.
pub const CERT_FILE: &str = "tls.crt";
/// The private key's file name in a `kubernetes.io/tls` Secret volume.
pub const KEY_FILE: &str = "tls.key";

/// The provider the server uses, named explicitly so it never depends on the process default.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The bytes of one certificate/key pair as read from disk.
pub(crate) struct PairBytes {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl PairBytes {
    /// Identifies the content, to notice a change without parsing. Not a security boundary.
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.cert.hash(&mut h);
        self.key.hash(&mut h);
        h.finish()
    }
}

/// Reads `tls.crt` and `tls.key`. Returns `None` when the certificate changed while reading:
/// Kubernetes swaps the `..data` symlink atomically, but two separate reads can straddle the
/// swap and pair an old certificate with a new key. Reading the certificate again catches that.
pub(crate) fn read_pair(dir: &Path) -> Result<Option<PairBytes>, Error> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let cert = read(&cert_path)?;
    let key = read(&key_path)?;
    let again = read(&cert_path)?;
    Ok((again == cert).then_some(PairBytes { cert, key }))
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::TlsRead {
        path: path.to_owned(),
        source,
    })
}

/// Parses a pair and checks that the key belongs to the certificate.
pub(crate) fn certified_key(
    dir: &Path,
    pair: &PairBytes,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let chain = certificates(&cert_path, &pair.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&pair.key).map_err(|source| Error::TlsPem {
        path: key_path.clone(),
        source,
    })?;
    let key =
        CertifiedKey::from_der(chain, key, provider).map_err(|source| Error::TlsCertificate {
            path: key_path,
            source,
        })?;
    Ok(key)
}

pub(crate) fn certificates(
    path: &Path,
    pem_bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem_err = |source| Error::TlsPem {
        path: path.to_owned(),
        source,
    };
    let chain = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err)?;
    if chain.is_empty() {
        return Err(pem_err(pem::Error::NoItemsFound));
    }
    Ok(chain)
}

/// The server configuration: certificates from `resolver`, TLS 1.3 and 1.2 (rustls implements
/// nothing older, so TLS 1.0/1.1 clients are refused), HTTP/2 and HTTP/1.1 by ALPN, and client
/// certificates required and verified by `client_auth` when given.
pub(crate) fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
    client_auth: Option<Arc<dyn ClientCertVerifier>>,
    provider: Arc<CryptoProvider>,
) -> Result<ServerConfig, Error> {
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| Error::TlsConfig {
            what: "protocol versions",
            source,
        })?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
