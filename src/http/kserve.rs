//! Open Inference Protocol (KServe V2) REST: server and model metadata, readiness,
//! and inference in JSON or with the binary tensor data extension that Triton's
//! clients use by default.

mod classify;
mod params;
mod wire;

use super::body::{
    cache_policy, check_json_content_type, parse_or, version_number, AnyBytes, Received,
};
use super::{prediction_response, AppState};
use crate::config::BatchSize;
use crate::error::ApiError;
use crate::repository::Servable;
use crate::request::{InferRequest, InputTensor};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::CONTENT_ENCODING;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use wire::V2Request;

/// Header giving the length of the JSON part when binary tensor data follows it.
const HEADER_LENGTH: &str = "inference-header-content-length";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(v1_live))
        .route("/v2", get(server_metadata))
        .route("/v2/models/{m}", get(model_metadata))
        .route("/v2/models/{m}/versions/{v}", get(version_metadata))
        .route("/v2/models/{m}/config", get(model_config))
        .route("/v2/models/{m}/versions/{v}/config", get(version_config))
        .route("/v2/models/{m}/ready", get(model_ready))
        .route("/v2/models/{m}/versions/{v}/ready", get(version_ready))
        .route("/v2/models/{m}/infer", post(infer))
        .route("/v2/models/{m}/versions/{v}/infer", post(version_infer))
        .route("/v2/models/{m}/labels/{l}/infer", post(label_infer))
}

/// KServe's V1 liveness (`GET /`), which the KServe SDK's `is_server_live` calls.
async fn v1_live() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "inferd",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "classification"],
    }))
}

fn metadata(servable: &Servable) -> Value {
    let specs = |list: &[crate::model::TensorSpec]| -> Vec<Value> {
        list.iter()
            .map(|t| json!({"name": t.name, "datatype": t.dtype.name(), "shape": t.shape}))
            .collect()
    };
    let sig = servable.model.signature();
    json!({
        "name": servable.name,
        "versions": [servable.version.to_string()],
        "platform": "onnx",
        "inputs": specs(&sig.inputs),
        "outputs": specs(&sig.outputs),
    })
}

async fn model_metadata(
    State(s): State<AppState>,
    Path(m): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let repo = &s.inference.repository;
    let newest = repo.resolve(&m, None)?;
    let mut body = metadata(&newest);
    let list = repo.versions(&m).unwrap_or_default();
    body["versions"] = json!(list
        .loaded
        .iter()
        .map(|v| v.version.to_string())
        .collect::<Vec<_>>());
    Ok(Json(body))
}

