//! The crypto provider, in a process of its own: nothing else installs one here.

use guardian_cluster::crypto::install_crypto_provider;
use rustls::crypto::CryptoProvider;

fn suites(provider: &CryptoProvider) -> Vec<rustls::CipherSuite> {
    provider.cipher_suites.iter().map(|s| s.suite()).collect()
}

#[test]
fn ring_is_installed_once_and_a_second_call_is_harmless() {
    assert!(
        CryptoProvider::get_default().is_none(),
        "no provider before the call"
    );
    install_crypto_provider();
    let installed = CryptoProvider::get_default().expect("a process-wide provider");
    assert_eq!(
        suites(installed),
        suites(&rustls::crypto::ring::default_provider()),
        "ring's cipher suites"
    );
    install_crypto_provider();
    let again = CryptoProvider::get_default().expect("still installed");
    assert!(
        std::sync::Arc::ptr_eq(installed, again),
        "the first installation stays"
    );
}
