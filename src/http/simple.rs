//! `POST /predict`: the TF Serving body, plus optional `model` and `version` keys, for
//! clients that just want an answer from the default model.

use super::body::{parse_or, JsonBytes, Policy};
use super::tfserving::{answer, wire::TfBody};
use super::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::response::Response;

pub(super) async fn predict(
    State(state): State<AppState>,
    Policy(policy): Policy,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, ApiError> {
    let mut body = parse_or(&bytes, TfBody::fast)?;
    drop(bytes); // its share of http.decode_budget goes back once decoded
    let model = body.model.take();
    let version = body.version.take().map(|v| v.number()).transpose()?;
    answer(&state, model, (version, None), body, policy).await
}
