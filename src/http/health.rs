//! Liveness, readiness and the metrics exposition.

use super::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::atomic::Ordering;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(live))
        .route("/v2/health/live", get(v2_live))
        .route("/readyz", get(ready))
        .route("/v2/health/ready", get(v2_ready))
        .route("/metrics", get(metrics))
}

/// 200 while the process can answer at all: a restart would not help.
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

async fn v2_live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

/// Why the replica should not get traffic, if it should not.
pub(super) fn not_ready(state: &AppState) -> Option<ApiError> {
    let why = if state.draining.load(Ordering::Relaxed) {
        "the server is draining for shutdown"
    } else if !state.inference.repository.is_ready() {
        "no model is loaded"
    } else {
        return None;
    };
    Some(ApiError::Unavailable {
        message: why.into(),
        retry_after_secs: 1,
    })
}

async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match not_ready(&state) {
        Some(e) => Err(e),
        None => Ok(Json(json!({ "status": "ready" }))),
    }
}

async fn v2_ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match not_ready(&state) {
        Some(e) => Err(e),
        None => Ok(Json(json!({ "ready": true }))),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(cache) = &state.inference.cache {
        cache.update_gauges();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
