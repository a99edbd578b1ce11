//! The process-wide rustls crypto provider: ring, installed once.
//!
//! The whole workspace uses ring; with two providers compiled in and none installed, rustls
//! panics at the first handshake, so every face installs this one before any client or server.

/// Installs ring as the process-wide rustls provider. Call it first thing in `main` and in tests:
/// kube's client and the webhook's server then agree on one provider. A second call (or a
/// provider installed by someone else first) is not an error.
pub fn install_crypto_provider() {
    // Already installed (by an earlier call or by someone else) is what this asks for anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
