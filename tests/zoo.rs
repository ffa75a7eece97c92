//! Every model of the zoo (tests/zoo/, made by scripts/make_zoo.py) through the
//! V2 binary path in process, against onnxruntime's outputs: labels and other
//! integers exactly, floats within 1e-5 relative or the model's stated
//! absolute floor (`abs_tol`, where float sums run in another order). Models
//! whose status is "refused" must fail at load, naming why. Requests are larger
//! than `max_batch_size`, so every answer is also joined from several runs. The README's
//! "Supported models" table must list every zoo model with its status.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{send, TestApp};
use inferd::config::model::ModelToml;
use inferd::config::{BatchSize, Config};
use inferd::metrics::Metrics;
use inferd::model::onnx::OnnxModel;
use inferd::repository::Repository;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const REL_TOL: f64 = 1e-5;

#[derive(Deserialize)]
struct Reference {
    estimator: String,
    status: String,
    abs_tol: f64,
    #[serde(default)]
    refusal: Option<String>,
    inputs: Vec<Named>,
    outputs: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
    datatype: String,
    shape: Vec<usize>,
    data: Vec<Value>,
}

fn zoo() -> Vec<(String, PathBuf, Reference)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/zoo");
    let mut models: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/zoo")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("model.onnx").is_file())
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
            let reference: Reference = serde_json::from_str(&text).unwrap();
            (name, dir.join("model.onnx"), reference)
        })
        .collect();
    models.sort_by(|a, b| a.0.cmp(&b.0));
    models
}

/// Little-endian bytes of a reference tensor (JSON `null` is NaN).
fn bytes(t: &Named) -> Vec<u8> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let i = |v: &Value| v.as_i64().expect("an integer");
    match t.datatype.as_str() {
        "FP32" => t
            .data
            .iter()
            .flat_map(|v| (f(v) as f32).to_le_bytes())
            .collect(),
        "FP64" => t.data.iter().flat_map(|v| f(v).to_le_bytes()).collect(),
        "INT64" => t.data.iter().flat_map(|v| i(v).to_le_bytes()).collect(),
        "INT32" => t
            .data
            .iter()
            .flat_map(|v| (i(v) as i32).to_le_bytes())
            .collect(),
        // V2's binary BYTES: each string's length (4 bytes, little-endian), then it.
        "BYTES" => t
            .data
            .iter()
            .flat_map(|v| {
                let s = v.as_str().expect("a string");
                let len = u32::try_from(s.len()).unwrap().to_le_bytes();
                len.into_iter().chain(s.bytes()).collect::<Vec<u8>>()
            })
            .collect(),
        other => panic!("{}: no binary form for {other} in this test", t.name),
    }
}

/// Batches of at most 7 rows, so every 24-row request is split into four runs
/// (fixed-dimension models run whole, whatever their row count).
fn app_for(name: &str, path: &Path) -> Result<TestApp, String> {
    let mut config = Config::default();
    config.batching.max_batch_size = BatchSize::Rows(7);
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let model = OnnxModel::load(path).map_err(|e| format!("{name} fails to load: {e}"))?;
    let toml = ModelToml {
        allow_nan: Some(true),
        workers: Some(1),
        ..Default::default()
    };
    let mut repo = Repository::default();
    repo.insert(
        name,
        1,
        Arc::new(model),
        toml.resolve(&config).unwrap(),
        &metrics,
    );
    let state = inferd::app_state(&config, Arc::new(repo), metrics.clone());
    Ok(TestApp {
        router: inferd::http::router(state.clone()),
        state,
        metrics,
    })
}

/// One V2 binary request with every input, asking for every output in binary.
fn request(name: &str, r: &Reference) -> Request<Body> {
    let mut tail = Vec::new();
    let inputs: Vec<Value> = r
        .inputs
        .iter()
        .map(|t| {
            let b = bytes(t);
            tail.extend_from_slice(&b);
            json!({ "name": t.name, "shape": t.shape, "datatype": t.datatype,
                    "parameters": { "binary_data_size": b.len() } })
        })
        .collect();
    let outputs: Vec<Value> = r
        .outputs
        .iter()
        .map(|t| json!({ "name": t.name, "parameters": { "binary_data": true } }))
        .collect();
    let header = json!({ "inputs": inputs, "outputs": outputs }).to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&tail);
    Request::post(format!("/v2/models/{name}/infer"))
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len())
        .body(Body::from(body))
        .unwrap()
}

/// `Err(message)` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($msg)+));
        }
    };
}

