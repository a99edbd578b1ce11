//! Client-certificate verification that can change while the server runs: the client CA is
//! re-read like the serving certificate (polled by content, swapped atomically, a bundle that
//! does not load keeps the previous one), and an optional list of accepted identities is
//! checked against the verified certificate's SAN DNS names and subject common name.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};
use x509_parser::extensions::GeneralName;

use super::reload::Poll;
use super::tls;
use crate::Error;

/// Verifies client certificates against the CA loaded last, then checks the identity.
pub(crate) struct ClientAuth {
    current: ArcSwap<Verifier>,
    /// Accepted identities; empty accepts any certificate the CA signed.
    names: Vec<String>,
}

/// One loaded CA bundle's verifier (a struct, so `ArcSwap` can hold it).
struct Verifier(Arc<dyn ClientCertVerifier>);

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.current.load().0.clone()
    }
}

impl ClientCertVerifier for ClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No CA names in the CertificateRequest: the answer must not borrow from a bundle that may
    /// be swapped meanwhile, and clients (Go's included) then send their one certificate.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verifier()
            .verify_client_cert(end_entity, intermediates, now)?;
        if self.names.is_empty() || identity_matches(end_entity, &self.names) {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.verifier().supported_verify_schemes()
    }
}

/// True when the certificate names one of `names`: a SAN DNS name (case-insensitive) or a
/// subject common name (exact). A certificate that does not parse names nobody.
fn identity_matches(cert: &CertificateDer<'_>, names: &[String]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return false;
    };
    let dns_match = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|san| {
            san.value.general_names.iter().any(|name| match name {
                GeneralName::DNSName(dns) => names.iter().any(|n| n.eq_ignore_ascii_case(dns)),
                _ => false,
            })
        });
    dns_match
        || cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(|cn| names.iter().any(|n| n == cn))
}

/// Parses a PEM bundle into a verifier; every certificate must load.
fn load(path: &Path, pem: &[u8], provider: &Arc<CryptoProvider>) -> Result<Verifier, Error> {
    let mut roots = RootCertStore::empty();
    for cert in tls::certificates(path, pem)? {
        roots.add(cert).map_err(|source| Error::TlsCertificate {
            path: PathBuf::from(path),
            source,
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|source| Error::ClientCa {
            path: path.to_owned(),
            source,
        })?;
    Ok(Verifier(verifier))
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Polls the client CA file and publishes new bundles to a [`ClientAuth`].
pub(crate) struct ClientCaWatcher {
    path: PathBuf,
    provider: Arc<CryptoProvider>,
    auth: Arc<ClientAuth>,
    serving: u64,
    rejected: Option<u64>,
}

impl ClientCaWatcher {
    /// Loads the first bundle; the server cannot start without one.
    pub fn start(
        path: PathBuf,
        names: Vec<String>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, Error> {
        let pem = tls::read(&path)?;
        let verifier = load(&path, &pem, &provider)?;
        Ok(ClientCaWatcher {
            auth: Arc::new(ClientAuth {
                current: ArcSwap::from_pointee(verifier),
                names,
            }),
            serving: fingerprint(&pem),
            path,
            provider,
            rejected: None,
        })
    }

    pub fn auth(&self) -> Arc<ClientAuth> {
        self.auth.clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the file once (blocking read).
    pub fn poll(&mut self) -> Poll {
        let pem = match tls::read(&self.path) {
            Ok(pem) => pem,
            Err(e) => return Poll::Unreadable(e),
        };
        let print = fingerprint(&pem);
        if print == self.serving || Some(print) == self.rejected {
            return Poll::Unchanged;
        }
        match load(&self.path, &pem, &self.provider) {
            Ok(verifier) => {
                self.auth.current.store(Arc::new(verifier));
                self.serving = print;
                self.rejected = None;
                Poll::Reloaded
            }
            Err(e) => {
                self.rejected = Some(print);
                Poll::Rejected(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("a certificate")
    }

    #[test]
    fn identities_match_the_common_name_or_a_dns_name() {
        let ca = guardian_testenv::Ca::new("identity test CA").expect("CA");
        let by_cn = der(&ca
            .client_cert("kube-apiserver", &[])
            .expect("cert")
            .cert_pem);
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(identity_matches(&by_cn, &names(&["kube-apiserver"])));
        assert!(!identity_matches(
            &by_cn,
            &names(&["kube-apiserver-other", "KUBE-APISERVER"])
        ));
        let by_dns = der(&ca
            .client_cert_with_dns_names("someone", &["apiserver.kube-system.svc"])
            .expect("cert")
            .cert_pem);
        assert!(identity_matches(
            &by_dns,
            &names(&["APIServer.kube-system.svc"])
        ));
        assert!(!identity_matches(&by_dns, &names(&["kube-system.svc"])));
        assert!(!identity_matches(
            &CertificateDer::from(vec![1, 2, 3]),
            &names(&["x"])
        ));
    }

    #[test]
    fn a_new_bundle_is_loaded_and_a_broken_one_keeps_the_old() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("client-ca.crt");
        let first = guardian_testenv::Ca::new("first client CA").expect("CA");
        std::fs::write(&path, first.pem()).expect("write");
        let mut watcher =
            ClientCaWatcher::start(path.clone(), Vec::new(), tls::provider()).expect("loads");
        assert!(matches!(watcher.poll(), Poll::Unchanged));
        let second = guardian_testenv::Ca::new("second client CA").expect("CA");
        std::fs::write(&path, second.pem()).expect("write");
        assert!(matches!(watcher.poll(), Poll::Reloaded));
        std::fs::write(&path, "not PEM").expect("write");
        assert!(matches!(
            watcher.poll(),
            Poll::Rejected(Error::TlsPem { .. })
        ));
        assert!(
            matches!(watcher.poll(), Poll::Unchanged),
            "a rejected bundle is reported once"
        );
        std::fs::remove_file(&path).expect("remove");
        assert!(matches!(
            watcher.poll(),
            Poll::Unreadable(Error::TlsRead { .. })
        ));
    }
}
