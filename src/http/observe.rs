//! One log line and one set of metrics per request, under a span carrying the request
//! id so anything logged while serving it (errors included) can be found by that id.

use super::{AppState, REQUEST_ID};
use crate::batcher::Timing;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// The route template a handler reports when the router's own match is a wildcard
/// (TF Serving's `:predict` suffix), so the `route` label stays bounded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RouteLabel(pub &'static str);

/// Decrements the in-flight gauge even when the request future is dropped.
struct Inflight(prometheus::IntGauge);

impl Drop for Inflight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub(super) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // Cheap handles (reference-counted), not copies: this runs on every request.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let uri = req.uri().clone();
    let span = match req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(id) => tracing::info_span!("request", id = %id),
        None => tracing::info_span!("request"),
    };
    state.metrics.inflight.inc();
    let _inflight = Inflight(state.metrics.inflight.clone());
    let response = next.run(req).instrument(span.clone()).await;

    let route = match (response.extensions().get::<RouteLabel>(), &matched) {
        (Some(label), _) => label.0,
        (None, Some(m)) => m.as_str(),
        (None, None) => "unmatched",
    };
    let status = response.status();
    let elapsed = started.elapsed();
    let m = &state.metrics;
    m.http_requests
        .with_label_values(&[route, method.as_str(), status.as_str()])
        .inc();
    m.http_duration
        .with_label_values(&[route])
        .observe(elapsed.as_secs_f64());
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        m.rejected
            .with_label_values(&[crate::metrics::UNKNOWN_MODEL, "too_large"])
            .inc();
    }
    // Where the time went, so a slow request's line says whether it queued or computed.
    let timing = response
        .extensions()
        .get::<Timing>()
        .copied()
        .unwrap_or_default();
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            path = %uri.path(),
            status = status.as_u16(),
            micros = elapsed.as_micros() as u64,
            queue_micros = timing.queue.as_micros() as u64,
            inference_micros = timing.inference.as_micros() as u64,
            "request"
        );
    });
    response
}
