//! The floor for the load benchmark (issue 6): a bare axum server on the same tokio
//! runtime settings as inferd (multi-thread, default worker count) whose `/predict`
//! parses the same JSON body inferd's does and answers a fixed small JSON at once.
//! No server on this stack can answer that request faster, so `scripts/loadbench.sh`
//! reports inferd's figures as ratios to this one's.
//!
//! `floor --serve 127.0.0.1:PORT` serves until killed. Without `--serve` (as under
//! `cargo bench`) it says how to use it and exits, so a plain bench run never hangs.

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

fn app() -> Router {
    Router::new()
        .route("/predict", post(predict))
        .route("/readyz", get(|| async { "ready" }))
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
    else {
        println!("floor: the load benchmark's reference server; run `floor --serve 127.0.0.1:PORT` (scripts/loadbench.sh does)");
        return Ok(());
    };
    // The same runtime inferd's main builds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        axum::serve(listener, app()).await
    })
}
