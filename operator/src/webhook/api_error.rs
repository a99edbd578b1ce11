//! Errors answered to the HTTP client as JSON, never as a panic or a dropped connection.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A request the webhook could not answer with an AdmissionReview. The API server treats any
/// non-200 answer as a webhook failure and applies the webhook's `failurePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: u16,
    reason: &'a str,
    message: &'a str,
}

/// Longest message answered: a 400's message may quote the request (a parser's excerpt, a
/// wrong apiVersion), and the answer must not echo megabytes back.
pub const MAX_MESSAGE_CHARS: usize = 1024;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        super::message::truncate(&mut message, MAX_MESSAGE_CHARS);
        ApiError { status, message }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
