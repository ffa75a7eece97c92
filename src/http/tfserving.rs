//! TensorFlow Serving REST: `POST /v1/models/{m}[/versions/{v}]:predict` and
//! `GET /v1/models/{m}[/versions/{v}]` (status). axum cannot match the `:predict`
//! suffix inside a segment, so one wildcard route parses the path here and reports
//! the template it matched for the `route` metric label.

pub(crate) mod wire;

use super::body::{cache_policy, parse, version_number, JsonBytes};
use super::observe::RouteLabel;
use super::{prediction_response, AppState};
use crate::error::ApiError;
use crate::request::{CachePolicy, InferRequest};
use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use wire::{TfAnswer, TfBody};

/// A parsed `/v1/models/...` path.
struct TfPath {
    model: String,
    version: Option<u64>,
    verb: Option<String>,
}

impl TfPath {
    fn parse(rest: &str) -> Result<TfPath, ApiError> {
        let (path, verb) = match rest.rsplit_once(':') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (rest, None),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let (model, version) = match parts.as_slice() {
            [m] => (*m, None),
            [m, "versions", v] => (*m, Some(*v)),
            _ => {
                return Err(ApiError::NotFound(format!(
                    "no route for /v1/models/{rest}; expected /v1/models/{{model}}[/versions/{{version}}][:predict]"
                )))
            }
        };
        let version = version.map(version_number).transpose()?;
        Ok(TfPath {
            model: model.to_string(),
            version,
            verb,
        })
    }

    fn label(&self) -> &'static str {
        match (self.version.is_some(), self.verb.is_some()) {
            (false, true) => "/v1/models/{m}:predict",
            (true, true) => "/v1/models/{m}/versions/{v}:predict",
            (false, false) => "/v1/models/{m}",
            (true, false) => "/v1/models/{m}/versions/{v}",
        }
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
    let body: TfBody = parse(&bytes)?;
    drop(bytes); // its share of http.decode_budget goes back once decoded
    if body.model.is_some() || body.version.is_some() {
        return Err(ApiError::bad_request(
            "`model` and `version` belong in the URL on this route, not in the body",
        ));
    }
    answer(&state, Some(path.model), path.version, body, policy).await
}

/// Runs a TF-format body and answers in the same format (shared with `/predict`).
pub(super) async fn answer(
    state: &AppState,
    model: Option<String>,
    version: Option<u64>,
    body: TfBody,
    cache: CachePolicy,
) -> Result<Response, ApiError> {
    if let Some(name) = body
        .signature_name
        .as_deref()
        .filter(|n| *n != "serving_default")
    {
        return Err(ApiError::bad_request(format!(
            "unknown signature_name {name:?}; ONNX models have one signature, \"serving_default\""
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
        if path.verb.is_some() {
            return Err(ApiError::MethodNotAllowed(format!(
                "GET is not allowed on /v1/models/{rest}; use POST"
            )));
        }
        Ok((label, status_body(&state, &path)?))
    });
    match result {
        Ok((label, body)) => labelled(label, Ok(Json(body).into_response())),
        Err(e) => labelled("/v1/models/{*rest}", Err(e)),
    }
}

fn status_body(state: &AppState, path: &TfPath) -> Result<serde_json::Value, ApiError> {
    let repo = &state.inference.repository;
    if let Some(v) = path.version {
        repo.resolve(&path.model, Some(v))?;
    }
    let list = repo
        .versions(&path.model)
        .ok_or_else(|| ApiError::NotFound(format!("model `{}` not found", path.model)))?;
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
    Ok(json!({ "model_version_status": statuses }))
}
