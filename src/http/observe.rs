//! What every request gets on its way in and out: a request id (echoed or made),
//! carried beside the request's future so anything logged while serving the request
//! can be found by that id (`crate::logs::request`, cheaper than a span), a panic
//! guard that turns a handler's panic into a logged 500, one log line, and the HTTP
//! metrics. The guard sits inside the bookkeeping so a panic is counted
//! and logged like any other 500.
//!
//! A hand-written layer rather than `axum::middleware::from_fn`: that one clones the
//! route and the state and boxes a future per request, which cost 0.7 µs of a 5 µs
//! cache hit (`cargo bench --bench hot_path -- router`).

use super::{names, REQUEST_ID};
use crate::config::RequestLog;
use crate::error::ApiError;
use crate::logs::access::{self, AccessLine};
use crate::logs::request as request_log;
use crate::metrics::{Metrics, UNKNOWN_MODEL};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use prometheus::{Histogram, IntCounter};
use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

/// The route template a handler reports when the router's own match is a wildcard
/// (TF Serving's `:predict` suffix), so the `route` label stays bounded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RouteLabel(pub &'static str);

/// Wraps every route (and the fallbacks) in [`Observe`].
#[derive(Clone)]
pub(super) struct ObserveLayer(pub(super) Metrics, pub(super) RequestLog);

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            endpoint: Arc::new(Endpoint {
                metrics: self.0.clone(),
                usual: OnceLock::new(),
                requests: self.1,
            }),
        }
    }
}

/// See the module documentation. One per route and method.
#[derive(Clone)]
pub(super) struct Observe<S> {
    inner: S,
    endpoint: Arc<Endpoint>,
}

/// What one route and method records into, shared by its requests.
struct Endpoint {
    metrics: Metrics,
    usual: OnceLock<Series>,
    requests: RequestLog,
}

/// The series an endpoint's successful answers land in, found once: finding a series
/// by its label values hashes them, twice per request (`router/hit` in
/// `benches/hot_path.rs`). Other answers look their series up each time.
struct Series {
    route: Box<str>,
    method: Method,
    status: StatusCode,
    requests: IntCounter,
    duration: Histogram,
}

impl Series {
    fn matches(&self, route: &str, method: &Method, status: StatusCode) -> bool {
        self.status == status && self.method == method && *self.route == *route
    }
}

/// Counts one answer and its latency.
fn record(seen: &Seen, route: &str, status: StatusCode, seconds: f64) {
    let endpoint = &seen.endpoint;
    if let Some(series) = endpoint
        .usual
        .get()
        .filter(|s| s.matches(route, &seen.method, status))
    {
        series.requests.inc();
        series.duration.observe(seconds);
        return;
    }
    let m = &endpoint.metrics;
    let requests =
        m.http_requests
            .with_label_values(&[route, method_label(&seen.method), status.as_str()]);
    let duration = m.http_duration.with_label_values(&[route]);
    requests.inc();
    duration.observe(seconds);
    if status.is_success() {
        // Another request may have filled it first; either series is right.
        let _ = endpoint.usual.set(Series {
            route: route.into(),
            method: seen.method.clone(),
            status,
            requests,
            duration,
        });
    }
}

impl<S, E> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = E>,
{
    type Response = Response;
    type Error = E;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let id = match req.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => new_request_id(),
        };
        // The path is only for the log line: not copied when nothing would log it.
        let logged = self.endpoint.requests != RequestLog::Off && access::enabled();
        let uri = logged.then(|| req.uri().clone());
        let method = req.method().clone();
        let matched = req.extensions().get::<MatchedPath>().cloned();
        self.endpoint.metrics.inflight.inc();
        Observed {
            inner: request_log::scope(id.clone(), self.inner.call(req)),
            seen: Seen {
                started,
                id,
                method,
                matched,
                uri,
                endpoint: self.endpoint.clone(),
            },
        }
    }
}

pin_project! {
    /// The route's future, then the bookkeeping once it answers.
    pub(super) struct Observed<F> {
        #[pin]
        inner: TaskLocalFuture<HeaderValue, F>,
        seen: Seen,
    }
}

/// What was known about the request when it came in. Dropping it (the answer
/// recorded, or the client gone mid-request) takes the request out of the in-flight
/// gauge.
struct Seen {
    started: Instant,
    id: HeaderValue,
    method: Method,
    matched: Option<MatchedPath>,
    uri: Option<Uri>,
    endpoint: Arc<Endpoint>,
}

impl Drop for Seen {
    fn drop(&mut self) {
        self.endpoint.metrics.inflight.dec();
    }
}

impl<F, E> Future for Observed<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let polled = panic::catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
        let mut response = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result?,
            // Never polled again: this poll returns `Ready`.
            Err(payload) => {
                request_log::sync_scope(this.seen.id.clone(), || panicked(payload.as_ref()))
            }
        };
        let seen = &*this.seen;
        let route = match (response.extensions().get::<RouteLabel>(), &seen.matched) {
            (Some(label), _) => label.0,
            (None, Some(m)) => m.as_str(),
            (None, None) => "unmatched",
        };
        let status = response.status();
        let elapsed = seen.started.elapsed();
        record(seen, route, status, elapsed.as_secs_f64());
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            seen.endpoint
                .metrics
                .rejected
                .with_label_values(&[UNKNOWN_MODEL, "too_large"])
                .inc();
        }
        let wanted = match seen.endpoint.requests {
            RequestLog::All => true,
            RequestLog::Errors => status.is_client_error() || status.is_server_error(),
            RequestLog::Off => false,
        };
        if let (Some(uri), true) = (&seen.uri, wanted) {
            // Where the time went, so a slow request's line says whether it queued or
            // computed (the handlers' timing headers; absent on errors).
            let micros = |name: &HeaderName| header_u64(response.headers(), name);
            let line = AccessLine {
                method: seen.method.as_str(),
                route,
                path: uri.path(),
                status: status.as_u16(),
                micros: elapsed.as_micros() as u64,
                queue_micros: micros(&names::QUEUE_TIME),
                inference_micros: micros(&names::INFERENCE_TIME),
            };
            access::log(&line, &seen.id);
        }
        response.headers_mut().insert(REQUEST_ID, seen.id.clone());
        Poll::Ready(Ok(response))
    }
}

/// The `method` label: the standard methods by name, anything else as `other`, so
/// made-up methods cannot create new series.
pub(super) fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PATCH, "PATCH"),
        (Method::TRACE, "TRACE"),
        (Method::CONNECT, "CONNECT"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, name)| *name)
}

/// The 500 a panicking handler answers; the panic message goes to the log only.
fn panicked(payload: &(dyn Any + Send)) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    ApiError::Internal(format!("handler panicked: {message}")).into_response()
}

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> u64 {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A fresh UUID v4, written without an intermediate `String`.
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).expect("a UUID is a valid header value")
}
