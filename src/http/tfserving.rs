//! TensorFlow Serving REST: `POST /v1/models/{m}[/versions/{v}]:predict` and
//! `GET /v1/models/{m}[/versions/{v}]` (status). axum cannot match the `:predict`
//! suffix inside a segment, so one wildcard route parses the path here and reports
//! the template it matched for the `route` metric label.

pub(crate) mod wire;

use super::body::{cache_policy, parse_or, version_number, JsonBytes};
use super::observe::RouteLabel;
use super::{prediction_response, AppState};
use crate::error::ApiError;
use crate::request::{CachePolicy, InferRequest};
use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use wire::{TfAnswer, TfBody};

/// The one signature an ONNX model has, named as TF Serving names its default.
const SIGNATURE: &str = "serving_default";

/// A parsed `/v1/models/...` path.
struct TfPath {
    model: String,
    version: Option<u64>,
    /// `/labels/{l}`: a version label from `model.toml`, instead of a number.
    version_label: Option<String>,
    verb: Option<String>,
    /// Ends in `/metadata` (model metadata rather than status).
    metadata: bool,
}

impl TfPath {
    fn parse(rest: &str) -> Result<TfPath, ApiError> {
        let (path, verb) = match rest.rsplit_once(':') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (rest, None),
        };
        let mut parts: Vec<&str> = path.split('/').collect();
        let metadata = parts.len() > 1 && parts.last() == Some(&"metadata");
        if metadata {
            parts.pop();
        }
        let (model, version, version_label) = match parts.as_slice() {
            [m] => (*m, None, None),
            [m, "versions", v] => (*m, Some(*v), None),
            [m, "labels", l] => (*m, None, Some(l.to_string())),
            _ => {
                return Err(ApiError::NotFound(format!(
                    "no route for /v1/models/{rest}; expected /v1/models/{{model}}[/versions/{{version}}|/labels/{{label}}][:predict|/metadata]"
                )))
            }
        };
        let version = version.map(version_number).transpose()?;
        Ok(TfPath {
            model: model.to_string(),
            version,
            version_label,
            verb,
            metadata,
        })
    }

    fn label(&self) -> &'static str {
        if self.version_label.is_some() {
            return match (self.metadata, self.verb.is_some()) {
                (true, _) => "/v1/models/{m}/labels/{l}/metadata",
                (false, true) => "/v1/models/{m}/labels/{l}:predict",
                (false, false) => "/v1/models/{m}/labels/{l}",
            };
        }
        if self.metadata {
            return match self.version {
                None => "/v1/models/{m}/metadata",
                Some(_) => "/v1/models/{m}/versions/{v}/metadata",
            };
        }
        match (self.version.is_some(), self.verb.is_some()) {
            (false, true) => "/v1/models/{m}:predict",
            (true, true) => "/v1/models/{m}/versions/{v}:predict",
            (false, false) => "/v1/models/{m}",
            (true, false) => "/v1/models/{m}/versions/{v}",
        }
    }

    /// The version a label stands for, resolved now (status and metadata routes).
    fn resolve_label(mut self, state: &AppState) -> Result<TfPath, ApiError> {
        if let Some(label) = self.version_label.take() {
            let servable = state
                .inference
                .repository
                .resolve_label(&self.model, &label)?;
            self.version = Some(servable.version);
        }
        Ok(self)
    }
}

fn labelled(label: &'static str, result: Result<Response, ApiError>) -> Response {
    let mut response = result.into_response();
    response.extensions_mut().insert(RouteLabel(label));
    response
}

pub(super) async fn predict(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    req: Request,
) -> Response {
    let path = match TfPath::parse(&rest) {
        Ok(p) => p,
        Err(e) => return labelled("/v1/models/{*rest}", Err(e)),
    };
    let label = path.label();
    labelled(label, predict_inner(state, path, req).await)
}

async fn predict_inner(state: AppState, path: TfPath, req: Request) -> Result<Response, ApiError> {
    if path.metadata {
        return Err(ApiError::MethodNotAllowed(
            "model metadata is read with GET .../metadata".into(),
        ));
    }
    match path.verb.as_deref() {
        Some("predict") => {}
        Some(other) => {
            return Err(ApiError::NotFound(format!(
                "method `:{other}` is not supported; use `:predict`"
            )))
        }
        None => {
            return Err(ApiError::MethodNotAllowed(
                "POST needs the `:predict` suffix, e.g. /v1/models/{model}:predict".into(),
            ))
        }
    }
    let policy = cache_policy(req.headers());
    let JsonBytes(bytes) = JsonBytes::from_request(req, &state).await?;
    let body = parse_or(&bytes, TfBody::fast)?;
    drop(bytes); // its share of http.decode_budget goes back once decoded
    if body.model.is_some() || body.version.is_some() {
        return Err(ApiError::bad_request(
            "`model` and `version` belong in the URL on this route, not in the body",
        ));
    }
    let version = (path.version, path.version_label);
    answer(&state, Some(path.model), version, body, policy).await
}

