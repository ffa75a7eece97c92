//! The floor's router: a bare axum `/predict` that parses the same JSON body inferd's
//! does and answers a fixed small JSON at once. Shared by `benches/floor.rs` (served
//! over loopback by `scripts/loadbench.sh`) and `benches/hot_path.rs` (driven in
//! process, next to inferd's router, so the two are compared without the kernel).

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

/// The `/predict` row-format body: `{"instances": [[f32; N], ...]}`.
#[derive(Deserialize)]
struct Instances {
    /// Rows of features; parsed in full, as inferd does, then dropped.
    #[allow(dead_code)]
    instances: Vec<Vec<f32>>,
}

/// The answer every valid request gets: one forecast for one row.
const ANSWER: &str = r#"{"predictions":[[0.0]]}"#;

async fn predict(body: Bytes) -> impl IntoResponse {
    match serde_json::from_slice::<Instances>(&body) {
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            ANSWER,
        ),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"invalid JSON body"}"#,
        ),
    }
}

/// `/predict` and `/readyz`, nothing else.
pub(crate) fn app() -> Router {
    Router::new()
        .route("/predict", post(predict))
        .route("/readyz", get(|| async { "ready" }))
}
