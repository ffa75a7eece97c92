//! Shared test support: build an app around chosen models, call it in-process, and
//! compare answers with the committed onnxruntime references.
#![allow(dead_code, unreachable_pub, missing_docs)]

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use inferd::config::model::ModelToml;
use inferd::config::Config;
use inferd::http::{router, AppState};
use inferd::metrics::Metrics;
use inferd::model::onnx::OnnxModel;
use inferd::model::Model;
use inferd::repository::Repository;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

pub mod drift;
pub mod parquet;
pub mod schema;
pub mod scratch;

/// Relative tolerance against onnxruntime, with an absolute floor for values near 0:
/// tract and onnxruntime sum tree leaves and dot products in different orders, so
/// float32 results agree to a few ulps, not bit for bit.
pub const REL_TOL: f64 = 1e-5;
pub const ABS_TOL: f64 = 1e-6;

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn load(rel: &str) -> Arc<OnnxModel> {
    Arc::new(OnnxModel::load(&repo_path(rel)).expect("bundled model loads"))
}

/// The bundled forecaster, loaded once per test binary (the model is runtime-free;
/// each test gets its own batcher).
pub fn stock() -> Arc<dyn Model> {
    static MODEL: OnceLock<Arc<OnnxModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| load("models/stock-forecaster/1/model.onnx"))
        .clone()
}

/// The bundled heavy dense network.
pub fn dense() -> Arc<dyn Model> {
    static MODEL: OnceLock<Arc<OnnxModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| load("models/dense-net/1/model.onnx"))
        .clone()
}

#[derive(Deserialize)]
pub struct Reference {
    pub input_name: String,
    pub output_name: String,
    pub inputs: Vec<Vec<f32>>,
    pub outputs: Vec<Vec<f32>>,
}

pub fn reference(model: &str) -> Reference {
    let text = std::fs::read_to_string(repo_path(&format!("models/{model}/1/reference.json")))
        .expect("reference file");
    serde_json::from_str(&text).expect("reference JSON")
}

/// Absolute floor for dense-net, whose logits are O(1): its 2048-long float32 dot
/// products are summed in another order than onnxruntime's, which moves a logit near
/// zero by ~1e-6 (seen: 1.5e-6 on a logit of 0.14).
pub const DENSE_ABS_TOL: f64 = 1e-5;

pub fn assert_close(got: f64, want: f64, what: &str) {
    assert_close_within(got, want, ABS_TOL, what)
}

pub fn assert_close_within(got: f64, want: f64, abs_floor: f64, what: &str) {
    let err = (got - want).abs();
    assert!(
        err <= abs_floor.max(REL_TOL * want.abs()),
        "{what}: got {got}, onnxruntime says {want} (error {err:e})"
    );
}

/// Checks a nested JSON array of rows against reference rows.
pub fn assert_rows(got: &Value, want: &[Vec<f32>], what: &str) {
    assert_rows_within(got, want, ABS_TOL, what)
}

/// As `assert_rows`, with another absolute floor.
pub fn assert_rows_within(got: &Value, want: &[Vec<f32>], abs_floor: f64, what: &str) {
    let rows = got
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not an array: {got}"));
    assert_eq!(rows.len(), want.len(), "{what}: row count");
    for (i, (row, expected)) in rows.iter().zip(want).enumerate() {
        let values = row
            .as_array()
            .unwrap_or_else(|| panic!("{what}: row {i} not an array"));
        assert_eq!(values.len(), expected.len(), "{what}: row {i} width");
        for (j, (v, e)) in values.iter().zip(expected).enumerate() {
            let what = format!("{what}[{i}][{j}]");
            assert_close_within(v.as_f64().unwrap(), f64::from(*e), abs_floor, &what);
        }
    }
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub metrics: Metrics,
}

/// An app serving `models` with the default configuration changed by `tweak`.
pub fn app_with(
    models: Vec<(&str, u64, Arc<dyn Model>)>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config::default();
    tweak(&mut config);
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let mut repo = Repository::default();
    for (name, version, model) in models {
        let settings = ModelToml::default().resolve(&config).unwrap();
        repo.insert(name, version, model, settings, &metrics);
    }
    let state = inferd::app_state(&config, Arc::new(repo), metrics.clone());
    TestApp {
        router: router(state.clone()),
        state,
        metrics,
    }
}

/// A gated fake model served alone as `slow`, the default model, on one worker,
/// then `tweak`: each of its runs waits until the returned gate is sent one `()`.
pub fn slow_app(
    tweak: impl FnOnce(&mut Config),
) -> (
    TestApp,
    Arc<inferd::testing::FakeModel>,
    std::sync::mpsc::Sender<()>,
) {
    let (model, gate) = inferd::testing::FakeModel::new(inferd::testing::Behaviour::Answer).gated();
    let model = Arc::new(model);
    let app = app_with(vec![("slow", 1, model.clone())], |c| {
        c.default_model = "slow".into();
        c.workers = 1;
        tweak(c);
    });
    (app, model, gate)
}

/// The bundled models with the default configuration.
pub fn bundled() -> TestApp {
    app_with(
        vec![("stock-forecaster", 1, stock()), ("dense-net", 1, dense())],
        |_| {},
    )
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    /// Asserts an error answer: the status, and `{"error": ...}` mentioning `needle`.
    pub fn assert_error(&self, status: u16, needle: &str) {
        let body = self.json();
        assert_eq!(self.status.as_u16(), status, "status for {body}");
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field: {body}"));
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "error {message:?} should mention {needle:?}"
        );
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "only the error field: {body}"
        );
    }
}

pub async fn send(app: &TestApp, request: Request<Body>) -> Answer {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

pub fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub async fn post(app: &TestApp, uri: &str, body: &Value) -> Answer {
    send(app, post_json(uri, body)).await
}

/// Starts the built binary from the repository root on a free loopback port with JSON
/// logs, `flags` and `env` added; its stdout lines arrive on the returned channel.
pub fn spawn_inferd(
    flags: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_inferd"))
        .current_dir(repo_path(""))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(flags)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start inferd");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}
