//! The HTTP front: composes the protocol routes with the layers every request passes
//! (request id, panic guard, body limit, one log line and metrics per request).

mod body;
mod health;
mod kserve;
mod observe;
mod simple;
mod tfserving;

use crate::error::ApiError;
use crate::inference::Inference;
use crate::metrics::Metrics;
use crate::request::InferResponse;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The shared path to the models.
    pub inference: Inference,
    /// Metrics to record into and render.
    pub metrics: Metrics,
    /// Set on SIGTERM: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// `max_body_bytes`, for the 413 message.
    pub max_body_bytes: usize,
}

/// The request id header, echoed or generated.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    let routes = Router::new()
        .route("/predict", post(simple::predict))
        .route(
            "/v1/models/{*rest}",
            get(tfserving::status).post(tfserving::predict),
        )
        .merge(kserve::routes())
        .merge(health::routes())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        // Inside the router, where the matched route template is known.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state);
    // Layers that need no route wrap the router once rather than every route, so a
    // request does not clone them route by route.
    let outer = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .service(routes);
    Router::new().fallback_service(outer)
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("method {method} is not allowed on {}", uri.path()))
}

/// Adds the headers every prediction response carries.
pub(crate) fn with_prediction_headers(mut response: Response, answer: &InferResponse) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        "x-inferd-cache",
        HeaderValue::from_static(answer.cache.as_str()),
    );
    if let Ok(v) = HeaderValue::from_str(&answer.model) {
        headers.insert("x-inferd-model", v);
    }
    headers.insert("x-inferd-model-version", HeaderValue::from(answer.version));
    let micros = |d: std::time::Duration| HeaderValue::from(d.as_micros() as u64);
    headers.insert("x-inferd-queue-time", micros(answer.timing.queue));
    headers.insert("x-inferd-inference-time", micros(answer.timing.inference));
    response.extensions_mut().insert(answer.timing);
    response
}
