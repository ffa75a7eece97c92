//! The OpenAPI document (`src/http/openapi.json`, served at `/openapi.json`) against
//! the router: every route template in the HTTP source is documented, every
//! documented path allows exactly its documented methods, and real answers (the
//! bundled models, loaded from `models/` with the forecaster's baseline) match their
//! documented schemas. `scripts/schemathesis.sh` checks the same document with
//! generated requests against a live server.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::schema::{resolve, violations};
use common::*;
use inferd::config::Config;
use inferd::metrics::Metrics;
use inferd::repository::Repository;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// The document, as the server serves it.
async fn document(app: &TestApp) -> Value {
    let a = send(app, get("/openapi.json")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), "application/json");
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.0.3");
    doc
}

fn documented_paths(doc: &Value) -> BTreeSet<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

/// Every string literal that starts with `/` in the non-test code of `src/http.rs`
/// and `src/http/`: the templates given to `.route(...)` and the route labels the TF
/// Serving handler reports for the paths its one wildcard route parses.
fn route_literals() -> BTreeSet<String> {
    let mut files = vec![repo_path("src/http.rs")];
    collect_rs(&repo_path("src/http"), &mut files);
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Test modules sit at the end of a file, after their `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for literal in code.split('"').skip(1).step_by(2) {
            if literal.starts_with('/') && !literal.contains(char::is_whitespace) {
                found.insert(literal.to_string());
            }
        }
    }
    found
}

fn collect_rs(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            files.push(path);
        }
    }
}

#[tokio::test]
async fn every_route_in_the_source_is_documented() {
    let doc = document(&bundled()).await;
    let documented = documented_paths(&doc);
    let literals = route_literals();
    assert!(
        literals.contains("/v2/models/{m}/infer") && literals.len() >= 25,
        "the scan of src/http found too few routes: {literals:?}"
    );
    let mut missing = Vec::new();
    for template in &literals {
        if template.contains("{*") {
            // A wildcard is documented through the templates its handler reports as
            // route labels, which the scan also finds; only TF Serving has one.
            assert_eq!(
                template, "/v1/models/{*rest}",
                "a new wildcard route: document each path it serves"
            );
        } else if !documented.contains(template) {
            missing.push(template.as_str());
        }
    }
    assert!(
        missing.is_empty(),
        "routes served but missing from src/http/openapi.json: {missing:?}"
    );
}

/// A path of the document with its parameters filled in for the bundled forecaster
/// (whose `model.toml` labels version 1 `stable`).
fn concrete(template: &str) -> String {
    template
        .replace("{m}", "stock-forecaster")
        .replace("{v}", "1")
        .replace("{l}", "stable")
}

#[tokio::test]
async fn each_documented_path_allows_exactly_its_documented_methods() {
    let app = loaded().await;
    let doc = document(&app).await;
    for (template, operations) in doc["paths"].as_object().unwrap() {
        let path = concrete(template);
        for method in ["get", "post", "put", "delete", "patch"] {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&path)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"instances":[[0]]}"#))
                .unwrap();
            let a = send(&app, req).await;
            let status = a.status.as_u16();
            if operations.get(method).is_some() {
                assert!(
                    status != 404 && status != 405 && status != 500,
                    "{method} {path} is documented but got {status} {:?}",
                    a.body
                );
                let documented = &operations[method]["responses"];
                assert!(
                    documented.get(status.to_string()).is_some(),
                    "{method} {path}: status {status} is not documented"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented");
            }
        }
    }
}

/// The bundled models loaded as the server loads them, so the forecaster has its
/// baseline and `/monitoring` answers 200.
async fn loaded() -> TestApp {
    let config = Config {
        model_repository: repo_path("models"),
        default_model: "stock-forecaster".into(),
        ..Config::default()
    };
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let repository = Repository::load(&config, &metrics).await.unwrap();
    let state = inferd::app_state(&config, Arc::new(repository), metrics.clone());
    TestApp {
        router: inferd::http::router(state.clone()),
        state,
        metrics,
    }
}

/// Asserts that `a`, the answer to `method` on `template`, has a documented status,
/// a documented content type and a body that fits the documented schema.
fn assert_documented(doc: &Value, template: &str, method: &str, a: &Answer) {
    let what = format!("{method} {template} -> {}", a.status.as_u16());
    let operation = &doc["paths"][template][method];
    let response = operation["responses"]
        .get(a.status.as_str())
        .unwrap_or_else(|| panic!("{what}: status not documented"));
    let content_type = a.header("content-type");
    let media = content_type.split(';').next().unwrap().trim();
    let schema = &resolve(doc, response)["content"][media]["schema"];
    assert!(
        !schema.is_null(),
        "{what}: content type {content_type} not documented"
    );
    let body = if media == "application/json" {
        a.json()
    } else {
        Value::String(String::from_utf8(a.body.to_vec()).unwrap())
    };
    let wrong = violations(doc, schema, &body, "body");
    assert!(wrong.is_empty(), "{what}: {wrong:#?}\n{body}");
}

#[tokio::test]
async fn every_get_answer_matches_its_documented_schema() {
    let app = loaded().await;
    let doc = document(&app).await;
    let mut checked = 0;
    for (template, operations) in doc["paths"].as_object().unwrap() {
        if operations.get("get").is_none() {
            continue;
        }
        let a = send(&app, get(&concrete(template))).await;
        assert_eq!(a.status, 200, "GET {template}: {:?}", a.body);
        assert_documented(&doc, template, "get", &a);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} GET operations checked");
    // The documented errors of the newer routes: a model without a baseline, an
    // unknown model, a version that is not a number.
    for (template, path, status) in [
        (
            "/v2/models/{m}/monitoring",
            "/v2/models/dense-net/monitoring",
            404,
        ),
        ("/v2/models/{m}/config", "/v2/models/nope/config", 404),
        (
            "/v2/models/{m}/versions/{v}/config",
            "/v2/models/dense-net/versions/x/config",
            400,
        ),
        (
            "/v1/models/{m}/versions/{v}/metadata",
            "/v1/models/stock-forecaster/versions/x/metadata",
            400,
        ),
        ("/v1/models/{m}/metadata", "/v1/models/nope/metadata", 404),
    ] {
        let a = send(&app, get(path)).await;
        assert_eq!(a.status.as_u16(), status, "GET {path}: {:?}", a.body);
        assert_documented(&doc, template, "get", &a);
    }
}

#[tokio::test]
async fn prediction_answers_match_their_documented_schemas() {
    let app = loaded().await;
    let doc = document(&app).await;
    let row: Vec<f32> = (0..16).map(|i| i as f32 / 10.0).collect();
    let tf = json!({ "instances": [row, row] });
    let columns = json!({ "inputs": [row] });
    let v2 = json!({"id": "a", "inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": row}]});
    for (template, path, body) in [
        ("/predict", "/predict", &tf),
        ("/predict", "/predict", &columns),
        (
            "/v1/models/{m}:predict",
            "/v1/models/stock-forecaster:predict",
            &tf,
        ),
        (
            "/v1/models/{m}/versions/{v}:predict",
            "/v1/models/stock-forecaster/versions/1:predict",
            &columns,
        ),
        (
            "/v2/models/{m}/infer",
            "/v2/models/stock-forecaster/infer",
            &v2,
        ),
        (
            "/v2/models/{m}/versions/{v}/infer",
            "/v2/models/stock-forecaster/versions/1/infer",
            &v2,
        ),
        // Errors: a wrong width, and an unknown model.
        ("/predict", "/predict", &json!({"instances": [[1.0]]})),
        ("/v2/models/{m}/infer", "/v2/models/nope/infer", &v2),
    ] {
        let a = post(&app, path, body).await;
        assert!(
            [200, 400, 404].contains(&a.status.as_u16()),
            "POST {path}: {} {:?}",
            a.status,
            a.body
        );
        assert_documented(&doc, template, "post", &a);
    }
}
