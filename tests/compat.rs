//! What real clients send: fields inferd does not read are skipped at every level,
//! the fields it reads are still checked strictly, and the extension parameters of
//! Triton's and KServe's clients do what those clients expect.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use serde_json::{json, Value};

const V2: &str = "/v2/models/stock-forecaster/infer";
const DENSE_V2: &str = "/v2/models/dense-net/infer";

/// The forecaster's V2 output values, checked against onnxruntime's rows.
fn assert_forecasts(body: &Value, rows: &[Vec<f32>], what: &str) {
    let data = body["outputs"][0]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no data in {body}"));
    let got: Vec<Value> = data.iter().map(|v| json!([v])).collect();
    assert_rows(&Value::Array(got), rows, what);
}

#[tokio::test]
async fn v2_ignores_unknown_fields_at_every_level() {
    let app = bundled();
    let r = reference("stock-forecaster");
    // As the KServe SDK sends it (`model_name` in the body), plus fields of other
    // servers' extensions at each level, plus Triton's request parameters.
    let body = json!({
        "id": "sdk-1",
        "model_name": "stock-forecaster",
        "trace": { "sampled": true, "spans": [1, 2] },
        "parameters": { "priority": 1, "timeout": 5000, "sequence_id": 0, "custom": "x",
                        "content_type": "np" },
        "inputs": [{ "name": r.input_name, "shape": [2, 16], "datatype": "FP32",
                     "data": [r.inputs[0], r.inputs[1]], "extra": 1,
                     "parameters": { "content_type": "np", "note": [1, { "a": null }] } }],
        "outputs": [{ "name": r.output_name, "unit": "percent",
                      "parameters": { "binary_data": false, "whatever": {} } }],
    });
    let a = post(&app, V2, &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let j = a.json();
    assert_eq!(j["id"], "sdk-1");
    assert_forecasts(&j, &r.outputs[..2], "V2 with unknown fields");
}

#[tokio::test]
async fn v2_known_fields_stay_strict_and_are_named() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let input = |extra: Value| {
        let mut i = json!({ "name": r.input_name, "shape": [1, 16], "datatype": "FP32", "data": r.inputs[0] });
        i.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        i
    };
    let cases = [
        (
            json!({ "inputs": [input(json!({ "shape": "1x16" }))] }),
            "inputs[0].shape",
        ),
        (
            json!({ "inputs": [input(json!({ "shape": [1, -16] }))] }),
            "inputs[0].shape[1]",
        ),
        (
            json!({ "inputs": [input(json!({ "datatype": 32 }))] }),
            "inputs[0].datatype",
        ),
        (
            json!({ "inputs": [input(json!({ "name": ["input"] }))] }),
            "inputs[0].name",
        ),
        (json!({ "id": 7, "inputs": [input(json!({}))] }), "`id`"),
        (json!({ "inputs": input(json!({})) }), "`inputs`"),
        (
            json!({ "parameters": { "binary_data_output": "yes" }, "inputs": [input(json!({}))] }),
            "parameters.binary_data_output",
        ),
        (
            json!({ "parameters": [], "inputs": [input(json!({}))] }),
            "`parameters`",
        ),
        (
            json!({ "parameters": { "content_type": 5 }, "inputs": [input(json!({}))] }),
            "parameters.content_type",
        ),
        (
            json!({ "inputs": [input(json!({ "parameters": { "binary_data_size": "64" } }))] }),
            "inputs[0].parameters.binary_data_size",
        ),
        (
            json!({ "inputs": [input(json!({ "parameters": { "content_type": 1 } }))] }),
            "inputs[0].parameters.content_type",
        ),
        (
            json!({ "inputs": [input(json!({}))], "outputs": [{ "name": r.output_name, "parameters": { "binary_data": 1 } }] }),
            "outputs[0].parameters.binary_data",
        ),
        (
            json!({ "inputs": [input(json!({}))], "outputs": [{ "name": r.output_name, "parameters": { "classification": -3 } }] }),
            "outputs[0].parameters.classification",
        ),
        (
            json!({ "inputs": [input(json!({}))], "outputs": [{ "parameters": {} }] }),
            "`name`",
        ),
    ];
    for (body, field) in cases {
        let a = post(&app, V2, &body).await;
        a.assert_error(400, field);
    }
    // Semantic checks on known fields are unchanged.
    post(
        &app,
        V2,
        &json!({ "inputs": [input(json!({ "datatype": "FP99" }))] }),
    )
    .await
    .assert_error(400, "unknown datatype \"FP99\"");
    post(
        &app,
        V2,
        &json!({ "inputs": [input(json!({ "shape": [2, 16] }))] }),
    )
    .await
    .assert_error(400, "needs 32 values, got 16");
}

