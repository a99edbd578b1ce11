//! The TLS listener: accepts connections (at most `max_connections` open at once), bounds each
//! handshake, serves HTTP/1.1 and HTTP/2 with the router, closes idle connections, and drains
//! open connections on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::client_auth::ClientCaWatcher;
use super::config::WebhookConfig;
use super::idle::{Activity, Tracked};
use super::reload::{CertWatcher, error_chain};
use super::router::router;
use super::state::WebhookState;
use super::tls;
use crate::Error;

/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A webhook bound to its port with its first certificate loaded, not yet serving.
pub struct Webhook {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    certs: CertWatcher,
    reload_interval: Duration,
    /// Bounds the TLS handshake and the HTTP headers of a request, and the drain at shutdown.
    request_timeout: Duration,
    max_connections: usize,
    idle_timeout: Duration,
    keep_alive_interval: Duration,
    keep_alive_timeout: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Loads the certificate (and client CA), builds the router from `state` with the config's
    /// body limit and request timeout, and binds `config.listen`. Fails on a missing or broken
    /// certificate, a broken client CA, or a port that cannot be bound.
    pub async fn bind(config: &WebhookConfig, state: WebhookState) -> Result<Self, Error> {
        let provider = tls::provider();
        let cert_dir = config.cert_dir.clone();
        let mut certs = CertWatcher::start(cert_dir, provider.clone())?;
        let client_auth = match &config.client_ca {
            Some(path) => {
                let watcher = ClientCaWatcher::start(
                    path.clone(),
                    config.client_names.clone(),
                    provider.clone(),
                )?;
                let auth = watcher.auth();
                certs = certs.with_client_ca(watcher);
                Some(auth as _)
            }
            None => None,
        };
        let tls = tls::server_config(certs.resolver(), client_auth, provider)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
        let state = state.with_limits(config.body_limit, config.request_timeout);
        Ok(Webhook {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            app: router(state),
            certs,
            reload_interval: config.reload_interval,
            request_timeout: config.request_timeout,
            max_connections: config.max_connections.max(1),
            idle_timeout: config.idle_timeout,
            keep_alive_interval: config.keep_alive_interval,
            keep_alive_timeout: config.keep_alive_timeout,
        })
    }

    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting, lets open requests finish
    /// (bounded by the request timeout) and returns.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let Webhook {
            listener,
            local_addr,
            acceptor,
            app,
            certs,
            reload_interval,
            request_timeout,
            max_connections,
            idle_timeout,
            keep_alive_interval,
            keep_alive_timeout,
        } = self;
        let stop_reload = CancellationToken::new();
        let reload = tokio::spawn(certs.run(reload_interval, stop_reload.clone()));

        let mut http = auto::Builder::new(TokioExecutor::new());
        // Slow-loris guard for HTTP/1 headers; bodies are bounded by the router's timeout.
        http.http1()
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(request_timeout);
        // HTTP/2: PINGs find dead peers; a client that stops answering them is dropped.
        http.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(keep_alive_interval)
            .keep_alive_timeout(keep_alive_timeout);
        let http = Arc::new(http);
        let draining = CancellationToken::new();
        // A permit per open connection: at the limit the loop stops accepting, and further
        // clients wait in the kernel's accept queue.
        let slots = Arc::new(Semaphore::new(max_connections));
        let mut connections = tokio::task::JoinSet::new();
        tracing::info!(addr = %local_addr, max_connections, ?idle_timeout, "admission webhook listening");

        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                () = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
            };
            while connections.try_join_next().is_some() {}
            // Reviews are small request/response pairs: do not let Nagle hold them back.
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let app = app.clone();
            let http = http.clone();
            let draining = draining.clone();
            connections.spawn(async move {
                let _slot = slot;
                let tls = match tokio::time::timeout(request_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let activity = Activity::new();
                let service = TowerToHyperService::new(Tracked::new(app, activity.clone()));
                let conn = http.serve_connection(TokioIo::new(tls), service);
                tokio::pin!(conn);
                let mut closing = false;
                let result = loop {
                    tokio::select! {
                        result = conn.as_mut() => break result,
                        () = draining.cancelled(), if !closing => {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        () = activity.idle_for(idle_timeout), if !closing => {
                            tracing::debug!(%peer, "closing an idle connection");
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %error_chain(&*e), "connection closed with an error");
                }
            });
        }

        drop(listener);
        tracing::info!("admission webhook draining connections");
        draining.cancel();
        let drained = tokio::time::timeout(request_timeout, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("connections still open after the drain deadline; closing them");
        }
        connections.shutdown().await;
        stop_reload.cancel();
        let _ = reload.await;
        Ok(())
    }
}
