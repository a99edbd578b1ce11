//! The HTTP surface: `POST /validate`, with a body limit, a deadline per request and JSON errors
//! for everything that is not an AdmissionReview answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use guardian_core::engine::{Deadline, EvalContext};
use k8s_openapi::jiff::Timestamp;
use tower::{BoxError, ServiceBuilder};

use super::api_error::ApiError;
use super::message;
use super::namespaces::{namespace_of, wait_for_namespace};
use super::review::{Reviewed, review};
use super::state::{SharedNamespaces, WebhookState};

/// The path the ValidatingWebhookConfiguration points at.
pub const VALIDATE_PATH: &str = "/validate";

/// The webhook's routes, ready for `oneshot` in tests or for the TLS server.
pub fn router(state: WebhookState) -> Router {
    let timeout = state.request_timeout;
    let metrics = state.metrics.clone();
    let on_timeout = move |err: BoxError| {
        let metrics = metrics.clone();
        async move {
            metrics.admission("error", "none", timeout);
            if err.is::<tower::timeout::error::Elapsed>() {
                timed_out(timeout)
            } else {
                ApiError::internal(format!("the request failed: {err}"))
            }
        }
    };
    Router::new()
        .route(VALIDATE_PATH, post(validate))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.body_limit))
        // Outermost: the deadline covers reading the body (a slow client), waiting for an
        // evaluation slot and the evaluation itself.
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(on_timeout))
                .timeout(timeout),
        )
        .with_state(Arc::new(state))
}

/// A review not answered within its deadline: 503 with no decision.
fn timed_out(timeout: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the review was not answered within {timeout:?}"),
    )
}

async fn validate(
    State(state): State<Arc<WebhookState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let result = answer(&state, body).await;
    let elapsed = started.elapsed();
    match result {
        Ok((reviewed, json)) => {
            record(&state, &reviewed, elapsed);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                json,
            )
                .into_response()
        }
        Err(error) => {
            state.metrics.admission("error", "none", elapsed);
            log_refusal(&error);
            error.into_response()
        }
    }
}

/// Longest excerpt of a refusal's message in the logs.
const LOGGED_MESSAGE_CHARS: usize = 200;

/// A refused request may come from anyone who reaches the port, and a 4xx message may quote it:
/// those are logged at debug only, escaped and cut short. A 5xx is the webhook's own trouble
/// (not loaded yet, overloaded, a bug) with a message of its own words: a warning.
fn log_refusal(error: &ApiError) {
    if error.status.is_server_error() {
        tracing::warn!(status = %error.status, error = %error.message, "admission review not answered");
    } else {
        let mut excerpt = error.message.escape_debug().to_string();
        message::truncate(&mut excerpt, LOGGED_MESSAGE_CHARS);
        tracing::debug!(status = %error.status, error = %excerpt, "admission review refused");
    }
}

async fn answer(
    state: &WebhookState,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Reviewed, Vec<u8>), ApiError> {
    if !state.policies_loaded.is_ready() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the policies are not loaded yet (caches syncing); no review is answered before they \
             are, so the API server applies the webhook's failurePolicy",
        ));
    }
    // 413 for a body over the limit, 400 for one that cannot be read.
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    // The evaluation stops (its CEL rules become errors) once nobody waits for it: when the
    // request's deadline fires or the client leaves, this future is dropped and sets the flag.
    let abandoned = Arc::new(AtomicBool::new(false));
    let _abandon_on_drop = AbandonOnDrop(abandoned.clone());
    let until = Instant::now() + state.request_timeout;
    let deadline = Deadline::at(until).or_cancelled(abandoned);
    let namespaces = namespaces_for(state, &body, until).await;
    let permit = state
        .evaluations
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the evaluation pool is closed"))?;
    let snapshot = state.store.snapshot();
    // Parsing and evaluation are CPU-bound: run them on the blocking pool, one per slot. If the
    // deadline fires meanwhile, the evaluation stops at its next step and gives its slot back, so
    // a few hostile reviews cannot starve the ones queued behind them.
    let metrics = state.metrics.clone();
    let timeout = state.request_timeout;
    let work = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        let started = Instant::now();
        let ctx = EvalContext {
            now: Timestamp::now(),
            namespaces: &*namespaces,
        };
        let result = deadline.run(|| review(&body, &snapshot.set, &ctx));
        // Rules stopped by the deadline judged nothing: answer as the timeout does (503, no
        // decision, the API server applies failurePolicy), whichever of the two fired first.
        if deadline.passed() {
            metrics.admission_evaluation(started.elapsed());
            return Err(timed_out(timeout));
        }
        let result = result.and_then(|reviewed| {
            let json = reviewed
                .to_json()
                .map_err(|e| ApiError::internal(format!("cannot encode the response: {e}")))?;
            Ok((reviewed, json))
        });
        metrics.admission_evaluation(started.elapsed());
        result
    });
    match work.await {
        Ok(result) => result,
        // A panic in the engine is a bug; answer it as one instead of dropping the connection.
        Err(e) => {
            tracing::error!(error = %e, "evaluating an admission review panicked");
            Err(ApiError::internal("evaluating the review failed"))
        }
    }
}

/// The namespace labels the evaluation reads. Failing closed, a namespace the cache does not
/// know yet is waited for here, once per review, before an evaluation slot is taken: the wait
/// delays only this request and ends with it. It takes at most half of what is left of the
/// request's deadline, so the evaluation keeps the other half.
async fn namespaces_for(state: &WebhookState, body: &[u8], until: Instant) -> SharedNamespaces {
    let Some(wait) = state.namespace_wait else {
        return state.namespaces.clone();
    };
    if let Some(namespace) = namespace_of(body) {
        let now = Instant::now();
        let wait = wait.min(until.saturating_duration_since(now) / 2);
        wait_for_namespace(&state.namespaces, &namespace, now + wait).await;
    }
    Arc::new(guardian_core::engine::FailClosed(state.namespaces.clone()))
}

/// Sets its flag when dropped: with the request future, when its deadline fires.
struct AbandonOnDrop(Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Counts a decision. Dry runs are answered exactly like real requests but not counted:
/// `kubectl diff` and server-side dry runs would otherwise inflate the admission numbers with
/// objects that were never admitted or denied. The webhook writes nothing, so neither has other
/// side effects (`sideEffects: None`).
fn record(state: &WebhookState, reviewed: &Reviewed, elapsed: std::time::Duration) {
    let decision = reviewed.decision.as_str();
    if !reviewed.dry_run {
        state
            .metrics
            .admission(decision, reviewed.enforcement_label(), elapsed);
        if reviewed.rule_errors > 0 {
            state.metrics.error("admission_rule_error");
        }
    }
    // The uid and subject come from the request, whoever sent it: debug only, escaped and cut.
    if tracing::enabled!(tracing::Level::DEBUG) {
        let mut uid = reviewed.response.uid.escape_debug().to_string();
        message::truncate(&mut uid, 64);
        let mut subject = reviewed.subject.escape_debug().to_string();
        message::truncate(&mut subject, LOGGED_MESSAGE_CHARS);
        tracing::debug!(
            %uid,
            %subject,
            decision,
            dry_run = reviewed.dry_run,
            warnings = reviewed.response.warnings.len(),
            "admission review answered"
        );
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("use POST {VALIDATE_PATH} with an AdmissionReview"),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such path; the webhook serves POST {VALIDATE_PATH}"),
    )
}