#[tokio::test]
async fn v2_content_type_must_fit_the_datatype() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let body = |ct: &str| {
        json!({ "inputs": [{ "name": r.input_name, "shape": [1, 16], "datatype": "FP32",
                             "data": r.inputs[0], "parameters": { "content_type": ct } }] })
    };
    let a = post(&app, V2, &body("np")).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_forecasts(&a.json(), &r.outputs[..1], "content_type np");
    post(&app, V2, &body("base64")).await.assert_error(
        400,
        "input `input` has content_type \"base64\", which does not fit datatype FP32",
    );
}

#[tokio::test]
async fn v2_shared_memory_is_refused_not_misread() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let shm = json!({ "shared_memory_region": "in0", "shared_memory_byte_size": 64 });
    let body = json!({ "inputs": [{ "name": r.input_name, "shape": [1, 16], "datatype": "FP32", "parameters": shm }] });
    post(&app, V2, &body)
        .await
        .assert_error(400, "input `input` uses shared_memory_region");
    let body = json!({
        "inputs": [{ "name": r.input_name, "shape": [1, 16], "datatype": "FP32", "data": r.inputs[0] }],
        "outputs": [{ "name": r.output_name, "parameters": shm }],
    });
    post(&app, V2, &body)
        .await
        .assert_error(400, "output `forecast` uses shared_memory_region");
}

#[tokio::test]
async fn v2_output_binary_data_overrides_the_request_default() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let body = json!({
        "parameters": { "binary_data_output": true },
        "inputs": [{ "name": r.input_name, "shape": [1, 16], "datatype": "FP32", "data": r.inputs[3] }],
        "outputs": [{ "name": r.output_name, "parameters": { "binary_data": false } }],
    });
    let a = post(&app, V2, &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(a.headers.get("inference-header-content-length").is_none());
    assert_forecasts(&a.json(), &r.outputs[3..4], "binary_data false wins");
}

#[tokio::test]
async fn v2_compressed_bodies_are_refused_clearly() {
    let app = bundled();
    let req = Request::post(V2)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(vec![0x1f, 0x8b, 8, 0]))
        .unwrap();
    send(&app, req)
        .await
        .assert_error(415, "Content-Encoding \"gzip\" is not supported");
}

/// onnxruntime's top `k` of a reference row: (value, index), largest first.
fn reference_top(row: &[f32], k: usize) -> Vec<(f32, usize)> {
    let mut order: Vec<(f32, usize)> = row.iter().copied().zip(0..).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    order.truncate(k);
    order
}

/// Checks `"value:index"` labels against onnxruntime: the index exactly, the value
/// within the README's dense-net tolerance and the six decimals printed.
fn assert_labels(labels: &[String], want: &[(f32, usize)], what: &str) {
    assert_eq!(labels.len(), want.len(), "{what}: label count");
    for (label, (value, index)) in labels.iter().zip(want) {
        let (v, i) = label
            .split_once(':')
            .unwrap_or_else(|| panic!("{what}: {label:?} is not value:index"));
        assert_eq!(i.parse::<usize>().unwrap(), *index, "{what}: {label}");
        assert_eq!(v.split_once('.').map(|(_, d)| d.len()), Some(6), "{label}");
        let got: f64 = v.parse().unwrap();
        assert_close_within(got, f64::from(*value), DENSE_ABS_TOL + 5e-7, what);
    }
}

