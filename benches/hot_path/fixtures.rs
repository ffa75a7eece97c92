//! Inputs and state the hot-path benchmarks share: the bundled models' shapes and
//! reference rows, request bodies, and the handlers' state over the real repository.

use bytes::Bytes;
use inferd::config::{Config, Sources};
use inferd::http::AppState;
use inferd::metrics::Metrics;
use inferd::model::{Signature, TensorSpec};
use inferd::repository::Repository;
use inferd::tensor::{DataType, Tensor};
use serde::Deserialize;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

/// The bundled forecaster (16 features in, 1 forecast out).
pub(crate) const STOCK: &str = "stock-forecaster";

/// The bundled heavy model (512 in, 10 logits out).
pub(crate) const DENSE: &str = "dense-net";

/// A bundled model and the sizes its benchmarks need.
pub(crate) struct Bundled {
    /// Folder name in `models/`.
    pub(crate) name: &'static str,
    /// Features per input row.
    pub(crate) input_len: usize,
    /// Name of the one output.
    pub(crate) output: &'static str,
    /// Values per output row.
    pub(crate) output_len: usize,
}

pub(crate) const MODELS: [Bundled; 2] = [
    Bundled {
        name: STOCK,
        input_len: 16,
        output: "forecast",
        output_len: 1,
    },
    Bundled {
        name: DENSE,
        input_len: 512,
        output: "logits",
        output_len: 10,
    },
];

pub(crate) fn bundled(name: &str) -> &'static Bundled {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .expect("a bundled model")
}

/// The signature as the model file declares it, so decoding needs no engine.
pub(crate) fn signature(model: &Bundled) -> Signature {
    let spec = |name: &str, len: usize| TensorSpec {
        name: name.to_string(),
        dtype: DataType::F32,
        shape: vec![-1, len as i64],
    };
    Signature {
        inputs: vec![spec("input", model.input_len)],
        outputs: vec![spec(model.output, model.output_len)],
    }
}

pub(crate) fn model_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
        .join("1")
}

/// `rows` reference input rows of a bundled model (its reference rows, repeated).
pub(crate) fn reference_rows(name: &str, rows: usize) -> Vec<Vec<f32>> {
    #[derive(Deserialize)]
    struct Reference {
        inputs: Vec<Vec<f32>>,
    }
    let path = model_path(name).join("reference.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reference: Reference = serde_json::from_slice(&text).expect("reference.json");
    reference.inputs.into_iter().cycle().take(rows).collect()
}

pub(crate) fn tensor(rows: &[Vec<f32>]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_f32(vec![rows.len(), rows[0].len()], &flat).expect("a rectangular tensor")
}

/// A V2 binary-extension body and the length of its JSON part.
pub(crate) fn binary_body(values: &[Vec<f32>], input_len: usize) -> (Bytes, usize) {
    let data: Vec<u8> = values
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = json!({"inputs": [{
        "name": "input", "shape": [values.len(), input_len], "datatype": "FP32",
        "parameters": {"binary_data_size": data.len()}
    }]});
    let mut body = serde_json::to_vec(&header).expect("json");
    let json_len = body.len();
    body.extend_from_slice(&data);
    (Bytes::from(body), json_len)
}

pub(crate) fn metrics() -> Metrics {
    Metrics::new(prometheus::Registry::new()).expect("metrics register")
}

/// The handlers' state over the bundled repository, with the default configuration
/// and one inference thread; `None` (and a note) if the repository does not load.
pub(crate) async fn app_state() -> Option<AppState> {
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let repository = repository.display().to_string();
    let sources = Sources {
        flags: vec![
            ("model_repository".into(), repository),
            ("default_model".into(), STOCK.into()),
            ("workers".into(), "1".into()),
        ],
        ..Sources::default()
    };
    let config = Config::load(&sources).expect("config");
    let metrics = metrics();
    match Repository::load(&config, &metrics).await {
        Ok(repo) => Some(inferd::app_state(&config, Arc::new(repo), metrics)),
        Err(e) => {
            eprintln!("skipping infer: the repository does not load: {e}");
            None
        }
    }
}