/// Runs a TF-format body and answers in the same format (shared with `/predict`).
pub(super) async fn answer(
    state: &AppState,
    model: Option<String>,
    (version, label): (Option<u64>, Option<String>),
    body: TfBody,
    cache: CachePolicy,
) -> Result<Response, ApiError> {
    if let Some(name) = body.signature_name.as_deref().filter(|n| *n != SIGNATURE) {
        return Err(ApiError::bad_request(format!(
            "unknown signature_name {name:?}; the model's signatures are: {SIGNATURE:?} \
             (an ONNX model has one)"
        )));
    }
    let (tensors, rows) = match (body.instances, body.inputs) {
        (Some(i), None) => (i.0, true),
        (None, Some(c)) => (c.0, false),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either `instances` (row format) or `inputs` (columnar format), not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "the body needs `instances` (row format) or `inputs` (columnar format)",
            ))
        }
    };
    let req = InferRequest {
        model,
        version,
        label,
        inputs: tensors.into_inputs(),
        outputs: None,
        cache,
    };
    let answer = state.inference.infer(req).await?;
    let body = if rows {
        serde_json::to_vec(&TfAnswer::Rows(&answer))
    } else {
        serde_json::to_vec(&TfAnswer::Columns(&answer))
    }
    .map_err(|e| ApiError::Internal(format!("encoding the answer: {e}")))?;
    Ok(prediction_response(&answer, "application/json", body))
}

pub(super) async fn status(State(state): State<AppState>, Path(rest): Path<String>) -> Response {
    let result = TfPath::parse(&rest).and_then(|path| {
        let label = path.label();
        let path = path.resolve_label(&state)?;
        if path.verb.is_some() {
            return Err(ApiError::MethodNotAllowed(format!(
                "GET is not allowed on /v1/models/{rest}; use POST"
            )));
        }
        let body = if path.metadata {
            metadata_body(&state, &path)?
        } else {
            status_body(&state, &path)?
        };
        Ok((label, body))
    });
    match result {
        Ok((label, body)) => labelled(label, Ok(Json(body).into_response())),
        Err(e) => labelled("/v1/models/{*rest}", Err(e)),
    }
}

/// TF Serving's model metadata: the one signature, `serving_default`, with each
/// tensor's TensorFlow dtype and shape (`-1` = any size).
fn metadata_body(state: &AppState, path: &TfPath) -> Result<serde_json::Value, ApiError> {
    let servable = state
        .inference
        .repository
        .resolve(&path.model, path.version)?;
    let tensors =
        |list: &[crate::model::TensorSpec]| -> serde_json::Map<String, serde_json::Value> {
            list.iter()
                .map(|t| {
                    let dims: Vec<_> = t
                        .shape
                        .iter()
                        .map(|d| json!({"size": d.to_string(), "name": ""}))
                        .collect();
                    let spec = json!({"dtype": tf_dtype(t.dtype), "name": t.name,
                                  "tensor_shape": {"dim": dims, "unknown_rank": false}});
                    (t.name.clone(), spec)
                })
                .collect()
        };
    let sig = servable.model.signature();
    let signature = json!({"inputs": tensors(&sig.inputs), "outputs": tensors(&sig.outputs),
                           "method_name": "tensorflow/serving/predict"});
    Ok(json!({
        "model_spec": {"name": servable.name, "signature_name": "", "version": servable.version.to_string()},
        "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}}},
    }))
}

fn status_body(state: &AppState, path: &TfPath) -> Result<serde_json::Value, ApiError> {
    let repo = &state.inference.repository;
    let list = repo
        .versions(&path.model)
        .ok_or_else(|| ApiError::NotFound(format!("model `{}` not found", path.model)))?;
    // A version that failed to load is reported with its reason, not as 404.
    if let Some(v) = path.version {
        if !list.failed.iter().any(|(f, _)| *f == v) {
            repo.resolve(&path.model, Some(v))?;
        }
    }
    let wanted = |v: u64| path.version.is_none_or(|w| w == v);
    let mut statuses: Vec<serde_json::Value> = list
        .loaded
        .iter()
        .filter(|s| wanted(s.version))
        .map(|s| {
            json!({"version": s.version.to_string(), "state": "AVAILABLE",
                   "status": {"error_code": "OK", "error_message": ""}})
        })
        .collect();
    statuses.extend(
        list.failed
            .iter()
            .filter(|(v, _)| wanted(*v))
            .map(|(v, why)| {
                json!({"version": v.to_string(), "state": "END",
               "status": {"error_code": "UNKNOWN", "error_message": why}})
            }),
    );
    // `name` and `ready` are KServe's V1 model status, read by the KServe SDK's
    // `is_model_ready`; TF Serving clients read `model_version_status`.
    let ready = statuses.iter().any(|s| s["state"] == "AVAILABLE")
        && super::health::not_ready(state).is_none();
    Ok(json!({ "model_version_status": statuses, "name": path.model, "ready": ready }))
}

/// TensorFlow's name for a datatype, as TF Serving's model metadata gives it.
fn tf_dtype(dtype: crate::tensor::DataType) -> &'static str {
    // By V2 name, so a datatype added to `DataType` later needs no change here.
    match dtype.name() {
        "BOOL" => "DT_BOOL",
        "UINT8" => "DT_UINT8",
        "UINT16" => "DT_UINT16",
        "UINT32" => "DT_UINT32",
        "UINT64" => "DT_UINT64",
        "INT8" => "DT_INT8",
        "INT16" => "DT_INT16",
        "INT32" => "DT_INT32",
        "INT64" => "DT_INT64",
        "FP16" => "DT_HALF",
        "FP32" => "DT_FLOAT",
        "FP64" => "DT_DOUBLE",
        "BYTES" => "DT_STRING",
        _ => "DT_INVALID",
    }
}
