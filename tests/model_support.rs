//! What users of classifiers see on every protocol: INT64 labels next to FP32
//! probabilities in /predict, TF Serving and V2 JSON bodies; models with a
//! fixed first dimension served at exactly that many rows; and load failures
//! reported with their reason by the status endpoints.

mod common;

use common::{get, post, repo_path, send, TestApp};
use inferd::config::{BatchSize, Config};
use inferd::metrics::Metrics;
use inferd::model::onnx::OnnxModel;
use inferd::model::Model;
use inferd::repository::Repository;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
struct Reference {
    inputs: Vec<Named>,
    outputs: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    shape: Vec<usize>,
    data: Vec<Value>,
}

fn zoo(name: &str) -> (Arc<dyn Model>, Reference) {
    let dir = repo_path(&format!("tests/zoo/{name}"));
    let model = OnnxModel::load(&dir.join("model.onnx")).expect("zoo model loads");
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    (Arc::new(model), serde_json::from_str(&text).unwrap())
}

/// The reference input as JSON rows.
fn rows(t: &Named, n: usize) -> Vec<Vec<Value>> {
    let width = t.shape[1];
    t.data
        .chunks(width)
        .take(n)
        .map(<[Value]>::to_vec)
        .collect()
}

fn app(name: &str, model: Arc<dyn Model>) -> TestApp {
    common::app_with(vec![(name, 1, model)], |c| c.default_model = name.into())
}

