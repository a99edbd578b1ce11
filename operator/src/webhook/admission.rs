//! The `admission.k8s.io/v1` AdmissionReview wire format: only the fields the webhook reads,
//! and the response it writes.
//!
//! Own serde structs rather than kube's `admission` types: those decode the object into a
//! `DynamicObject`, and the engine wants the `serde_json::Value` it can borrow its views from.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only AdmissionReview version the webhook speaks (`admissionReviewVersions: [v1]`).
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The kind of both the request and the response document.
pub const KIND: &str = "AdmissionReview";

/// An incoming AdmissionReview.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRequest {
    pub api_version: String,
    pub kind: String,
    pub request: Option<AdmissionRequest>,
}

/// The `request` part: what is being admitted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Echoed in the response; the API server matches answers by it.
    pub uid: String,
    /// The kind of the object; for a subresource (`deployments/scale`) the subresource's kind,
    /// so such requests take the fast path unless their object is itself a workload.
    #[serde(default)]
    pub kind: GroupVersionKind,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// CREATE, UPDATE, DELETE or CONNECT.
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub object: Option<Value>,
    #[serde(default)]
    pub old_object: Option<Value>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
}

/// The AdmissionReview the webhook answers with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResponse {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub response: AdmissionResponse,
}

impl ReviewResponse {
    pub fn new(response: AdmissionResponse) -> Self {
        ReviewResponse {
            api_version: API_VERSION,
            kind: KIND,
            response,
        }
    }
}

/// The `response` part: the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    /// Why a request was denied; the API server shows `message` to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Shown by kubectl as `Warning: …` lines, whatever the decision.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A `metav1.Status` as far as a denial needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub status: &'static str,
    pub reason: &'static str,
    pub code: u16,
    pub message: String,
}

impl Status {
    pub fn forbidden(message: String) -> Self {
        Status {
            status: "Failure",
            reason: "Forbidden",
            code: 403,
            message,
        }
    }
}
