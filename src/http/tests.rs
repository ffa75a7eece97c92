//! The layers every route passes ([`with_layers`]), on routes made for the purpose: a
//! panicking handler, one that never answers, and one that reports timing headers.

use super::*;
use crate::config::Config;
use crate::repository::Repository;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

fn state() -> AppState {
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    crate::app_state(&Config::default(), Arc::new(Repository::default()), metrics)
}

fn requests(state: &AppState, route: &str, method: &str, status: &str) -> u64 {
    state
        .metrics
        .http_requests
        .with_label_values(&[route, method, status])
        .get()
}

#[tokio::test]
async fn a_panicking_handler_is_answered_counted_and_given_a_request_id() {
    let state = state();
    let routes = Router::new().route("/boom", get(|| async { panic!("boom") as &'static str }));
    let app = with_layers(routes, state.clone());
    let response = app
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = response.headers()[REQUEST_ID].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(body["error"].as_str().unwrap().contains("internal error"));
    assert_eq!(requests(&state, "/boom", "GET", "500"), 1);
    assert_eq!(state.metrics.inflight.get(), 0);
}

#[tokio::test]
async fn a_request_dropped_mid_flight_leaves_the_inflight_gauge() {
    let state = state();
    let routes = Router::new().route("/hang", get(std::future::pending::<&'static str>));
    let app = with_layers(routes, state.clone());
    let mut call = Box::pin(app.oneshot(Request::get("/hang").body(Body::empty()).unwrap()));
    assert!(futures::poll!(call.as_mut()).is_pending());
    assert_eq!(state.metrics.inflight.get(), 1);
    drop(call);
    assert_eq!(state.metrics.inflight.get(), 0);
    assert_eq!(requests(&state, "/hang", "GET", "200"), 0, "never answered");
}

#[tokio::test]
async fn every_answer_is_counted_under_its_own_route_method_and_status() {
    use axum::extract::Query;
    // One endpoint answering 200 or 404 by query, labelled as one of two routes the
    // way TF Serving's wildcard route labels itself.
    async fn answer(Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
        let status = match q.get("status").map(String::as_str) {
            Some("404") => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        };
        let label = match q.get("label").map(String::as_str) {
            Some("b") => "/b",
            _ => "/a",
        };
        let mut response = axum::response::IntoResponse::into_response(status);
        response.extensions_mut().insert(observe::RouteLabel(label));
        response
    }
    let state = state();
    let routes = Router::new().route("/x", get(answer).post(answer));
    let app = with_layers(routes, state.clone());
    let calls = [
        ("GET", "/x", 3),
        ("GET", "/x?status=404", 2),
        ("GET", "/x?label=b", 4),
        ("POST", "/x", 1),
        ("GET", "/x?label=b&status=404", 1),
        ("GET", "/x", 2),
    ];
    for (method, uri, times) in calls {
        for _ in 0..times {
            let req = Request::builder().method(method).uri(uri);
            let response = app.clone().oneshot(req.body(Body::empty()).unwrap()).await;
            assert!(response.is_ok());
        }
    }
    assert_eq!(requests(&state, "/a", "GET", "200"), 5);
    assert_eq!(requests(&state, "/a", "GET", "404"), 2);
    assert_eq!(requests(&state, "/b", "GET", "200"), 4);
    assert_eq!(requests(&state, "/a", "POST", "200"), 1);
    assert_eq!(requests(&state, "/b", "GET", "404"), 1);
    let latencies = |route: &str| {
        state
            .metrics
            .http_duration
            .with_label_values(&[route])
            .get_sample_count()
    };
    assert_eq!(latencies("/a"), 8);
    assert_eq!(latencies("/b"), 5);
}

#[test]
fn the_log_line_carries_the_request_id_route_status_and_timing() {
    let captured = crate::testing::LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(captured.clone())
        .map_event_format(crate::logs::request::WithRequestId)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let timed = || async {
                tokio::task::yield_now().await;
                tracing::info!("inside the handler");
                let answer = crate::request::InferResponse {
                    model: "m".into(),
                    version: 3,
                    outputs: Vec::new(),
                    cache: crate::request::CacheStatus::Miss,
                    timing: crate::batcher::Timing {
                        queue: std::time::Duration::from_micros(1234),
                        inference: std::time::Duration::from_micros(567),
                    },
                };
                prediction_response(&answer, "text/plain", b"ok".to_vec())
            };
            let app = with_layers(Router::new().route("/t", get(timed)), state());
            let req = Request::get("/t?x=1")
                .header(REQUEST_ID, "abc-123")
                .body(Body::empty())
                .unwrap();
            let response = app.oneshot(req).await.unwrap();
            assert_eq!(response.headers()[REQUEST_ID], "abc-123");
        });
    });
    let text = captured.text();
    let inside = text
        .lines()
        .find(|l| l.contains("inside the handler"))
        .unwrap_or_else(|| panic!("no handler line in {text:?}"));
    assert!(inside.contains("request{id=abc-123}"), "{inside:?}");
    let line = text
        .lines()
        .find(|l| l.contains("route=/t"))
        .unwrap_or_else(|| panic!("no request line in {text:?}"));
    for part in [
        "request{id=abc-123}",
        "method=GET",
        "path=/t",
        "status=200",
        "queue_micros=1234",
        "inference_micros=567",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
}

/// The request lines a router writes for one 200 and one 404, with `log.requests` set.
fn request_lines(requests: crate::config::RequestLog) -> String {
    let captured = crate::testing::LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let mut config = Config::default();
    config.log.requests = requests;
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let state = crate::app_state(&config, Arc::new(Repository::default()), metrics);
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let app = with_layers(Router::new().route("/ok", get(|| async { "ok" })), state);
            for path in ["/ok", "/missing"] {
                let req = Request::get(path).body(Body::empty()).unwrap();
                app.clone().oneshot(req).await.unwrap();
            }
        });
    });
    let text = captured.text();
    text.lines()
        .filter(|l| l.contains(" request "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn log_requests_chooses_which_answers_get_a_line() {
    use crate::config::RequestLog;
    let all = request_lines(RequestLog::All);
    assert!(
        all.contains("status=200") && all.contains("status=404"),
        "{all}"
    );
    let errors = request_lines(RequestLog::Errors);
    assert!(!errors.contains("status=200"), "{errors}");
    assert!(errors.contains("status=404"), "{errors}");
    let off = request_lines(RequestLog::Off);
    assert!(off.is_empty(), "{off}");
}
