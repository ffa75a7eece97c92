//! Per-row cost of each ONNX-ML operator family: one zoo model per family
//! (tests/zoo/, made by scripts/make_zoo.py), `ROWS` rows per run through
//! `Model::predict`. `scripts/zoo_bench.sh` runs this group and onnxruntime on
//! the same models and batch size (scripts/zoo_ort_timing.py) in one go and
//! prints the ratios.

use criterion::{BenchmarkId, Criterion, Throughput};
use inferd::model::onnx::OnnxModel;
use inferd::model::Model;
use inferd::tensor::{DataType, Tensor};
use serde_json::Value;
use std::hint::black_box;
use std::path::{Path, PathBuf};

/// Rows per run (the zoo's 24 reference rows, repeated).
pub(crate) const ROWS: usize = 64;

/// (family, zoo model) pairs measured.
pub(crate) const FAMILIES: &[(&str, &str)] = &[
    ("tree_classifier", "random-forest-multi"),
    ("tree_classifier_boosted", "gradient-boosting-multi"),
    ("tree_classifier_xgboost", "xgboost-multi"),
    ("tree_classifier_lightgbm", "lightgbm-multi"),
    ("tree_regressor", "random-forest-regressor"),
    ("linear_classifier", "logreg-multi"),
    ("linear_regressor", "linear-regression"),
    ("svm_classifier", "svc-rbf-multi"),
    ("svm_regressor", "svr-rbf"),
    ("imputer_scaler", "imputer-scaler-logreg"),
    ("binarizer", "op-binarizer"),
    ("normalizer", "op-normalizer-l2"),
    ("one_hot_encoder", "onehot-int-logreg"),
    ("one_hot_encoder_strings", "onehot-string-logreg"),
    ("label_encoder", "op-label-encoder-int"),
    ("mlp", "mlp-multi"),
];

/// The model's inputs, its reference rows repeated to `rows` rows.
fn inputs(dir: &Path, rows: usize) -> Vec<Tensor> {
    let text = std::fs::read_to_string(dir.join("reference.json")).expect("reference.json");
    let doc: Value = serde_json::from_str(&text).expect("reference JSON");
    doc["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|t| {
            let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).expect("shape");
            let per_row: usize = shape[1..].iter().product();
            let data = t["data"].as_array().expect("data");
            let values = (0..rows * per_row).map(|i| &data[i % data.len()]);
            let mut shape = shape;
            shape[0] = rows;
            if t["datatype"] == "BYTES" {
                let strings: Vec<&str> = values.map(|v| v.as_str().expect("a string")).collect();
                return Tensor::from_strings(shape, &strings).expect("tensor");
            }
            let (dtype, bytes): (DataType, Vec<u8>) = match t["datatype"].as_str() {
                Some("INT64") => (
                    DataType::I64,
                    values
                        .flat_map(|v| v.as_i64().unwrap_or(0).to_le_bytes())
                        .collect(),
                ),
                _ => (
                    DataType::F32,
                    values
                        .flat_map(|v| (v.as_f64().unwrap_or(f64::NAN) as f32).to_le_bytes())
                        .collect(),
                ),
            };
            Tensor::new(dtype, shape, bytes.into()).expect("tensor")
        })
        .collect()
}

/// `zoo/<family>/<ROWS>`: one model run; throughput in rows.
pub(crate) fn zoo(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/zoo");
    let mut g = c.benchmark_group("zoo");
    for (family, name) in FAMILIES {
        let dir = root.join(name);
        let model = match OnnxModel::load(&dir.join("model.onnx")) {
            Ok(model) => model,
            Err(e) => {
                eprintln!("skipping zoo/{family}: {name} does not load: {e}");
                continue;
            }
        };
        let input = inputs(&dir, ROWS);
        g.throughput(Throughput::Elements(ROWS as u64));
        g.bench_function(BenchmarkId::new(*family, ROWS), |b| {
            b.iter(|| black_box(model.predict(input.clone()).expect("predict")))
        });
    }
    g.finish();
}