/// Compares one binary output with the reference; returns the largest error.
fn compare(
    model: &str,
    want: &Named,
    head: &Value,
    data: &[u8],
    abs_tol: f64,
) -> Result<f64, String> {
    let what = format!("{model}/{}", want.name);
    ensure!(
        head["datatype"] == want.datatype.as_str(),
        "{what}: datatype {}",
        head["datatype"]
    );
    ensure!(
        head["shape"] == json!(want.shape),
        "{what}: shape {} , onnxruntime {:?}",
        head["shape"],
        want.shape
    );
    let mut worst = 0f64;
    match want.datatype.as_str() {
        "INT64" => {
            let got: Vec<i64> = data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            let expected: Vec<i64> = want.data.iter().map(|v| v.as_i64().unwrap()).collect();
            ensure!(
                got == expected,
                "{what}: integers must be exact: got {got:?}, onnxruntime {expected:?}"
            );
        }
        "BYTES" => {
            let mut got = Vec::new();
            let mut rest = data;
            while rest.len() >= 4 {
                let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
                ensure!(rest.len() >= 4 + len, "{what}: a string runs past the data");
                got.push(String::from_utf8_lossy(&rest[4..4 + len]).into_owned());
                rest = &rest[4 + len..];
            }
            let expected: Vec<&str> = want.data.iter().map(|v| v.as_str().unwrap()).collect();
            ensure!(
                rest.is_empty() && got == expected,
                "{what}: strings must be exact: got {got:?}, onnxruntime {expected:?}"
            );
        }
        "FP32" => {
            for (i, (c, w)) in data.chunks_exact(4).zip(&want.data).enumerate() {
                let got = f64::from(f32::from_le_bytes(c.try_into().unwrap()));
                let w = w.as_f64().unwrap_or(f64::NAN);
                if w.is_nan() {
                    ensure!(got.is_nan(), "{what}[{i}]: got {got}, onnxruntime NaN");
                    continue;
                }
                let err = (got - w).abs();
                worst = worst.max(err);
                ensure!(
                    err <= abs_tol.max(REL_TOL * w.abs()),
                    "{what}[{i}]: got {got}, onnxruntime {w} (error {err:e}, floor {abs_tol:e})"
                );
            }
        }
        other => return Err(format!("{what}: unexpected datatype {other}")),
    }
    Ok(worst)
}

async fn check_exact(name: &str, path: &Path, r: &Reference) -> Result<(), String> {
    let app = app_for(name, path)?;
    let answer = send(&app, request(name, r)).await;
    ensure!(
        answer.status == 200,
        "{name}: {} {:?}",
        answer.status,
        answer.body
    );
    let json_len: usize = answer
        .header("inference-header-content-length")
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&answer.body[..json_len]).unwrap();
    let mut at = json_len;
    let mut worst = 0f64;
    for want in &r.outputs {
        let out = head["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == want.name.as_str())
            .ok_or_else(|| format!("{name}: no output {}", want.name))?;
        let size = out["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
        let data = &answer.body[at..at + size];
        at += size;
        worst = worst.max(compare(name, want, out, data, r.abs_tol)?);
    }
    ensure!(at == answer.body.len(), "{name}: trailing bytes");
    eprintln!("{name} ({}): max abs error {worst:e}", r.estimator);
    Ok(())
}

fn check_refused(name: &str, path: &Path, r: &Reference) -> Result<(), String> {
    let err = match OnnxModel::load(path) {
        Ok(_) => return Err(format!("{name} loads, but the zoo says it is refused")),
        Err(e) => e,
    };
    let needle = r.refusal.as_deref().unwrap_or("not supported");
    ensure!(
        err.contains(needle),
        "{name}: {err:?} should mention {needle:?}"
    );
    eprintln!("{name}: refused at load: {err}");
    Ok(())
}

#[tokio::test]
async fn every_zoo_model_matches_onnxruntime_or_is_refused_by_name() {
    let models = zoo();
    assert!(models.len() >= 35, "the zoo has {} models", models.len());
    let mut failures = Vec::new();
    for (name, path, reference) in &models {
        let result = match reference.status.as_str() {
            "exact" => check_exact(name, path, reference).await,
            "refused" => check_refused(name, path, reference),
            other => Err(format!("{name}: unknown status {other}")),
        };
        failures.extend(result.err());
    }
    assert!(
        failures.is_empty(),
        "{} zoo models fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_readme_lists_every_zoo_model_with_its_status() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Supported models")
        .nth(1)
        .expect("README has a Supported models section");
    let section = section.split("\n## ").next().unwrap();
    for (name, _, reference) in zoo() {
        let row = section
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{name}`")))
            .unwrap_or_else(|| panic!("README's Supported models table has no row for `{name}`"));
        assert!(
            row.contains(&reference.status),
            "README row for `{name}` should say {}: {row}",
            reference.status
        );
    }
}
