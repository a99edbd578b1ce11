//! Certificate rotation without a restart.
//!
//! A Secret volume changes by an atomic swap of its `..data` symlink, which a watch on the file
//! path misses; so the directory's files are polled and compared by content. Certificate and key
//! are swapped together as one `CertifiedKey` behind an `ArcSwap`: a handshake sees the old pair
//! or the new one, never a mix, and connections already open keep the pair they started with.
//! A new pair that does not load is logged and ignored; the old one keeps serving. The client CA
//! (`--webhook-client-ca`) is polled the same way in the same loop ([`ClientCaWatcher`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

use super::client_auth::ClientCaWatcher;
use super::tls;
use crate::Error;

/// How often a pair caught mid-swap is read again at start-up before giving up.
const START_ATTEMPTS: usize = 5;
const START_RETRY: Duration = Duration::from_millis(50);

/// Serves whatever pair was loaded last.
#[derive(Debug)]
pub struct ReloadingCert {
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// What one poll found.
#[derive(Debug)]
pub(crate) enum Poll {
    Unchanged,
    Reloaded,
    /// The files changed while being read; read again next time.
    Changing,
    /// The new content does not load; the old pair keeps serving.
    Rejected(Error),
    /// The files cannot be read at all right now.
    Unreadable(Error),
}

/// Polls a certificate directory and publishes new pairs to a [`ReloadingCert`].
pub(crate) struct CertWatcher {
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    resolver: Arc<ReloadingCert>,
    serving: u64,
    /// The last content that failed to load: logged once, not on every poll.
    rejected: Option<u64>,
    /// Whether the last poll could not read the files (logged once until they are back).
    unreadable: bool,
    /// The client CA, when client certificates are required, and whether it was unreadable.
    client_ca: Option<(ClientCaWatcher, bool)>,
}

impl CertWatcher {
    /// Loads the first pair; the server cannot start without one.
    pub fn start(dir: PathBuf, provider: Arc<CryptoProvider>) -> Result<Self, Error> {
        let mut attempt = 1;
        let pair = loop {
            match tls::read_pair(&dir)? {
                Some(pair) => break pair,
                None if attempt < START_ATTEMPTS => {
                    attempt += 1;
                    std::thread::sleep(START_RETRY);
                }
                None => {
                    return Err(Error::TlsRead {
                        path: dir,
                        source: std::io::Error::other(
                            "the certificate kept changing while being read",
                        ),
                    });
                }
            }
        };
        let key = tls::certified_key(&dir, &pair, &provider)?;
        Ok(CertWatcher {
            resolver: Arc::new(ReloadingCert {
                current: ArcSwap::from_pointee(key),
            }),
            serving: pair.fingerprint(),
            dir,
            provider,
            rejected: None,
            unreadable: false,
            client_ca: None,
        })
    }

    /// Polls `client_ca` along with the serving pair.
    pub fn with_client_ca(mut self, client_ca: ClientCaWatcher) -> Self {
        self.client_ca = Some((client_ca, false));
        self
    }

    pub fn resolver(&self) -> Arc<ReloadingCert> {
        self.resolver.clone()
    }

    /// Checks the directory once (blocking file reads).
    pub fn poll(&mut self) -> Poll {
        let pair = match tls::read_pair(&self.dir) {
            Ok(Some(pair)) => pair,
            Ok(None) => return Poll::Changing,
            Err(e) => return Poll::Unreadable(e),
        };
        let fingerprint = pair.fingerprint();
        if fingerprint == self.serving || Some(fingerprint) == self.rejected {
            return Poll::Unchanged;
        }
        match tls::certified_key(&self.dir, &pair, &self.provider) {
            Ok(key) => {
                self.resolver.current.store(Arc::new(key));
                self.serving = fingerprint;
                self.rejected = None;
                Poll::Reloaded
            }
            Err(e) => {
                self.rejected = Some(fingerprint);
                Poll::Rejected(e)
            }
        }
    }

