//! Request bodies: content-type check, size limit, read timeout, the budget of bytes
//! being read and decoded at once, and JSON parsing under the decode limits, with
//! every failure turned into the service's own error body instead of axum's
//! plain-text rejections.

use super::AppState;
use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::json::Limits;
use crate::request::CachePolicy;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use bytes::BytesMut;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What bounds the work and memory of reading and decoding bodies.
#[derive(Clone)]
pub struct Intake {
    /// Kibibytes of bodies that may be held (read, decoded, or waiting as raw
    /// tensors) at once (`http.decode_budget`); past it, 503.
    pub budget: Arc<Semaphore>,
    /// Longest a body may take to arrive (`http.body_read_timeout`); past it, 408.
    pub body_read_timeout: Duration,
    /// Longest a connection may take to send a request's headers
    /// (`http.header_read_timeout`); past it, the connection is closed.
    pub header_read_timeout: Duration,
}

impl Intake {
    /// The bounds of `[http]`.
    pub fn new(http: &HttpConfig) -> Intake {
        let kib = usize::try_from(http.decode_budget.div_ceil(1024)).unwrap_or(usize::MAX);
        Intake {
            budget: Arc::new(Semaphore::new(kib.min(Semaphore::MAX_PERMITS))),
            body_read_timeout: http.body_read_timeout,
            header_read_timeout: http.header_read_timeout,
        }
    }

    /// Takes `bytes` more from the budget, or a 503 when it is spent.
    fn reserve(&self, bytes: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        self.budget.clone().try_acquire_many_owned(kib).map_err(|_| {
            ApiError::Unavailable {
                message: "too many request bodies are being read at once (http.decode_budget); retry shortly".into(),
                retry_after_secs: 1,
            }
        })
    }
}

/// A body's bytes with its share of the decode budget, given back when the last
/// piece of it (a raw tensor may outlive the request's parsing) is dropped.
struct Held {
    bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// A request body, read whole, with the decode limits of the state that read it.
pub(crate) struct Received {
    bytes: Bytes,
    limits: Limits,
}

impl Received {
    pub(crate) fn new(bytes: Bytes, limits: Limits) -> Received {
        Received { bytes, limits }
    }
}

impl std::ops::Deref for Received {
    type Target = Bytes;

    fn deref(&self) -> &Bytes {
        &self.bytes
    }
}

impl std::ops::DerefMut for Received {
    fn deref_mut(&mut self) -> &mut Bytes {
        &mut self.bytes
    }
}

/// A body that must be JSON (or carry no content type at all, as curl's `-d` does not).
pub(crate) struct JsonBytes(pub Received);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<JsonBytes, ApiError> {
        check_json_content_type(req.headers())?;
        read_body(req, state).await.map(JsonBytes)
    }
}

/// Any body, size-limited, for routes that accept binary payloads.
pub(crate) struct AnyBytes(pub Received);

impl FromRequest<AppState> for AnyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<AnyBytes, ApiError> {
        read_body(req, state).await.map(AnyBytes)
    }
}

/// Reads the whole body within the read timeout and the decode budget.
async fn read_body(req: Request, state: &AppState) -> Result<Received, ApiError> {
    let intake = &state.intake;
    let timeout = intake.body_read_timeout;
    let read = tokio::time::timeout(timeout, read_within_budget(req, state)).await;
    let bytes = read.map_err(|_| {
        ApiError::RequestTimeout(format!(
            "the request body did not arrive within http.body_read_timeout ({timeout:?})"
        ))
    })??;
    Ok(Received {
        bytes,
        // Rows, numbers and names one body may hold, for the models served now.
        limits: state.inference.repository.limits(),
    })
}

/// Reads the whole body, refusing more than `max_body_bytes`: here rather than by a
/// `DefaultBodyLimit` layer, which costs an extension and a layer on every request.
/// The declared length is taken from the budget before reading, an undeclared one
/// chunk by chunk, so a body over the budget is refused as soon as it is known.
async fn read_within_budget(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
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
    let intake = &state.intake;
    let mut permit = intake.reserve(declared.map_or(0, |n| n as usize))?;
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
        if declared.is_none() {
            permit.merge(intake.reserve(chunk.len())?);
        }
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
    let bytes = joined.map_or(first, BytesMut::freeze);
    Ok(Bytes::from_owner(Held {
        bytes,
        _permit: permit,
    }))
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
/// request); only a failed body is parsed again to say where the problem is. Both
/// parses run under the body's decode limits, so the second stops where the first did.
pub(crate) fn parse<T: DeserializeOwned>(body: &Received) -> Result<T, ApiError> {
    parse_or(body, |_| None)
}

/// As [`parse`], trying `fast` first: a reader of the body's common form that gives
/// what serde would, or `None` to leave the body to serde (`crate::json::fast`).
pub(crate) fn parse_or<T: DeserializeOwned>(
    body: &Received,
    fast: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<T, ApiError> {
    let bytes: &[u8] = &body.bytes;
    let limits = body.limits;
    if let Some(parsed) = limits.apply(|| fast(bytes)) {
        return Ok(parsed);
    }
    limits
        .apply(|| serde_json::from_slice(bytes))
        .map_err(|plain| limits.apply(|| locate::<T>(bytes, plain)))
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

/// Reads `Cache-Control: no-cache` / `no-store` (README "Result cache").
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