#[tokio::test]
async fn int64_labels_and_probabilities_on_every_protocol() {
    let (model, r) = zoo("decision-tree-int-labels");
    let app = app("trees", model);
    let input = rows(&r.inputs[0], 3);
    let labels: Vec<i64> = r.outputs[0].data[..3]
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let probabilities = &r.outputs[1].data[..12];

    // /predict and TF Serving's row format: one object per row, by output name.
    for uri in ["/predict", "/v1/models/trees:predict"] {
        let a = post(&app, uri, &json!({ "instances": input })).await;
        assert_eq!(a.status, 200, "{uri}: {:?}", a.body);
        let predictions = a.json()["predictions"].clone();
        for (i, row) in predictions.as_array().unwrap().iter().enumerate() {
            assert_eq!(row["label"], json!(labels[i]), "{uri} row {i}: {row}");
            for j in 0..4 {
                let got = row["probabilities"][j].as_f64().unwrap() as f32;
                let want = probabilities[i * 4 + j].as_f64().unwrap() as f32;
                assert_eq!(got, want, "{uri} row {i} class {j}");
            }
        }
    }

    // TF Serving's columnar format: one entry per output, all rows.
    let a = post(
        &app,
        "/v1/models/trees:predict",
        &json!({ "inputs": input }),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["outputs"]["label"], json!(labels));

    // V2 JSON: the label output is INT64 with shape [rows].
    let flat: Vec<Value> = input.iter().flatten().cloned().collect();
    let body = json!({ "inputs": [{ "name": "input", "shape": [3, 6], "datatype": "FP32", "data": flat }] });
    let a = post(&app, "/v2/models/trees/infer", &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let outputs = a.json()["outputs"].clone();
    assert_eq!(
        outputs[0],
        json!({ "name": "label", "datatype": "INT64", "shape": [3], "data": labels })
    );
    assert_eq!(outputs[1]["datatype"], "FP32");
    assert_eq!(outputs[1]["shape"], json!([3, 4]));
}

#[tokio::test]
async fn a_fixed_first_dimension_is_served_at_exactly_that_many_rows() {
    let (model, r) = zoo("fixed-batch-128");
    assert!(!model.signature().is_batched());
    // 128 rows, more than any batch size "auto" picks for it untimed (64).
    let app = app("fixed", model);
    let input = rows(&r.inputs[0], 128);
    let a = post(
        &app,
        "/v1/models/fixed:predict",
        &json!({ "instances": input }),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let got = a.json()["predictions"].clone();
    assert_eq!(got.as_array().unwrap().len(), 128);
    for (i, want) in r.outputs[0].data.iter().enumerate() {
        let (g, w) = (got[i][0].as_f64().unwrap(), want.as_f64().unwrap());
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "row {i}: {g} vs {w}"
        );
    }
    let a = post(
        &app,
        "/v1/models/fixed:predict",
        &json!({ "instances": &input[..127] }),
    )
    .await;
    a.assert_error(400, "shape");
}

#[tokio::test]
async fn a_request_larger_than_max_batch_size_is_split_and_answered_in_order() {
    let (model, r) = zoo("random-forest-multi");
    let app = common::app_with(vec![("forest", 1, model)], |c| {
        c.default_model = "forest".into();
        c.batching.max_batch_size = BatchSize::Rows(5);
        c.cache.enabled = false;
    });
    let input = rows(&r.inputs[0], 24);
    let a = post(&app, "/predict", &json!({ "instances": input })).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let predictions = a.json()["predictions"].clone();
    for (i, row) in predictions.as_array().unwrap().iter().enumerate() {
        assert_eq!(row["label"], r.outputs[0].data[i], "row {i}");
    }
    let runs = app.metrics.batch_size.with_label_values(&["forest"]);
    assert_eq!(runs.get_sample_count(), 5, "24 rows in runs of at most 5");
    assert_eq!(runs.get_sample_sum(), 24.0);
}

#[tokio::test]
async fn status_endpoints_say_why_a_model_did_not_load() {
    let root = std::env::temp_dir().join(format!("inferd-unsupported-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (name, from) in [
        ("good", "models/stock-forecaster/1/model.onnx"),
        ("unsupported", "tests/zoo/op-feature-vectorizer/model.onnx"),
    ] {
        std::fs::create_dir_all(root.join(name).join("1")).unwrap();
        std::fs::copy(repo_path(from), root.join(name).join("1/model.onnx")).unwrap();
    }
    let config = Config {
        model_repository: root.clone(),
        default_model: "good".into(),
        ..Config::default()
    };
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let repo = Repository::load(&config, &metrics).await.unwrap();
    let state = inferd::app_state(&config, Arc::new(repo), metrics.clone());
    let app = TestApp {
        router: inferd::http::router(state.clone()),
        state,
        metrics,
    };
    let why = "operator `ai.onnx.ml:FeatureVectorizer`";
    send(&app, get("/v2/models/unsupported"))
        .await
        .assert_error(404, why);
    send(&app, get("/v2/models/unsupported/versions/1"))
        .await
        .assert_error(404, why);
    for uri in [
        "/v1/models/unsupported",
        "/v1/models/unsupported/versions/1",
    ] {
        let a = send(&app, get(uri)).await;
        assert_eq!(a.status, 200, "{uri}: {:?}", a.body);
        let status = &a.json()["model_version_status"][0];
        assert_eq!(status["state"], "END");
        let message = status["status"]["error_message"].as_str().unwrap();
        assert!(message.contains(why), "{uri}: {message}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_two_input_model_takes_named_inputs_in_rows_and_columns() {
    let (model, r) = zoo("column-transformer-two-inputs");
    let app = app("ct", model);
    let (num, cat) = (rows(&r.inputs[0], 2), rows(&r.inputs[1], 2));
    let labels = &r.outputs[0].data[..2];
    let instances: Vec<Value> = (0..2)
        .map(|i| json!({ "num": num[i], "cat": cat[i] }))
        .collect();
    let a = post(&app, "/predict", &json!({ "instances": instances })).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    for (i, label) in labels.iter().enumerate() {
        assert_eq!(&a.json()["predictions"][i]["label"], label, "row {i}");
    }
    let columns = json!({ "inputs": { "num": num, "cat": cat } });
    let a = post(&app, "/v1/models/ct:predict", &columns).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["outputs"]["label"], json!(labels));
}

#[tokio::test]
async fn the_engine_run_limit_lowers_max_batch_size_splits_evenly_and_is_reported() {
    use inferd::testing::{Behaviour, FakeModel};
    let model = Arc::new(FakeModel::new(Behaviour::Answer).with_max_run_rows(5));
    let app = common::app_with(vec![("fake", 1, model.clone())], |c| {
        c.default_model = "fake".into();
        c.batching.max_batch_size = BatchSize::Rows(8);
        c.cache.enabled = false;
    });
    let instances: Vec<Value> = (0..8).map(|i| json!([i as f32, 1.0])).collect();
    let a = post(&app, "/predict", &json!({ "instances": instances })).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let got: Vec<f64> = a.json()["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_f64().unwrap())
        .collect();
    let want: Vec<f64> = (0..8)
        .map(|i| f64::from(FakeModel::expected(i as f32, 1.0)))
        .collect();
    assert_eq!(got, want, "rows answered in order");
    assert_eq!(model.batches(), vec![4, 4], "8 rows over runs of 5: 4 + 4");

    let j = send(&app, get("/v2/models/fake/config")).await.json();
    assert_eq!(j["max_batch_size"], 5);
    assert_eq!(
        j["parameters"]["max_batch_size_engine_limit"]["string_value"],
        "5"
    );
    assert!(app
        .metrics
        .render()
        .contains(r#"inferd_max_batch_size{model="fake",version="1"} 5"#));
}
