//! Open Inference Protocol (KServe V2) REST: server and model metadata, readiness,
//! and inference in JSON or with the binary tensor data extension that Triton's
//! clients use by default.

mod wire;

use super::body::{cache_policy, check_json_content_type, parse, version_number, AnyBytes};
use super::{prediction_response, AppState};
use crate::error::ApiError;
use crate::repository::Servable;
use crate::request::InferRequest;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use wire::V2Request;

/// Header giving the length of the JSON part when binary tensor data follows it.
const HEADER_LENGTH: &str = "inference-header-content-length";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/models/{m}", get(model_metadata))
        .route("/v2/models/{m}/versions/{v}", get(version_metadata))
        .route("/v2/models/{m}/ready", get(model_ready))
        .route("/v2/models/{m}/versions/{v}/ready", get(version_ready))
        .route("/v2/models/{m}/infer", post(infer))
        .route("/v2/models/{m}/versions/{v}/infer", post(version_infer))
}

async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "inferd",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
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
    run(s, m, None, req).await
}

async fn version_infer(
    State(s): State<AppState>,
    Path((m, v)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let version = version_number(&v)?;
    run(s, m, Some(version), req).await
}

async fn run(
    state: AppState,
    model: String,
    version: Option<u64>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers();
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
    let request: V2Request = parse(&body)?;
    let all_binary = wire::flag(&request.parameters, "binary_data_output")?;
    let (wanted, binary_outputs) = match &request.outputs {
        None => (None, None),
        Some(list) => {
            let names = list.iter().map(|o| o.name.clone()).collect();
            let flags = list
                .iter()
                .map(|o| Ok(all_binary || wire::flag(&o.parameters, "binary_data")?))
                .collect::<Result<Vec<bool>, ApiError>>()?;
            (Some(names), Some(flags))
        }
    };
    let id = request.id.clone();
    let infer = InferRequest {
        model: Some(model),
        version,
        inputs: wire::inputs(request.inputs, binary)?,
        outputs: wanted,
        cache: policy,
    };
    let answer = state.inference.infer(infer).await?;
    let binary = binary_outputs.unwrap_or_else(|| vec![all_binary; answer.outputs.len()]);
    let (json_part, tail) = wire::response(&answer, id.as_deref(), &binary);
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
