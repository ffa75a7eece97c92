//! The bundled models answer over every protocol exactly as onnxruntime does.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn predict_single_rows_match_onnxruntime() {
    let app = bundled();
    let r = reference("stock-forecaster");
    for (input, output) in r.inputs.iter().zip(&r.outputs).take(8) {
        let a = post(&app, "/predict", &json!({ "instances": [input] })).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert_rows(
            &a.json()["predictions"],
            std::slice::from_ref(output),
            "/predict row",
        );
    }
}

#[tokio::test]
async fn every_protocol_answers_a_32_row_batch_like_onnxruntime() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let (inputs, outputs) = (&r.inputs[..32], &r.outputs[..32]);

    let rows = json!({ "instances": inputs });
    for uri in [
        "/predict",
        "/v1/models/stock-forecaster:predict",
        "/v1/models/stock-forecaster/versions/1:predict",
    ] {
        let a = post(&app, uri, &rows).await;
        assert_eq!(a.status, 200, "{uri}: {:?}", a.body);
        assert_rows(&a.json()["predictions"], outputs, uri);
        assert_eq!(a.header("x-inferd-model"), "stock-forecaster");
    }

    let columns = json!({ "inputs": { r.input_name.clone(): inputs } });
    let a = post(&app, "/v1/models/stock-forecaster:predict", &columns).await;
    assert_rows(&a.json()["outputs"], outputs, "TF columnar");

    let flat: Vec<f32> = inputs.iter().flatten().copied().collect();
    let v2 = json!({ "inputs": [{ "name": r.input_name, "shape": [32, 16], "datatype": "FP32", "data": flat }] });
    let a = post(&app, "/v2/models/stock-forecaster/infer", &v2).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let body = a.json();
    let out = &body["outputs"][0];
    assert_eq!(out["name"], r.output_name.as_str());
    assert_eq!(out["datatype"], "FP32");
    assert_eq!(out["shape"], json!([32, 1]));
    let got: Vec<Value> = out["data"]
        .as_array()
        .unwrap()
        .chunks(1)
        .map(|c| json!(c))
        .collect();
    assert_rows(&Value::Array(got), outputs, "V2 JSON");
    assert_eq!(body["model_name"], "stock-forecaster");
    assert_eq!(body["model_version"], "1");

    let nested = json!({ "inputs": [{ "name": r.input_name, "shape": [32, 16], "datatype": "FP32", "data": inputs }] });
    let a = post(
        &app,
        "/v2/models/stock-forecaster/versions/1/infer",
        &nested,
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        a.json()["outputs"][0]["data"],
        out["data"],
        "nested data = flat data"
    );
}

#[tokio::test]
async fn heavy_model_matches_onnxruntime() {
    let app = bundled();
    let r = reference("dense-net");
    let a = post(
        &app,
        "/v1/models/dense-net:predict",
        &json!({ "instances": r.inputs }),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_rows_within(
        &a.json()["predictions"],
        &r.outputs,
        DENSE_ABS_TOL,
        "dense-net",
    );
}

/// Builds a V2 binary request: JSON header, then little-endian FP32 bytes.
fn binary_request(rows: &[Vec<f32>], input: &str, output: &str) -> Request<Body> {
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = json!({
        "id": "bin-1",
        "inputs": [{ "name": input, "shape": [rows.len(), rows[0].len()], "datatype": "FP32",
                     "parameters": { "binary_data_size": bytes.len() } }],
        "outputs": [{ "name": output, "parameters": { "binary_data": true } }],
    })
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&bytes);
    Request::post("/v2/models/stock-forecaster/infer")
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len())
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn v2_binary_tensors_round_trip() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let a = send(
        &app,
        binary_request(&r.inputs[..32], &r.input_name, &r.output_name),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.header("content-type"), "application/octet-stream");
    let json_len: usize = a.header("inference-header-content-length").parse().unwrap();
    let head: Value = serde_json::from_slice(&a.body[..json_len]).unwrap();
    assert_eq!(head["id"], "bin-1");
    let out = &head["outputs"][0];
    assert_eq!(out["shape"], json!([32, 1]));
    assert!(
        out.get("data").is_none(),
        "binary outputs carry no JSON data"
    );
    assert_eq!(out["parameters"]["binary_data_size"], 32 * 4);
    let tail = &a.body[json_len..];
    assert_eq!(tail.len(), 32 * 4);
    for (i, chunk) in tail.chunks_exact(4).enumerate() {
        let v = f32::from_le_bytes(chunk.try_into().unwrap());
        assert_close(
            f64::from(v),
            f64::from(r.outputs[i][0]),
            &format!("binary row {i}"),
        );
    }
}

