//! One test per row of the README's error table: the status, and an `{"error": ...}` body naming the problem.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use inferd::config::BatchSize;
use inferd::testing::{Behaviour, FakeModel};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn row() -> Vec<f32> {
    reference("stock-forecaster").inputs[0].clone()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = bundled();
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .body(Body::from("{\"instances\": [[1, 2,"))
        .unwrap();
    send(&app, req).await.assert_error(400, "invalid JSON");
    let req = Request::post("/v2/models/stock-forecaster/infer")
        .header("content-type", "application/json")
        .body(Body::from("not json"))
        .unwrap();
    send(&app, req).await.assert_error(400, "invalid JSON");
}

#[tokio::test]
async fn wrong_field_type_is_400() {
    let app = bundled();
    for uri in [
        "/v2/models/stock-forecaster/versions/two",
        "/v1/models/stock-forecaster/versions/two",
    ] {
        send(&app, get(uri))
            .await
            .assert_error(400, "version must be a whole number");
    }
    post(
        &app,
        "/predict",
        &json!({ "version": "two", "instances": [row()] }),
    )
    .await
    .assert_error(400, "version must be a whole number, got \"two\"");
    post(&app, "/predict", &json!({ "instances": "lots" }))
        .await
        .assert_error(400, "instances");
    post(&app, "/predict", &json!({ "instances": [vec!["a"; 16]] }))
        .await
        .assert_error(400, "element 0 (\"a\") is a string, expected FP32");
    // An unknown field is skipped, so a body with only that names what is missing.
    post(&app, "/predict", &json!({ "rows": [] }))
        .await
        .assert_error(400, "needs `instances` (row format) or `inputs`");
    let v2 = json!({ "inputs": [{ "name": "input", "shape": "1x16", "datatype": "FP32", "data": row() }] });
    post(&app, "/v2/models/stock-forecaster/infer", &v2)
        .await
        .assert_error(400, "shape");
}

#[tokio::test]
async fn wrong_shape_is_400() {
    let app = bundled();
    let short = &row()[..15];
    post(&app, "/predict", &json!({ "instances": [short] }))
        .await
        .assert_error(
            400,
            "input `input` has shape [1, 15] but the model expects [-1, 16]",
        );
    post(&app, "/predict", &json!({ "instances": [row(), short] }))
        .await
        .assert_error(400, "not rectangular");
}

#[tokio::test]
async fn wrong_element_count_is_400() {
    let app = bundled();
    let v2 = json!({ "inputs": [{ "name": "input", "shape": [2, 16], "datatype": "FP32", "data": row() }] });
    post(&app, "/v2/models/stock-forecaster/infer", &v2)
        .await
        .assert_error(400, "shape [2, 16] needs 32 values, got 16");
}

#[tokio::test]
async fn wrong_datatype_is_400() {
    let app = bundled();
    let v2 = json!({ "inputs": [{ "name": "input", "shape": [1, 16], "datatype": "FP64", "data": row() }] });
    post(&app, "/v2/models/stock-forecaster/infer", &v2)
        .await
        .assert_error(400, "datatype FP64 but the model expects FP32");
    let bytes = json!({ "inputs": [{ "name": "input", "shape": [1], "datatype": "BYTES", "data": ["x"] }] });
    post(&app, "/v2/models/stock-forecaster/infer", &bytes)
        .await
        .assert_error(400, "BYTES");
}

#[tokio::test]
async fn nan_is_400_when_the_model_forbids_it() {
    let app = bundled();
    let mut values: Vec<serde_json::Value> = row().into_iter().map(|v| json!(v)).collect();
    values[3] = json!("NaN");
    post(&app, "/predict", &json!({ "instances": [values] }))
        .await
        .assert_error(400, "NaN");
}

#[tokio::test]
async fn more_rows_than_max_batch_size_are_split_not_refused() {
    let app = bundled();
    let rows = vec![row(); 65];
    let a = post(&app, "/predict", &json!({ "instances": rows })).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["predictions"].as_array().unwrap().len(), 65);
}

#[tokio::test]
async fn unknown_model_or_version_is_404() {
    let app = bundled();
    post(
        &app,
        "/v1/models/nope:predict",
        &json!({ "instances": [row()] }),
    )
    .await
    .assert_error(404, "model `nope` not found");
    post(
        &app,
        "/v2/models/stock-forecaster/versions/7/infer",
        &json!({ "inputs": [] }),
    )
    .await
    .assert_error(404, "no version 7");
    post(
        &app,
        "/predict",
        &json!({ "model": "nope", "instances": [row()] }),
    )
    .await
    .assert_error(404, "nope");
    send(&app, get("/v2/models/nope"))
        .await
        .assert_error(404, "nope");
}

