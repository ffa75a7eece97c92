//! `GET /v2/models/{m}[/versions/{v}]/monitoring`: this replica's drift per feature.

use super::AppState;
use crate::error::ApiError;
use crate::repository::Servable;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/models/{m}/monitoring", get(newest))
        .route("/v2/models/{m}/versions/{v}/monitoring", get(versioned))
}

async fn newest(State(s): State<AppState>, Path(m): Path<String>) -> Result<Json<Value>, ApiError> {
    report(&*s.inference.repository.resolve(&m, None)?)
}

async fn versioned(
    State(s): State<AppState>,
    Path((m, v)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let version = v
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("version `{v}` is not a whole number")))?;
    report(&*s.inference.repository.resolve(&m, Some(version))?)
}

/// `{"window_rows": N, "features": [{"name", "psi"}]}`; `psi` is null until the
/// first row is served.
fn report(servable: &Servable) -> Result<Json<Value>, ApiError> {
    let monitor = servable.monitor.as_ref().ok_or_else(|| {
        ApiError::NotFound(format!(
            "model `{}` version {} is not monitored: its folder has no valid baseline.json (make one with `inferd baseline`)",
            servable.name, servable.version
        ))
    })?;
    let features: Vec<Value> = monitor
        .psi()
        .into_iter()
        .map(|(name, psi)| json!({ "name": name, "psi": psi }))
        .collect();
    Ok(Json(json!({
        "model": servable.name,
        "version": servable.version.to_string(),
        "window_rows": monitor.window_rows,
        "features": features,
    })))
}