async fn version_metadata(
    State(s): State<AppState>,
    Path((m, v)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let servable = versioned(&s, &m, &v)?;
    Ok(Json(metadata(&servable)))
}

/// Triton's model configuration, which `tritonclient`'s `get_model_config` reads:
/// batching and each tensor's type and dimensions (without the batch dimension when
/// `max_batch_size` > 0, as Triton gives them).
fn config(servable: &Servable) -> Value {
    let sig = servable.model.signature();
    let batched = sig.is_batched();
    let tensors = |list: &[crate::model::TensorSpec]| -> Vec<Value> {
        list.iter()
            .map(|t| {
                let dims = if batched { &t.shape[1..] } else { &t.shape[..] };
                let kind = match t.dtype.name() {
                    "BYTES" => "TYPE_STRING".to_string(),
                    name => format!("TYPE_{name}"),
                };
                json!({"name": t.name, "data_type": kind, "dims": dims})
            })
            .collect()
    };
    let max_batch_size = if batched { servable.batch.rows } else { 0 };
    // Triton's `parameters` map holds strings: how the size was set, and for
    // "auto" the measured curve it was chosen from (README "Batching and overload").
    let chosen_by = match servable.settings.batching.max_batch_size {
        BatchSize::Auto if batched => "auto",
        BatchSize::Auto => "auto (not batched: one request per run)",
        BatchSize::Rows(_) => "configured",
    };
    // Empty unless the engine's run limit lowered the size or ended the sweep.
    let limit = servable
        .batch
        .limit
        .map_or_else(String::new, |rows| rows.to_string());
    json!({
        "name": servable.name,
        "platform": "onnx",
        "max_batch_size": max_batch_size,
        "input": tensors(&sig.inputs),
        "output": tensors(&sig.outputs),
        "parameters": {
            "max_batch_size_source": {"string_value": chosen_by},
            "max_batch_size_curve": {"string_value": servable.batch.curve_text()},
            "max_batch_size_engine_limit": {"string_value": limit},
        },
    })
}

async fn model_config(
    State(s): State<AppState>,
    Path(m): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let servable = s.inference.repository.resolve(&m, None)?;
    Ok(Json(config(&servable)))
}

async fn version_config(
    State(s): State<AppState>,
    Path((m, v)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let servable = versioned(&s, &m, &v)?;
    Ok(Json(config(&servable)))
}

/// Model `m` at version `v` from a `/versions/{v}` path.
fn versioned(s: &AppState, m: &str, v: &str) -> Result<Arc<Servable>, ApiError> {
    s.inference.repository.resolve(m, Some(version_number(v)?))
}

fn ready_body(s: &AppState, servable: Arc<Servable>) -> Result<Json<Value>, ApiError> {
    if let Some(e) = super::health::not_ready(s) {
        return Err(e);
    }
    Ok(Json(
        json!({"name": servable.name, "version": servable.version.to_string(), "ready": true}),
    ))
}

async fn model_ready(
    State(s): State<AppState>,
    Path(m): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let servable = s.inference.repository.resolve(&m, None)?;
    ready_body(&s, servable)
}

async fn version_ready(
    State(s): State<AppState>,
    Path((m, v)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    ready_body(&s, versioned(&s, &m, &v)?)
}

async fn infer(
    State(s): State<AppState>,
    Path(m): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    run(s, m, (None, None), req).await
}

async fn label_infer(
    State(s): State<AppState>,
    Path((m, l)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    run(s, m, (None, Some(l)), req).await
}

async fn version_infer(
    State(s): State<AppState>,
    Path((m, v)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let version = version_number(&v)?;
    run(s, m, (Some(version), None), req).await
}

async fn run(
    state: AppState,
    model: String,
    (version, label): (Option<u64>, Option<String>),
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers();
    check_no_content_encoding(headers)?;
    let policy = cache_policy(headers);
    let json_len = match headers.get(HEADER_LENGTH) {
        None => {
            check_json_content_type(headers)?;
            None
        }
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Inference-Header-Content-Length must be a whole number of bytes",
                    )
                })?,
        ),
    };
    let AnyBytes(mut body) = AnyBytes::from_request(req, &state).await?;
    let binary = match json_len {
        Some(n) if n > body.len() => {
            return Err(ApiError::bad_request(format!(
                "Inference-Header-Content-Length is {n} but the body has only {} bytes",
                body.len()
            )))
        }
        Some(n) => body.split_off(n),
        None => Default::default(),
    };
    let request = parse_or(&body, V2Request::fast)?;
    let mut wanted = request.wanted()?;
    let classifies = wanted.modes.iter().any(|m| m.classification.is_some());
    let batched = classifies && is_batched(&state, &model, version, label.as_deref())?;
    let id = request.id.clone();
    let infer = InferRequest {
        model: Some(model),
        version,
        label,
        inputs: wire::inputs(request.inputs, binary)?,
        outputs: wanted.names.take(),
        cache: policy,
    };
    let answer = state.inference.infer(infer).await?;
    let (json_part, tail) = wire::response(&answer, id.as_deref(), &wanted, batched)?;
    let mut bytes = serde_json::to_vec(&json_part)
        .map_err(|e| ApiError::Internal(format!("encoding the answer: {e}")))?;
    if tail.is_empty() {
        return Ok(prediction_response(&answer, "application/json", bytes));
    }
    let json_len = bytes.len();
    bytes.extend_from_slice(&tail);
    let mut response = prediction_response(&answer, "application/octet-stream", bytes);
    response
        .headers_mut()
        .insert(HEADER_LENGTH, HeaderValue::from(json_len));
    Ok(response)
}

/// Whether the model's first dimension is rows, which decides classification's shape
/// (per row for batched models, over the whole output otherwise, as in Triton).
fn is_batched(
    state: &AppState,
    model: &str,
    version: Option<u64>,
    label: Option<&str>,
) -> Result<bool, ApiError> {
    let servable = state
        .inference
        .repository
        .resolve_for(model, version, label)?;
    Ok(servable.model.signature().is_batched())
}

/// 415 for a compressed body (Triton's `request_compression_algorithm`): inferd
/// reads bodies as sent, and would otherwise report the compressed bytes as bad JSON.
fn check_no_content_encoding(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim())
    {
        None => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("identity") => Ok(()),
        Some(v) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding {v:?} is not supported; send the body uncompressed"
        ))),
    }
}

/// A V2 JSON body's inputs, decoded as [`infer`] decodes them, without decode limits
/// (`super::decode`).
pub(super) fn decode_json(body: Bytes) -> Result<Vec<InputTensor>, ApiError> {
    let body = Received::new(body, crate::json::Limits::NONE);
    let request = parse_or(&body, V2Request::fast)?;
    wire::inputs(request.inputs, Bytes::new())
}