#[tokio::test]
async fn body_over_max_body_bytes_is_413() {
    let app = app_with(vec![("stock-forecaster", 1, stock())], |c| {
        c.max_body_bytes = 1024
    });
    let rows = vec![row(); 40];
    let a = post(&app, "/predict", &json!({ "instances": rows })).await;
    a.assert_error(413, "max_body_bytes (1024 bytes)");
    let a = post(
        &app,
        "/v2/models/stock-forecaster/infer",
        &json!({ "inputs": [], "pad": "x".repeat(2000) }),
    )
    .await;
    a.assert_error(413, "max_body_bytes");

    // Streamed without a length: refused once the limit is passed, not before.
    let streamed = |len: usize| {
        let chunks = (0..2).map(move |_| Ok::<_, std::io::Error>(vec![b' '; len / 2]));
        Request::post("/predict")
            .header("content-type", "application/json")
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap()
    };
    send(&app, streamed(1026))
        .await
        .assert_error(413, "max_body_bytes");
    // Exactly at the limit it is read (and is not JSON).
    send(&app, streamed(1024)).await.assert_error(400, "JSON");
    // A declared length over the limit is refused without reading the body.
    let declared = Request::post("/predict")
        .header("content-length", "5000")
        .body(Body::from("{}"))
        .unwrap();
    send(&app, declared)
        .await
        .assert_error(413, "max_body_bytes");
    let rejected = app
        .metrics
        .rejected
        .with_label_values(&["unknown", "too_large"])
        .get();
    assert_eq!(rejected, 4, "every 413 is counted");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = bundled();
    for uri in [
        "/predict",
        "/v1/models/stock-forecaster:predict",
        "/v2/models/stock-forecaster/infer",
    ] {
        let req = Request::post(uri)
            .header("content-type", "text/plain")
            .body(Body::from(json!({ "instances": [row()] }).to_string()))
            .unwrap();
        send(&app, req).await.assert_error(415, "application/json");
    }
}

#[tokio::test]
async fn queue_full_is_503_with_retry_after() {
    let (app, model, gate) = slow_app(|c| {
        c.batching.max_batch_size = BatchSize::Rows(1);
        c.batching.queue_capacity = 1;
    });
    // Distinct rows, so the cache cannot coalesce them into one computation.
    let body = |v: f32| json!({ "instances": [[v, 2.0]] });
    // One request blocks the only inference thread, one fills the queue.
    let first = tokio::spawn({
        let router = app.router.clone();
        let req = post_json("/predict", &body(1.0));
        async move {
            tower::ServiceExt::oneshot(router, req)
                .await
                .unwrap()
                .status()
        }
    });
    model.wait_entered(1).await;
    let second = tokio::spawn({
        let router = app.router.clone();
        let req = post_json("/predict", &body(2.0));
        async move {
            tower::ServiceExt::oneshot(router, req)
                .await
                .unwrap()
                .status()
        }
    });
    let depth = app.metrics.queue_depth.with_label_values(&["slow"]);
    for _ in 0..1000 {
        if depth.get() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(depth.get(), 1, "the second request is queued");
    let a = post(&app, "/predict", &body(3.0)).await;
    a.assert_error(503, "queue is full");
    assert_eq!(a.header("retry-after"), "1");
    drop(gate);
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(second.await.unwrap(), 200);
    assert_eq!(
        post(&app, "/predict", &body(4.0)).await.status,
        200,
        "recovers when load drops"
    );
}

#[tokio::test]
async fn draining_is_503_with_retry_after() {
    let app = bundled();
    app.state
        .draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let a = send(&app, get("/readyz")).await;
    a.assert_error(503, "draining");
    assert!(a.headers.contains_key("retry-after"));
    send(&app, get("/v2/health/ready"))
        .await
        .assert_error(503, "draining");
    assert_eq!(
        send(&app, get("/healthz")).await.status,
        200,
        "still alive while draining"
    );
}

#[tokio::test]
async fn deadline_passed_is_504() {
    let (app, _, gate) = slow_app(|c| {
        c.request_timeout = Duration::from_millis(200);
    });
    let a = post(&app, "/predict", &json!({ "instances": [[1.0, 2.0]] })).await;
    a.assert_error(504, "deadline");
    drop(gate);
}

#[tokio::test]
async fn engine_failure_is_500_without_details() {
    for behaviour in [Behaviour::Fail, Behaviour::Panic] {
        let app = app_with(vec![("bad", 1, Arc::new(FakeModel::new(behaviour)))], |c| {
            c.default_model = "bad".into();
        });
        let a = post(&app, "/predict", &json!({ "instances": [[1.0, 2.0]] })).await;
        a.assert_error(500, "internal error");
        assert!(
            !String::from_utf8_lossy(&a.body).contains("secret"),
            "details are not sent"
        );
        let again = post(&app, "/predict", &json!({ "instances": [[1.0, 2.0]] })).await;
        assert_eq!(
            again.status, 500,
            "the server still answers after a {behaviour:?}"
        );
    }
}

#[tokio::test]
async fn unknown_route_and_wrong_method_answer_json() {
    let app = bundled();
    send(&app, get("/nowhere"))
        .await
        .assert_error(404, "no route for GET /nowhere");
    send(&app, get("/predict")).await.assert_error(405, "GET");
    send(&app, get("/v1/models/stock-forecaster:predict"))
        .await
        .assert_error(405, "POST");
    post(&app, "/v1/models/stock-forecaster:classify", &json!({}))
        .await
        .assert_error(404, "classify");
}

#[tokio::test]
async fn a_bad_request_does_not_change_the_next_answer() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let good = json!({ "instances": [r.inputs[0]] });
    let before = post(&app, "/predict", &good).await.json();
    post(&app, "/predict", &json!({ "instances": [vec![1e39; 16]] }))
        .await
        .assert_error(400, "out of range for FP32");
    post(&app, "/predict", &json!({ "instances": [vec![0.0; 17]] })).await;
    let after = post(&app, "/predict", &good).await.json();
    assert_eq!(before, after);
}
