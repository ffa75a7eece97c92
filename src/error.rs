//! The one error type of the request path and the one place that picks status codes.
//!
//! Every route, including axum's own rejections and unknown routes, answers errors as
//! `{"error": "<sentence>"}` (README "Endpoints", the error table). Internal details are logged with the request
//! id and never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why a request failed, as the client should see it.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ApiError {
    /// The request is malformed or does not fit the model's signature.
    #[error("{0}")]
    BadRequest(String),
    /// The model or version does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than `max_body_bytes`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A JSON route was sent another content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body did not arrive within `http.body_read_timeout`.
    #[error("{0}")]
    RequestTimeout(String),
    /// An admin request without the right bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// The admin API is off (no token configured).
    #[error("{0}")]
    Forbidden(String),
    /// The method is not served on this route.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Queue full or draining: the client should retry, here or elsewhere.
    #[error("{message}")]
    Unavailable {
        /// What the client is told.
        message: String,
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// The request's deadline passed before it was computed.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A bug or an engine failure; the detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DeadlineExceeded(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Shorthand for a 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(detail) => {
                // The request id is on the enclosing span, so this line carries it.
                tracing::error!(detail = %detail, "internal error");
                "internal error; see the server log for this request id".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if let ApiError::Unauthorized(_) = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"inferd admin\""),
            );
        }
        if let ApiError::Unavailable {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}
