//! Idle connections, HTTP/1 and HTTP/2 alike: every request marks its connection busy while it
//! runs, and the connection is closed once it has had no request in flight for the idle timeout.
//! hyper's own timers cover header reads (HTTP/1) and dead peers (HTTP/2 PINGs), but not a peer
//! that holds a healthy connection open without using it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use futures::future::BoxFuture;
use hyper::Request;
use hyper::body::Incoming;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

/// How often a busy connection is looked at again.
const BUSY_RECHECK: Duration = Duration::from_secs(1);

/// Requests in flight on one connection and when the last one ended.
#[derive(Debug)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    fn last(&self) -> Instant {
        self.last.lock().map_or_else(|e| *e.into_inner(), |l| *l)
    }

    /// Completes once no request has been in flight for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(timeout.min(BUSY_RECHECK)).await;
                continue;
            }
            let deadline = self.last() + timeout;
            if Instant::now() >= deadline && self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// Marks a request in flight until dropped.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        match self.0.last.lock() {
            Ok(mut last) => *last = Instant::now(),
            Err(e) => *e.into_inner() = Instant::now(),
        }
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router, recording each request's span on the connection's [`Activity`].
#[derive(Clone)]
pub(crate) struct Tracked {
    app: Router,
    activity: Arc<Activity>,
}

impl Tracked {
    pub fn new(app: Router, activity: Arc<Activity>) -> Self {
        Tracked { app, activity }
    }
}

impl Service<Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A fresh clone of the router is driven per request (`oneshot`), which polls it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let busy = self.activity.start();
        let answer = self.app.clone().oneshot(request);
        Box::pin(async move {
            let response = answer.await;
            drop(busy);
            response
        })
    }
}