#[tokio::test]
async fn v2_classification_returns_top_k_per_row_as_bytes() {
    let app = bundled();
    let r = reference("dense-net");
    let rows = &r.inputs[..3];
    let body = json!({
        "inputs": [{ "name": r.input_name, "shape": [3, rows[0].len()], "datatype": "FP32", "data": rows }],
        "outputs": [{ "name": r.output_name, "parameters": { "classification": 3, "binary_data": false } }],
    });
    let a = post(&app, DENSE_V2, &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let j = a.json();
    let out = &j["outputs"][0];
    assert_eq!(out["datatype"], "BYTES");
    assert_eq!(out["shape"], json!([3, 3]));
    let labels: Vec<String> = serde_json::from_value(out["data"].clone()).unwrap();
    for (i, row) in labels.chunks(3).enumerate() {
        assert_labels(row, &reference_top(&r.outputs[i], 3), &format!("row {i}"));
    }
}

#[tokio::test]
async fn v2_classification_in_binary_is_length_prefixed() {
    let app = bundled();
    let r = reference("dense-net");
    let body = json!({
        "parameters": { "binary_data_output": true },
        "inputs": [{ "name": r.input_name, "shape": [1, r.inputs[0].len()], "datatype": "FP32", "data": r.inputs[0] }],
        "outputs": [{ "name": r.output_name, "parameters": { "classification": 20 } }],
    });
    let a = post(&app, DENSE_V2, &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let json_len: usize = a.header("inference-header-content-length").parse().unwrap();
    let head: Value = serde_json::from_slice(&a.body[..json_len]).unwrap();
    let out = &head["outputs"][0];
    // k past the 10 classes gives all 10, as Triton does.
    assert_eq!(out["shape"], json!([1, 10]));
    let mut tail = &a.body[json_len..];
    assert_eq!(out["parameters"]["binary_data_size"], tail.len());
    let mut labels = Vec::new();
    while !tail.is_empty() {
        let n = u32::from_le_bytes(tail[..4].try_into().unwrap()) as usize;
        labels.push(String::from_utf8(tail[4..4 + n].to_vec()).unwrap());
        tail = &tail[4 + n..];
    }
    assert_labels(&labels, &reference_top(&r.outputs[0], 10), "binary labels");
}

#[tokio::test]
async fn tf_serving_ignores_unknown_fields_and_checks_signature_name() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let uri = "/v1/models/stock-forecaster:predict";
    let rows = json!({ "signature_name": "serving_default", "instances": &r.inputs[..2],
                       "client": { "name": "x" }, "trace_id": 9 });
    let a = post(&app, uri, &rows).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_rows(&a.json()["predictions"], &r.outputs[..2], "row format");
    let columns = json!({ "signature_name": "serving_default", "extra": [],
                          "inputs": { r.input_name.clone(): &r.inputs[..2] } });
    let a = post(&app, uri, &columns).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_rows(&a.json()["outputs"], &r.outputs[..2], "columnar format");
    let a = post(
        &app,
        "/predict",
        &json!({ "instances": [r.inputs[0]], "meta": 1 }),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);

    let other = json!({ "signature_name": "classify_v2", "instances": [r.inputs[0]] });
    post(&app, uri, &other).await.assert_error(
        400,
        "unknown signature_name \"classify_v2\"; the model's signatures are: \"serving_default\"",
    );
    let wrong_type = json!({ "signature_name": 3, "instances": [r.inputs[0]] });
    post(&app, uri, &wrong_type)
        .await
        .assert_error(400, "signature_name");
    let wrong_rows = json!({ "instances": { "input": 1 } });
    post(&app, uri, &wrong_rows)
        .await
        .assert_error(400, "instances");
}

#[tokio::test]
async fn kserve_v1_liveness_and_model_readiness() {
    let app = bundled();
    let a = send(&app, get("/")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({ "status": "alive" }));
    let a = send(&app, get("/v1/models/stock-forecaster")).await;
    let j = a.json();
    assert_eq!(j["name"], "stock-forecaster");
    assert_eq!(j["ready"], true);
    assert_eq!(j["model_version_status"][0]["state"], "AVAILABLE");
    send(&app, get("/v1/models/nope"))
        .await
        .assert_error(404, "nope");
    // A draining replica's models are loaded but should get no new traffic.
    app.state
        .draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let j = send(&app, get("/v1/models/stock-forecaster")).await.json();
    assert_eq!(j["ready"], false);
    assert_eq!(j["model_version_status"][0]["state"], "AVAILABLE");
}

#[tokio::test]
async fn server_metadata_lists_the_extensions_served() {
    let app = bundled();
    let j = send(&app, get("/v2")).await.json();
    assert_eq!(
        j["extensions"],
        json!(["binary_tensor_data", "classification"])
    );
}

#[tokio::test]
async fn tf_serving_model_metadata_describes_the_one_signature() {
    let app = bundled();
    for uri in [
        "/v1/models/stock-forecaster/metadata",
        "/v1/models/stock-forecaster/versions/1/metadata",
    ] {
        let a = send(&app, get(uri)).await;
        assert_eq!(a.status, 200, "{uri}: {:?}", a.body);
        let j = a.json();
        assert_eq!(j["model_spec"]["name"], "stock-forecaster");
        assert_eq!(j["model_spec"]["version"], "1");
        let sig = &j["metadata"]["signature_def"]["signature_def"]["serving_default"];
        assert_eq!(sig["method_name"], "tensorflow/serving/predict");
        let input = &sig["inputs"]["input"];
        assert_eq!(input["dtype"], "DT_FLOAT");
        let sizes: Vec<&str> = input["tensor_shape"]["dim"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["size"].as_str().unwrap())
            .collect();
        assert_eq!(sizes, ["-1", "16"]);
        assert_eq!(sig["outputs"]["forecast"]["dtype"], "DT_FLOAT");
    }
    send(&app, get("/v1/models/stock-forecaster/versions/9/metadata"))
        .await
        .assert_error(404, "version");
    let post_it = post(
        &app,
        "/v1/models/stock-forecaster/metadata:predict",
        &json!({}),
    )
    .await;
    post_it.assert_error(405, "GET");
}

#[tokio::test]
async fn triton_model_config_gives_batching_and_tensor_types() {
    let app = bundled();
    for uri in [
        "/v2/models/dense-net/config",
        "/v2/models/dense-net/versions/1/config",
    ] {
        let a = send(&app, get(uri)).await;
        assert_eq!(a.status, 200, "{uri}: {:?}", a.body);
        let j = a.json();
        assert_eq!(j["name"], "dense-net");
        // Registered in memory, so "auto" is not timed (tests/repository.rs times it),
        // but kept within the model's run limit (64 is past it on a 512 KiB L2).
        let model = app
            .state
            .inference
            .repository
            .resolve("dense-net", None)
            .unwrap();
        let untimed = inferd::batcher::auto::UNTIMED_ROWS;
        let rows = model
            .model
            .max_run_rows()
            .map_or(untimed, |l| l.min(untimed));
        assert_eq!(j["max_batch_size"], rows);
        assert_eq!(
            j["parameters"]["max_batch_size_source"]["string_value"],
            "auto"
        );
        assert_eq!(
            j["input"],
            json!([{ "name": "input", "data_type": "TYPE_FP32", "dims": [512] }])
        );
        assert_eq!(
            j["output"],
            json!([{ "name": "logits", "data_type": "TYPE_FP32", "dims": [10] }])
        );
    }
    send(&app, get("/v2/models/nope/config"))
        .await
        .assert_error(404, "nope");
}
