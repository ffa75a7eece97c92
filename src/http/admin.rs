//! The admin API, KServe V2's repository extension: list what is loaded, load a
//! model's versions from disk, unload a model. Off (403) unless `admin.token` or
//! `admin.token_file` is set; then every call needs `Authorization: Bearer <token>`
//! (401 without it). The token is compared in constant time and never logged.

use super::body::{parse, AnyBytes};
use super::AppState;
use crate::config::{AdminConfig, Secret};
use crate::error::ApiError;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/repository/index", post(index))
        .route("/v2/repository/models/{m}/load", post(load))
        .route("/v2/repository/models/{m}/unload", post(unload))
}

/// The admin token, if the admin API is on.
#[derive(Clone, Default)]
pub struct AdminToken(Option<Secret>);

impl AdminToken {
    /// The token of `[admin]` (a `token_file` has been read into `token` by then).
    /// An empty token is no token, as `INFERD_ADMIN__TOKEN=` in a container's
    /// environment means: the API stays off.
    pub fn from_config(admin: &AdminConfig) -> AdminToken {
        AdminToken(admin.token.clone().filter(|t| !t.0.trim().is_empty()))
    }

    /// Whether `headers` carry the token; checked before the body is read.
    fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.0 else {
            return Err(ApiError::Forbidden(
                "the admin API is off; set admin.token or admin.token_file to turn it on".into(),
            ));
        };
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credentials)| credentials.trim());
        match given {
            None => Err(ApiError::Unauthorized(
                "admin requests need an `Authorization: Bearer <token>` header".into(),
            )),
            Some(given) if same_secret(given.as_bytes(), token.0.as_bytes()) => Ok(()),
            Some(_) => Err(ApiError::Unauthorized("the admin token is wrong".into())),
        }
    }
}

/// Compares every byte of `given` whatever differs first, so the time taken tells
/// nothing about the secret beyond what the caller sent.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != secret.len() || secret.is_empty());
    for (i, g) in given.iter().enumerate() {
        diff |= g ^ secret.get(i).copied().unwrap_or(!g);
    }
    std::hint::black_box(diff) == 0
}

/// `POST /v2/repository/index` body: `{"ready": true}` lists only what serves.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IndexRequest {
    #[serde(default)]
    ready: bool,
}

/// `.../load` and `.../unload` bodies. Triton's `parameters` (a config override,
/// files, `unload_dependents`) are refused, except `unload_dependents`, which has
/// nothing to act on here.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ModelRequest {
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
}

async fn index(State(s): State<AppState>, req: Request) -> Result<Json<Value>, ApiError> {
    s.admin.check(req.headers())?;
    let body: IndexRequest = read(req, &s).await?;
    let entries: Vec<_> = s
        .inference
        .repository
        .index()
        .into_iter()
        .filter(|e| !body.ready || e.state == "READY")
        .collect();
    Ok(Json(json!(entries)))
}

async fn load(
    State(s): State<AppState>,
    Path(m): Path<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    checked_body(&s, req, &[]).await?;
    s.inference.repository.load_model(&m).await?;
    tracing::info!(model = %m, "model loaded through the admin API");
    Ok(Json(json!({})))
}

async fn unload(
    State(s): State<AppState>,
    Path(m): Path<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    checked_body(&s, req, &["unload_dependents"]).await?;
    s.inference.repository.unload_model(&m).await?;
    tracing::info!(model = %m, "model unloaded through the admin API");
    Ok(Json(json!({})))
}

/// Checks the token, then the body of a load or unload: Triton's `parameters`
/// other than `allowed` are refused.
async fn checked_body(s: &AppState, req: Request, allowed: &[&str]) -> Result<(), ApiError> {
    s.admin.check(req.headers())?;
    let body: ModelRequest = read(req, s).await?;
    match body.parameters.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ApiError::bad_request(format!(
            "parameter {key:?} is not supported: inferd loads models from the model repository's folders as they are"
        ))),
        None => Ok(()),
    }
}

/// The body, where an empty one means the defaults.
async fn read<T: serde::de::DeserializeOwned + Default>(
    req: Request,
    s: &AppState,
) -> Result<T, ApiError> {
    let AnyBytes(body) = AnyBytes::from_request(req, s).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(&body)
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_exact_secret_matches() {
        assert!(same_secret(b"token", b"token"));
        for other in [&b"tokem"[..], b"toke", b"tokenn", b"", b"TOKEN", b"\0oken"] {
            assert!(!same_secret(other, b"token"), "{other:?}");
        }
        assert!(
            !same_secret(b"", b""),
            "an empty secret is never configured, but must not match"
        );
    }
}
