//! The control plane's PKI, generated fresh for every control plane with rcgen (pure Rust, ring):
//! a serving CA and the apiserver's serving certificate, a client CA that the apiserver trusts
//! for client certificates (so tests can mint any user), and the service-account signing key.
//! [`Ca`] is public for tests that serve TLS themselves, such as webhooks the apiserver calls.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

use crate::error::{Error, Result};

/// A PEM certificate and its PEM (PKCS#8) private key.
#[derive(Clone)]
pub struct CertAndKey {
    pub cert_pem: String,
    pub key_pem: String,
}

// Keys are secrets even in tests: keep them out of Debug output and logs.
impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey").finish_non_exhaustive()
    }
}

/// A certificate authority that signs serving and client certificates. Each control plane has
/// two; tests of servers the apiserver calls (webhooks) make their own.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// A new self-signed CA with common name `name`.
    pub fn new(name: &str) -> Result<Ca> {
        let what = || format!("the {name}");
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err(what()))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(cert_err(what()))?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(cert_err(what()))?;
        Ok(Ca { issuer })
    }

    /// The CA certificate, PEM: what a client trusts.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A serving certificate for `cn`, valid for `127.0.0.1` and each of `dns_names`.
    pub fn server_cert(&self, cn: &str, dns_names: &[&str]) -> Result<CertAndKey> {
        let mut params = leaf_params(cn, &[], ExtendedKeyUsagePurpose::ServerAuth)?;
        params.subject_alt_names =
            std::iter::once(Ok(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))))
                .chain(dns_names.iter().map(|name| dns(name)))
                .collect::<Result<_>>()?;
        self.sign(params, &format!("the serving certificate for {cn}"))
    }

    /// A client certificate for `user` in `groups`.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<CertAndKey> {
        let params = leaf_params(user, groups, ExtendedKeyUsagePurpose::ClientAuth)?;
        self.sign(params, &format!("a client certificate for {user}"))
    }

    /// A client certificate for `user` in `groups` that expired in 2020: rejected (401) by an
    /// API server that trusts this CA, as a stale kubeconfig is.
    pub fn expired_client_cert(&self, user: &str, groups: &[&str]) -> Result<CertAndKey> {
        let mut params = leaf_params(user, groups, ExtendedKeyUsagePurpose::ClientAuth)?;
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        self.sign(params, &format!("an expired client certificate for {user}"))
    }

    /// A client certificate for `user` that also names each of `dns_names` in its SANs.
    pub fn client_cert_with_dns_names(&self, user: &str, dns_names: &[&str]) -> Result<CertAndKey> {
        let mut params = leaf_params(user, &[], ExtendedKeyUsagePurpose::ClientAuth)?;
        params.subject_alt_names = dns_names
            .iter()
            .map(|name| dns(name))
            .collect::<Result<_>>()?;
        self.sign(params, &format!("a client certificate for {user}"))
    }

    fn sign(&self, params: CertificateParams, what: &str) -> Result<CertAndKey> {
        let key = KeyPair::generate().map_err(cert_err(what))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(cert_err(what))?;
        Ok(CertAndKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Every certificate and key one control plane needs.
pub(crate) struct Pki {
    pub serving_ca_pem: String,
    pub serving: CertAndKey,
    pub client_ca_pem: String,
    client_ca: Ca,
    pub admin: CertAndKey,
    pub service_account_key_pem: String,
    pub service_account_pub_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    pub fn generate() -> Result<Self> {
        let serving_ca = Ca::new("kube-guardian-testenv serving CA")?;
        let serving = serving_ca.server_cert(
            "kube-apiserver",
            &["localhost", "kubernetes", "kubernetes.default.svc"],
        )?;
        let client_ca = Ca::new("kube-guardian-testenv client CA")?;
        let admin = client_ca.client_cert("admin", &["system:masters"])?;

        let sa_key = KeyPair::generate().map_err(cert_err("the service-account signing key"))?;
        Ok(Self {
            serving_ca_pem: serving_ca.pem(),
            serving,
            client_ca_pem: client_ca.pem(),
            client_ca,
            admin,
            service_account_key_pem: sa_key.serialize_pem(),
            service_account_pub_pem: sa_key.public_key_pem(),
        })
    }

    /// A client certificate for `user` in `groups`, signed by the client CA the apiserver trusts.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<CertAndKey> {
        self.client_ca.client_cert(user, groups)
    }

    /// [`Pki::client_cert`], expired.
    pub fn expired_client_cert(&self, user: &str, groups: &[&str]) -> Result<CertAndKey> {
        self.client_ca.expired_client_cert(user, groups)
    }
}

fn leaf_params(
    cn: &str,
    orgs: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(cert_err(format!("a certificate for {cn}")))?;
    // Kubernetes reads the user from CN and the groups from every O.
    params.distinguished_name.push(DnType::CommonName, cn);
    for org in orgs {
        params
            .distinguished_name
            .push(DnType::OrganizationName, *org);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn dns(name: &str) -> Result<SanType> {
    let ia5 = name
        .try_into()
        .map_err(cert_err(format!("the DNS name {name}")))?;
    Ok(SanType::DnsName(ia5))
}

fn cert_err(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> Error {
    let what = what.into();
    move |source| Error::Certificate { what, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pem_material_for_every_piece() -> Result<()> {
        let pki = Pki::generate()?;
        for pem in [
            &pki.serving_ca_pem,
            &pki.client_ca_pem,
            &pki.serving.cert_pem,
            &pki.admin.cert_pem,
        ] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        assert!(pki.admin.key_pem.contains("PRIVATE KEY"));
        assert!(pki.service_account_pub_pem.contains("PUBLIC KEY"));
        let user = pki.client_cert("alice", &["team-a", "team-b"])?;
        assert_ne!(user.cert_pem, pki.admin.cert_pem);
        Ok(())
    }
}
