//! The service in process, with a fake model: every fuzz input goes through the real
//! router (body limits, decoding, binding, batching) and must get a well-formed
//! answer that is not a 500.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use inferd::config::model::ModelToml;
use inferd::config::Config;
use inferd::metrics::Metrics;
use inferd::repository::Repository;
use inferd::testing::{Behaviour, FakeModel};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut config = Config::default();
        config.default_model = "fake".into();
        config.max_body_bytes = 1 << 20;
        config.http.decode_budget = 1 << 20;
        config.workers = 1;
        let router = runtime.block_on(async {
            let metrics = Metrics::new(prometheus::Registry::new()).expect("metrics");
            let mut repo = Repository::default();
            let settings = ModelToml::default().resolve(&config).expect("settings");
            let model = Arc::new(FakeModel::new(Behaviour::Answer));
            repo.insert("fake", 1, model, settings, &metrics);
            inferd::http::router(inferd::app_state(&config, Arc::new(repo), metrics))
        });
        App { runtime, router }
    })
}

/// Sends one request; panics (a fuzz finding) on a 500 or a malformed error body.
pub fn check(uri: &str, headers: &[(&str, String)], body: Vec<u8>) {
    let app = app();
    let mut request = Request::post(uri).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Body::from(body)).expect("a request");
    app.runtime.block_on(async {
        let response = app.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        assert_ne!(status.as_u16(), 500, "500: {}", String::from_utf8_lossy(&bytes));
        if status.is_client_error() || status.is_server_error() {
            let error: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON error");
            assert!(error["error"].is_string(), "error body {error}");
        }
    });
}
