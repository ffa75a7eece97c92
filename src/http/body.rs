//! Request bodies: content-type check, size limit and JSON parsing, with every failure
//! turned into the service's own error body instead of axum's plain-text rejections.

use super::AppState;
use crate::error::ApiError;
use crate::request::CachePolicy;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use bytes::BytesMut;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

/// A body that must be JSON (or carry no content type at all, as curl's `-d` does not).
pub(crate) struct JsonBytes(pub Bytes);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<JsonBytes, ApiError> {
        check_json_content_type(req.headers())?;
        read_body(req, state).await.map(JsonBytes)
    }
}

/// Any body, size-limited, for routes that accept binary payloads.
pub(crate) struct AnyBytes(pub Bytes);

impl FromRequest<AppState> for AnyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<AnyBytes, ApiError> {
        read_body(req, state).await.map(AnyBytes)
    }
}

/// Reads the whole body, refusing more than `max_body_bytes`: here rather than by a
/// `DefaultBodyLimit` layer, which costs an extension and a layer on every request.
async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let limit = state.max_body_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the request body is larger than max_body_bytes ({limit} bytes)"
        ))
    };
    // A declared length over the limit is refused before reading anything.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let failed = |e: axum::BoxError| {
        if e.is::<LengthLimitError>() {
            too_large()
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    };
    // A small body arrives as one chunk, handed on as it is; only a body in several
    // chunks is copied into one buffer (sized from the declared length when given).
    let mut body = Limited::new(req.into_body(), limit);
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(failed)?.into_data() else {
            continue; // trailers
        };
        match &mut joined {
            Some(buffer) => buffer.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let size = declared
                    .map_or(0, |n| n as usize)
                    .max(first.len() + chunk.len());
                let mut buffer = BytesMut::with_capacity(size);
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&chunk);
                joined = Some(buffer);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// 415 unless the content type is absent or JSON.
pub(crate) fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let mime = text.split(';').next().unwrap_or("").trim();
    let suffix = mime.len().checked_sub(5).and_then(|i| mime.get(i..));
    if mime.eq_ignore_ascii_case("application/json")
        || suffix.is_some_and(|s| s.eq_ignore_ascii_case("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "expected Content-Type: application/json, got {text:?}"
        )))
    }
}

/// Parses JSON, naming what was wrong and where.
///
/// The happy path parses once without path tracking (it costs ~5% of a small
/// request); only a failed body is parsed again to say where the problem is.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|plain| locate::<T>(bytes, plain))
}

/// The error of a body that failed to parse, with the path of the bad field.
fn locate<T: DeserializeOwned>(bytes: &[u8], plain: serde_json::Error) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let located = serde_path_to_error::deserialize::<_, T>(&mut de)
        .err()
        .map(|e| (e.path().to_string(), e.into_inner()));
    match located {
        Some((path, inner)) if path != "." && !path.is_empty() => {
            ApiError::bad_request(format!("invalid JSON body at `{path}`: {inner}"))
        }
        Some((_, inner)) => ApiError::bad_request(format!("invalid JSON body: {inner}")),
        None => ApiError::bad_request(format!("invalid JSON body: {plain}")),
    }
}

/// A version number from a path or body, or a 400 saying what was expected.
pub(crate) fn version_number(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("version must be a whole number, got {text:?}")))
}

/// The request's cache policy, read from its headers without copying them.
pub(crate) struct Policy(pub CachePolicy);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Policy {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Policy, Self::Rejection> {
        Ok(Policy(cache_policy(&parts.headers)))
    }
}

/// Reads `Cache-Control: no-cache` / `no-store` (SPEC §4).
pub(crate) fn cache_policy(headers: &HeaderMap) -> CachePolicy {
    let mut policy = CachePolicy::Use;
    for value in headers.get_all(header::CACHE_CONTROL) {
        for directive in value.to_str().unwrap_or("").split(',') {
            match directive.trim().to_ascii_lowercase().as_str() {
                "no-store" => return CachePolicy::Bypass,
                "no-cache" => policy = CachePolicy::Refresh,
                _ => {}
            }
        }
    }
    policy
}
