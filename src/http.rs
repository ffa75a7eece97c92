//! The HTTP front: composes the protocol routes with the one layer every request
//! passes ([`observe`]: request id, span, panic guard, log line, metrics). Bodies are
//! size-limited where they are read (`body.rs`).

mod admin;
mod body;
pub mod decode;
mod health;
mod kserve;
mod monitoring;
mod observe;
pub mod server;
mod simple;
mod tfserving;

use crate::config::RequestLog;
pub use admin::AdminToken;
pub use body::Intake;

use crate::error::ApiError;
use crate::inference::Inference;
use crate::metrics::Metrics;
use crate::request::{CacheStatus, InferResponse};
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Everything a handler needs, behind one `Arc`: axum clones the state for every
/// extractor and layer that takes it, and one reference count is cheaper than five
/// (the five cost 0.3 µs of a 5 µs cache hit, `cargo bench --bench hot_path -- router`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps the shared parts.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// The shared path to the models.
    pub inference: Inference,
    /// Metrics to record into and render.
    pub metrics: Metrics,
    /// Set on SIGTERM: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// `max_body_bytes`, for the 413 message.
    pub max_body_bytes: usize,
    /// `log.requests`: which requests get an access-log line.
    pub request_log: RequestLog,
    /// Bounds on reading and decoding bodies.
    pub intake: Intake,
    /// The admin API's token, if it is on.
    pub admin: AdminToken,
}

/// The request id header, echoed or generated.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/predict", post(simple::predict))
        .route(
            "/v1/models/{*rest}",
            get(tfserving::status).post(tfserving::predict),
        )
        .merge(kserve::routes())
        .merge(health::routes())
        .merge(monitoring::routes())
        .merge(admin::routes())
        .route("/openapi.json", get(openapi))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed);
    with_layers(routes, state)
}

/// The one layer every route and fallback passes: [`observe`] (request id, span,
/// panic guard, log line, metrics). Inside the router, where the matched route
/// template is known. One layer only: axum boxes each `Router::layer` call around
/// every route again and clones every box per request (the body limit is applied
/// where bodies are read, in `body.rs`).
fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .layer(observe::ObserveLayer(
            state.metrics.clone(),
            state.request_log,
        ))
        .with_state(state)
}

/// The OpenAPI document of every route (`src/http/openapi.json`).
async fn openapi() -> Response {
    let mut response = Response::new(Body::from(include_str!("http/openapi.json")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// 404, except for a method no route serves anywhere, which is a 405 whatever the
/// path.
async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    if observe::method_label(&method) == "other" {
        return method_not_allowed(method, uri).await;
    }
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("method {method} is not allowed on {}", uri.path()))
}

/// The headers every prediction response carries. Named once here: inserting by
/// `&str` parses and validates the name on every response.
mod names {
    use axum::http::HeaderName;
    pub(super) const CACHE: HeaderName = HeaderName::from_static("x-inferd-cache");
    pub(super) const MODEL: HeaderName = HeaderName::from_static("x-inferd-model");
    pub(super) const VERSION: HeaderName = HeaderName::from_static("x-inferd-model-version");
    pub(super) const QUEUE_TIME: HeaderName = HeaderName::from_static("x-inferd-queue-time");
    pub(super) const INFERENCE_TIME: HeaderName =
        HeaderName::from_static("x-inferd-inference-time");
}

/// A prediction's response: the encoded body, its content type and the headers every
/// prediction carries. The header map is sized once for everything added here, by
/// `observe` and by axum; growing it costs two allocations each time.
pub(crate) fn prediction_response(
    answer: &InferResponse,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.reserve(12);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        names::CACHE,
        HeaderValue::from_static(answer.cache.as_str()),
    );
    if let Ok(v) = HeaderValue::from_str(&answer.model) {
        headers.insert(names::MODEL, v);
    }
    headers.insert(names::VERSION, HeaderValue::from(answer.version));
    // Only when the model ran: a full hit has no queue or inference time, and two
    // fewer headers to write on the most frequent answer.
    if answer.cache != CacheStatus::Hit {
        let micros = |d: std::time::Duration| match d.as_micros() {
            0 => HeaderValue::from_static("0"),
            n => HeaderValue::from(n as u64),
        };
        headers.insert(names::QUEUE_TIME, micros(answer.timing.queue));
        headers.insert(names::INFERENCE_TIME, micros(answer.timing.inference));
    }
    response
}

#[cfg(test)]
mod tests;
