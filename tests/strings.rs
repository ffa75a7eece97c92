//! String (BYTES) tensors on every protocol, in process: the zoo's
//! column-transformer-strings (a FP32 and a BYTES input, string labels out) and
//! onehot-string-logreg (a strict OneHotEncoder), answers checked against the
//! onnxruntime references committed beside them (labels exact, probabilities
//! within the README's tolerance: relative 1e-5, absolute 1e-6).

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{app_with, assert_close, post, send, TestApp};
use inferd::model::onnx::OnnxModel;
use inferd::model::Model;
use serde_json::{json, Value};
use std::sync::Arc;

const MIXED: &str = "column-transformer-strings";
const STRICT: &str = "onehot-string-logreg";

fn zoo_model(name: &str) -> Arc<dyn Model> {
    let path = format!("{}/tests/zoo/{name}/model.onnx", env!("CARGO_MANIFEST_DIR"));
    Arc::new(OnnxModel::load(path.as_ref()).expect("the zoo model loads"))
}

/// The model's reference tensors by name: (shape, flat data).
fn reference(name: &str) -> Value {
    let path = format!(
        "{}/tests/zoo/{name}/reference.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tensor<'a>(doc: &'a Value, part: &str, name: &str) -> &'a Value {
    doc[part]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no {part} {name}"))
}

/// Row `i` of a reference tensor of `width` columns.
fn row(t: &Value, i: usize, width: usize) -> Vec<Value> {
    t["data"].as_array().unwrap()[i * width..(i + 1) * width].to_vec()
}

fn app() -> TestApp {
    app_with(
        vec![(MIXED, 1, zoo_model(MIXED)), (STRICT, 1, zoo_model(STRICT))],
        |_| {},
    )
}

/// Checks labels (exact) and probabilities of `rows` reference rows.
fn check(labels: &[Value], probabilities: &[Value], rows: std::ops::Range<usize>, what: &str) {
    let r = reference(MIXED);
    let (want_labels, want_probs) = (
        tensor(&r, "outputs", "label"),
        tensor(&r, "outputs", "probabilities"),
    );
    assert_eq!(labels.len(), rows.len(), "{what}: rows");
    for (k, i) in rows.enumerate() {
        assert_eq!(
            labels[k], want_labels["data"][i],
            "{what}: label of row {i}"
        );
        let got = probabilities[k].as_array().unwrap();
        for (j, (g, w)) in got.iter().zip(row(want_probs, i, 3)).enumerate() {
            assert_close(
                g.as_f64().unwrap(),
                w.as_f64().unwrap(),
                &format!("{what}[{i}][{j}]"),
            );
        }
    }
}

#[tokio::test]
async fn string_inputs_and_labels_on_every_json_protocol() {
    let app = app();
    let r = reference(MIXED);
    let (num, cat) = (tensor(&r, "inputs", "num"), tensor(&r, "inputs", "cat"));
    let rows = 0..6;

    // TF Serving rows, on its URL and on /predict.
    let instances: Vec<Value> = rows
        .clone()
        .map(|i| json!({ "num": row(num, i, 3), "cat": row(cat, i, 2) }))
        .collect();
    for uri in [
        format!("/v1/models/{MIXED}:predict"),
        "/predict".to_string(),
    ] {
        let mut body = json!({ "instances": instances });
        if uri == "/predict" {
            body["model"] = json!(MIXED);
        }
        let answer = post(&app, &uri, &body).await;
        assert_eq!(answer.status, 200, "{uri}: {:?}", answer.json());
        let predictions = answer.json()["predictions"].as_array().unwrap().clone();
        let labels: Vec<Value> = predictions.iter().map(|p| p["label"].clone()).collect();
        let probs: Vec<Value> = predictions
            .iter()
            .map(|p| p["probabilities"].clone())
            .collect();
        check(&labels, &probs, rows.clone(), &uri);
    }

    // TF Serving columns.
    let columns = json!({ "inputs": {
        "num": rows.clone().map(|i| row(num, i, 3)).collect::<Vec<_>>(),
        "cat": rows.clone().map(|i| row(cat, i, 2)).collect::<Vec<_>>(),
    }});
    let answer = post(&app, &format!("/v1/models/{MIXED}:predict"), &columns).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let out = answer.json()["outputs"].clone();
    check(
        out["label"].as_array().unwrap(),
        out["probabilities"].as_array().unwrap(),
        rows.clone(),
        "TF Serving columns",
    );

    // V2 JSON: BYTES declared, data flat; the label comes back as BYTES.
    let n = rows.len();
    let flat =
        |t: &Value, w: usize| -> Vec<Value> { rows.clone().flat_map(|i| row(t, i, w)).collect() };
    let body = json!({ "inputs": [
        { "name": "num", "datatype": "FP32", "shape": [n, 3], "data": flat(num, 3) },
        { "name": "cat", "datatype": "BYTES", "shape": [n, 2], "data": flat(cat, 2) },
    ]});
    let answer = post(&app, &format!("/v2/models/{MIXED}/infer"), &body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let outputs = answer.json()["outputs"].clone();
    assert_eq!(outputs[0]["name"], "label");
    assert_eq!(outputs[0]["datatype"], "BYTES");
    assert_eq!(outputs[0]["shape"], json!([n]));
    let probs: Vec<Value> = outputs[1]["data"]
        .as_array()
        .unwrap()
        .chunks(3)
        .map(|c| Value::from(c.to_vec()))
        .collect();
    check(
        outputs[0]["data"].as_array().unwrap(),
        &probs,
        rows,
        "V2 JSON",
    );

    // The metadata says BYTES, as Triton's clients expect.
    let meta = send(&app, common::get(&format!("/v2/models/{MIXED}")))
        .await
        .json();
    assert_eq!(
        meta["inputs"][1],
        json!({"name": "cat", "datatype": "BYTES", "shape": [-1, 2]})
    );
}

/// A V2 binary request for one row: `num` then `cat` as the given raw bytes.
fn binary_request(cat: &[u8]) -> Request<Body> {
    let num: Vec<u8> = [0.5f32, -1.0, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = json!({ "inputs": [
        { "name": "num", "datatype": "FP32", "shape": [1, 3], "parameters": { "binary_data_size": 12 } },
        { "name": "cat", "datatype": "BYTES", "shape": [1, 2], "parameters": { "binary_data_size": cat.len() } },
    ]})
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&num);
    body.extend_from_slice(cat);
    Request::post(format!("/v2/models/{MIXED}/infer"))
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len())
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn malformed_strings_are_400s_that_say_why() {
    let app = app();
    let ok = send(&app, binary_request(b"\x03\0\0\0red\x04\0\0\0blue")).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    for (bytes, needle) in [
        (
            &b"\x03\0\0\0red\x09\0\0\0blue"[..],
            "element 1 declares 9 bytes but only 4 remain",
        ),
        (
            &b"\x03\0\0\0red\x04\0\0\0bl\xffe"[..],
            "element 1 is not UTF-8",
        ),
        (&b"\x03\0\0\0red"[..], "the bytes end inside element 1"),
    ] {
        send(&app, binary_request(bytes))
            .await
            .assert_error(400, needle);
    }
    let uri = format!("/v2/models/{MIXED}/infer");
    let numbers_as_bytes = json!({ "inputs": [
        { "name": "num", "datatype": "FP32", "shape": [1, 3], "data": [0.5, -1.0, 2.0] },
        { "name": "cat", "datatype": "BYTES", "shape": [1, 2], "data": ["red", 7] },
    ]});
    post(&app, &uri, &numbers_as_bytes).await.assert_error(
        400,
        "input `cat`: element 1 (7) is not a string, expected BYTES",
    );
    let declared_fp32 = json!({ "inputs": [
        { "name": "num", "datatype": "FP32", "shape": [1, 3], "data": [0.5, -1.0, 2.0] },
        { "name": "cat", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0] },
    ]});
    post(&app, &uri, &declared_fp32).await.assert_error(
        400,
        "input `cat` has datatype FP32 but the model expects BYTES",
    );
    let base64 = json!({ "inputs": [
        { "name": "num", "datatype": "FP32", "shape": [1, 3], "data": [0.5, -1.0, 2.0] },
        { "name": "cat", "datatype": "BYTES", "shape": [1, 2], "data": ["cmVk", "Ymx1ZQ=="],
          "parameters": { "content_type": "base64" } },
    ]});
    post(&app, &uri, &base64)
        .await
        .assert_error(400, "inferd reads BYTES data as UTF-8");
    let b64 =
        json!({ "instances": [{ "num": [0.5, -1.0, 2.0], "cat": [{ "b64": "cmVk" }, "blue"] }] });
    post(&app, &format!("/v1/models/{MIXED}:predict"), &b64)
        .await
        .assert_error(400, "binary strings ({\"b64\": ...}) are not supported");
}

#[tokio::test]
async fn an_unknown_category_fails_its_own_request_only() {
    let app = app();
    let uri = format!("/v1/models/{STRICT}:predict");
    let known = json!({ "instances": [["red", "blue"]] });
    let unknown = json!({ "instances": [["red", "purple"]] });
    // Sent together, so the batcher may put them in one run: the unknown
    // category fails that run, and the known rows are answered all the same.
    let answers = futures::future::join_all((0..8).map(|i| {
        let body = if i % 4 == 3 {
            unknown.clone()
        } else {
            known.clone()
        };
        let app = &app;
        let uri = &uri;
        async move { post(app, uri, &body).await }
    }))
    .await;
    for (i, answer) in answers.iter().enumerate() {
        if i % 4 == 3 {
            answer.assert_error(
                400,
                "has no answer for this input: OneHotEncoder: unknown category \"purple\"",
            );
        } else {
            assert_eq!(answer.status, 200, "request {i}: {:?}", answer.json());
            assert!(answer.json()["predictions"][0]["label"].is_i64());
        }
    }
}