#[tokio::test]
async fn a_body_in_several_chunks_reads_like_one_piece() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let whole = binary_request(&r.inputs[..8], &r.input_name, &r.output_name);
    let (parts, body) = whole.into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    // Cut inside the JSON header, at its end, and inside the binary tensor.
    let json_len: usize = parts.headers["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let cuts = [0, 10, json_len, json_len + 5, bytes.len()];
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = cuts
        .windows(2)
        .map(|w| Ok(bytes.slice(w[0]..w[1])))
        .collect();
    let mut streamed = Request::from_parts(
        parts.clone(),
        Body::from_stream(futures::stream::iter(chunks)),
    );
    streamed
        .headers_mut()
        .insert("content-length", bytes.len().into());
    let in_chunks = send(&app, streamed).await;
    let in_one = send(&app, Request::from_parts(parts, Body::from(bytes))).await;
    assert_eq!(in_chunks.status, 200, "{:?}", in_chunks.body);
    assert_eq!(in_chunks.body, in_one.body);
}

#[tokio::test]
async fn v2_binary_output_for_a_json_request() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let body = json!({
        "parameters": { "binary_data_output": true },
        "inputs": [{ "name": r.input_name, "shape": [1, 16], "datatype": "FP32", "data": r.inputs[0] }],
    });
    let a = post(&app, "/v2/models/stock-forecaster/infer", &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let json_len: usize = a.header("inference-header-content-length").parse().unwrap();
    let v = f32::from_le_bytes(a.body[json_len..].try_into().unwrap());
    assert_close(
        f64::from(v),
        f64::from(r.outputs[0][0]),
        "binary_data_output",
    );
}

#[tokio::test]
async fn v2_echoes_id_and_returns_requested_outputs() {
    let app = bundled();
    let r = reference("stock-forecaster");
    let body = json!({
        "id": "req-42",
        "inputs": [{ "name": r.input_name, "shape": [1, 16], "datatype": "FP32", "data": r.inputs[1] }],
        "outputs": [{ "name": r.output_name }],
    });
    let a = post(&app, "/v2/models/stock-forecaster/infer", &body).await;
    let j = a.json();
    assert_eq!(j["id"], "req-42");
    assert_eq!(j["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(j["outputs"][0]["name"], r.output_name.as_str());

    let mut wrong = body.clone();
    wrong["outputs"] = json!([{ "name": "nope" }]);
    post(&app, "/v2/models/stock-forecaster/infer", &wrong)
        .await
        .assert_error(400, "unknown output `nope`");
}

#[tokio::test]
async fn v2_metadata_and_readiness() {
    let app = bundled();
    let server = send(&app, get("/v2")).await.json();
    assert_eq!(server["name"], "inferd");
    assert!(server["extensions"]
        .as_array()
        .unwrap()
        .contains(&json!("binary_tensor_data")));

    let m = send(&app, get("/v2/models/stock-forecaster")).await.json();
    assert_eq!(m["name"], "stock-forecaster");
    assert_eq!(m["versions"], json!(["1"]));
    assert_eq!(
        m["inputs"],
        json!([{ "name": "input", "datatype": "FP32", "shape": [-1, 16] }])
    );
    assert_eq!(m["outputs"][0]["shape"], json!([-1, 1]));
    let v = send(&app, get("/v2/models/stock-forecaster/versions/1"))
        .await
        .json();
    assert_eq!(v["inputs"], m["inputs"]);

    for uri in [
        "/v2/models/stock-forecaster/ready",
        "/v2/models/stock-forecaster/versions/1/ready",
    ] {
        let a = send(&app, get(uri)).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json()["ready"], true);
    }
    send(&app, get("/v2/models/nope/ready"))
        .await
        .assert_error(404, "nope");
    send(&app, get("/v2/models/stock-forecaster/versions/9/ready"))
        .await
        .assert_error(404, "version 9");
    for uri in ["/v2/health/live", "/v2/health/ready", "/healthz", "/readyz"] {
        assert_eq!(send(&app, get(uri)).await.status, 200, "{uri}");
    }
}

#[tokio::test]
async fn tf_serving_status() {
    let app = bundled();
    let a = send(&app, get("/v1/models/stock-forecaster")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({ "model_version_status": [{ "version": "1", "state": "AVAILABLE",
                 "status": { "error_code": "OK", "error_message": "" } }],
                "name": "stock-forecaster", "ready": true })
    );
    assert_eq!(
        send(&app, get("/v1/models/stock-forecaster/versions/1"))
            .await
            .status,
        200
    );
    send(&app, get("/v1/models/stock-forecaster/versions/3"))
        .await
        .assert_error(404, "version 3");
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = bundled();
    let mut req = get("/healthz");
    req.headers_mut()
        .insert("x-request-id", "abc-123".parse().unwrap());
    assert_eq!(send(&app, req).await.header("x-request-id"), "abc-123");
    let generated = send(&app, get("/nowhere")).await;
    assert_eq!(
        generated.header("x-request-id").len(),
        36,
        "a UUID, even on errors"
    );
}

#[tokio::test]
async fn predict_can_name_model_and_version_in_the_body() {
    let app = bundled();
    let r = reference("dense-net");
    let body = json!({ "model": "dense-net", "version": "1", "instances": [r.inputs[0]] });
    let a = post(&app, "/predict", &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_rows_within(
        &a.json()["predictions"],
        &r.outputs[..1],
        DENSE_ABS_TOL,
        "dense-net via /predict",
    );
    assert_eq!(a.header("x-inferd-model"), "dense-net");
    assert_eq!(a.header("x-inferd-model-version"), "1");
}