    /// Polls every `interval` until `stop` is cancelled, logging what changes.
    pub async fn run(mut self, interval: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            // File reads block; a slow volume must not stall an async worker.
            let polled = tokio::task::spawn_blocking(move || {
                let poll = self.poll();
                self.poll_client_ca();
                (self, poll)
            })
            .await;
            let (watcher, poll) = match polled {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(error = %e, "the certificate reload task failed; rotation stops");
                    return;
                }
            };
            self = watcher;
            self.log(poll);
        }
    }

    /// Polls the client CA (blocking read) and logs what changed.
    fn poll_client_ca(&mut self) {
        let Some((watcher, unreadable)) = &mut self.client_ca else {
            return;
        };
        let path = watcher.path().display().to_string();
        match watcher.poll() {
            Poll::Unchanged | Poll::Changing => *unreadable = false,
            Poll::Reloaded => {
                *unreadable = false;
                tracing::info!(path, "client CA reloaded");
            }
            Poll::Rejected(e) => {
                *unreadable = false;
                tracing::warn!(
                    path,
                    error = %error_chain(&e),
                    "the new client CA does not load; keeping the current one"
                );
            }
            Poll::Unreadable(e) => {
                if !*unreadable {
                    tracing::warn!(
                        path,
                        error = %error_chain(&e),
                        "cannot read the client CA; keeping the current one"
                    );
                }
                *unreadable = true;
            }
        }
    }

    fn log(&mut self, poll: Poll) {
        let dir = self.dir.display();
        match poll {
            Poll::Unchanged | Poll::Changing => {}
            Poll::Reloaded => tracing::info!(%dir, "serving certificate reloaded"),
            Poll::Rejected(e) => tracing::warn!(
                %dir,
                error = %error_chain(&e),
                "the new certificate pair does not load; keeping the current one"
            ),
            Poll::Unreadable(e) => {
                if !self.unreadable {
                    tracing::warn!(
                        %dir,
                        error = %error_chain(&e),
                        "cannot read the certificate pair; keeping the current one"
                    );
                }
                self.unreadable = true;
                return;
            }
        }
        self.unreadable = false;
    }
}

/// The error and its sources on one line: "cannot read x: No such file or directory".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::tls::{CERT_FILE, KEY_FILE};

    fn pair() -> (String, String) {
        let pair = guardian_testenv::Ca::new("reload test CA")
            .and_then(|ca| ca.server_cert("kube-guardian-webhook", &[]))
            .expect("a test certificate");
        (pair.cert_pem, pair.key_pem)
    }

    fn write(dir: &std::path::Path, cert: &str, key: &str) {
        std::fs::write(dir.join(CERT_FILE), cert).expect("tls.crt");
        std::fs::write(dir.join(KEY_FILE), key).expect("tls.key");
    }

    fn serving(watcher: &CertWatcher) -> Vec<u8> {
        watcher.resolver.current.load().cert[0].to_vec()
    }

    #[test]
    fn polls_reload_new_pairs_and_keep_the_old_one_on_any_failure() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = pair();
        write(dir.path(), &cert, &key);
        let mut watcher =
            CertWatcher::start(dir.path().to_owned(), tls::provider()).expect("first pair loads");
        assert!(matches!(watcher.poll(), Poll::Unchanged));
        let first = serving(&watcher);

        let (cert2, key2) = pair();
        write(dir.path(), &cert2, &key2);
        assert!(matches!(watcher.poll(), Poll::Reloaded));
        let second = serving(&watcher);
        assert_ne!(first, second);

        // Someone else's key: rejected once, then not reported again for the same content.
        let (_, other_key) = pair();
        write(dir.path(), &cert2, &other_key);
        assert!(matches!(
            watcher.poll(),
            Poll::Rejected(Error::TlsCertificate { .. })
        ));
        assert!(matches!(watcher.poll(), Poll::Unchanged));
        assert_eq!(serving(&watcher), second);

        write(dir.path(), "not PEM", "not PEM");
        assert!(matches!(
            watcher.poll(),
            Poll::Rejected(Error::TlsPem { .. })
        ));
        std::fs::remove_file(dir.path().join(KEY_FILE)).expect("remove key");
        assert!(matches!(
            watcher.poll(),
            Poll::Unreadable(Error::TlsRead { .. })
        ));
        assert_eq!(serving(&watcher), second);

        write(dir.path(), &cert, &key);
        assert!(matches!(watcher.poll(), Poll::Reloaded));
        assert_eq!(serving(&watcher), first);
    }
}
