//! `inferd score` as users run it: the real binary on a generated Parquet file.
//! Its answers equal the server's for the same rows and onnxruntime's committed
//! references within the README's tolerance (relative 1e-5, absolute floor 1e-6 for
//! the forecaster and 1e-5 for dense-net); each kind of bad input is one sentence
//! on stderr, exit code 1, and no output file.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use common::drift::{training_like_rows, LAGS};
use common::parquet::{feature_columns, read, write, TempDir};
use common::{assert_close_within, reference, repo_path, spawn_inferd, ABS_TOL, DENSE_ABS_TOL};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const STOCK: &str = "stock-forecaster";
const DENSE: &str = "dense-net";

fn lag_names() -> Vec<String> {
    (1..=LAGS).map(|i| format!("lag{i}")).collect()
}

/// Runs `inferd score` on the bundled models with `args`; returns the exit code
/// and stderr.
fn score(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inferd"))
        .arg("score")
        .arg("--model-repository")
        .arg(repo_path("models"))
        .args(args)
        .output()
        .expect("run inferd score");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    (out.status.code().unwrap_or(-1), stderr)
}

/// The summary line names the `"auto"` run size and the timings it was picked
/// from, and the size is one of the sizes timed.
fn assert_runs_chosen_by_auto(stderr: &str) {
    let (_, runs) = stderr
        .split_once("model runs of ")
        .unwrap_or_else(|| panic!("no run size in {stderr:?}"));
    let (rows, rest) = runs.split_once(" rows (auto, timed ").expect(stderr);
    let rows: usize = rows.parse().expect(stderr);
    let timed: Vec<usize> = rest
        .trim_end_matches(')')
        .split(' ')
        .map(|pair| pair.split_once(':').expect(stderr).0.parse().expect(stderr))
        .collect();
    assert_eq!(
        timed.first(),
        Some(&1),
        "the sweep starts at one row: {stderr}"
    );
    assert!(timed.contains(&rows), "{rows} rows was not timed: {stderr}");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// The forecaster's 64 reference rows, then fresh rows of its training process.
fn forecaster_rows(total: usize) -> Vec<Vec<f32>> {
    let mut rows = reference(STOCK).inputs;
    rows.extend(training_like_rows(11, total - rows.len()));
    rows
}

/// An id column, the 16 lags and a text column, as a user's file would have.
fn forecaster_file(dir: &TempDir, rows: &[Vec<f32>]) -> std::path::PathBuf {
    let names = lag_names();
    let mut columns: Vec<(&str, ArrayRef)> = vec![(
        "id",
        Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
    )];
    columns.extend(feature_columns(&names, rows));
    let tickers: Vec<String> = (0..rows.len()).map(|i| format!("T{}", i % 7)).collect();
    columns.push(("ticker", Arc::new(StringArray::from(tickers))));
    let file = dir.0.join("in.parquet");
    write(&file, columns, 700);
    file
}

/// The server's V2 answers for `rows`, as float32.
async fn server_answers(model: &str, rows: &[Vec<f32>]) -> Vec<f32> {
    let (mut child, logs) = spawn_inferd(&[], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut address = None;
    while address.is_none() && Instant::now() < deadline {
        if let Ok(line) = logs.recv_timeout(Duration::from_secs(1)) {
            let log: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if log["fields"]["message"] == "listening" {
                address = log["fields"]["address"].as_str().map(str::to_string);
            }
        }
    }
    let Some(address) = address else {
        let _ = child.kill();
        panic!("inferd did not report listening within 60 s");
    };
    let body = json!({"inputs": [{
        "name": "input",
        "datatype": "FP32",
        "shape": [rows.len(), rows[0].len()],
        "data": rows.concat(),
    }]});
    let answer: Value = reqwest::Client::new()
        .post(format!("http://{address}/v2/models/{model}/infer"))
        .json(&body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON answer");
    let _ = child.kill();
    let _ = child.wait();
    answer["outputs"][0]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no output data: {answer}"))
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn f32_column(batch: &RecordBatch, name: &str) -> Vec<f32> {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<Float32Type>()
        .values()
        .to_vec()
}

/// Numeric columns (the id, features, forecasts) are written without a
/// dictionary, which costs a hash lookup per value and saves nothing on values
/// that rarely repeat; the repetitive `ticker` text keeps its dictionary.
fn assert_numeric_columns_are_plain(file: &Path, names: &[&str]) {
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let group = reader.metadata().row_group(0);
    for (c, name) in names.iter().enumerate() {
        let encodings = group.column(c).encodings().collect::<Vec<_>>();
        let dictionary = encodings
            .iter()
            .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY));
        let numeric = name.starts_with("lag") || *name == "forecast" || *name == "id";
        assert!(
            numeric || *name == "ticker",
            "column {name} is neither numeric nor text"
        );
        assert_eq!(dictionary, !numeric, "column {name}: {encodings:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forecaster_scores_equal_the_server_and_onnxruntime() {
    let dir = TempDir::new("score");
    let rows = forecaster_rows(3000);
    let input = forecaster_file(&dir, &rows);
    let output = dir.0.join("out.parquet");
    let features = lag_names().join(",");
    // Batches of 500 rows: several record batches, each cut into the server's
    // batches of at most 64 rows across threads.
    let (code, stderr) = score(&[
        "--model",
        STOCK,
        "--input",
        path(&input),
        "--output",
        path(&output),
        "--features",
        &features,
        "--batch-rows",
        "500",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("wrote") && stderr.contains("3000 rows"),
        "{stderr}"
    );
    assert_runs_chosen_by_auto(&stderr);
    assert_eq!(
        dir.files(),
        ["in.parquet", "out.parquet"],
        "no temp file left"
    );

    let got = read(&output);
    let source = read(&input);
    let (got_schema, source_schema) = (got.schema(), source.schema());
    let names: Vec<&str> = got_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let mut want_names: Vec<&str> = source_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    want_names.push("forecast");
    assert_eq!(names, want_names);
    for (c, column) in source.columns().iter().enumerate() {
        assert_eq!(
            got.column(c),
            column,
            "input column {} copied as is",
            names[c]
        );
    }
    let forecasts = f32_column(&got, "forecast");
    assert_eq!(forecasts.len(), rows.len());
    assert_numeric_columns_are_plain(&output, &names);

    let r = reference(STOCK);
    for (i, want) in r.outputs.iter().enumerate() {
        let what = format!("forecast of reference row {i}");
        assert_close_within(f64::from(forecasts[i]), f64::from(want[0]), ABS_TOL, &what);
    }
    // Same engine, same rows: the server's answers bit for bit.
    let server = server_answers(STOCK, &rows).await;
    assert_eq!(server.len(), forecasts.len());
    let differ = forecasts
        .iter()
        .zip(&server)
        .position(|(a, b)| a.to_bits() != b.to_bits());
    assert_eq!(differ, None, "score and server differ at row {differ:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dense_net_writes_one_column_per_logit_equal_to_the_server_and_onnxruntime() {
    let dir = TempDir::new("score-dense");
    let r = reference(DENSE);
    let names: Vec<String> = (0..512).map(|i| format!("x{i}")).collect();
    let input = dir.0.join("dense.parquet");
    write(&input, feature_columns(&names, &r.inputs), 3);
    let output = dir.0.join("scored.parquet");
    // Default features: every numeric column, in order.
    let (code, stderr) = score(&[
        "--model",
        DENSE,
        "--input",
        path(&input),
        "--output",
        path(&output),
        "--batch-rows",
        "5",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let got = read(&output);
    assert_eq!(got.num_columns(), 512 + 10);
    let logits: Vec<Vec<f32>> = (0..10)
        .map(|i| f32_column(&got, &format!("logits_{i}")))
        .collect();
    let server = server_answers(DENSE, &r.inputs).await;
    for (row, want) in r.outputs.iter().enumerate() {
        for (i, w) in want.iter().enumerate() {
            let value = logits[i][row];
            let what = format!("logit {i} of reference row {row}");
            assert_close_within(f64::from(value), f64::from(*w), DENSE_ABS_TOL, &what);
            assert_eq!(
                value.to_bits(),
                server[row * 10 + i].to_bits(),
                "{what}: server"
            );
        }
    }
}

#[test]
fn string_labels_become_a_text_column() {
    // A classifier with string class labels (the zoo's logreg-string-labels),
    // served from a repository of its own.
    let dir = TempDir::new("score-labels");
    let zoo = repo_path("tests/zoo/logreg-string-labels");
    let version = dir.0.join("models/labels/1");
    std::fs::create_dir_all(&version).unwrap();
    // A configured batch size is used as it is, in runs no larger than it.
    std::fs::write(
        dir.0.join("models/labels/model.toml"),
        "[batching]\nmax_batch_size = 4\n",
    )
    .unwrap();
    std::fs::copy(zoo.join("model.onnx"), version.join("model.onnx")).unwrap();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(zoo.join("reference.json")).unwrap())
            .unwrap();
    let data = |part: &str, i: usize| doc[part][i]["data"].as_array().unwrap().clone();
    let rows: Vec<Vec<f32>> = data("inputs", 0)
        .chunks(6)
        .map(|r| r.iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect();
    let names: Vec<String> = (0..6).map(|i| format!("x{i}")).collect();
    let input = dir.0.join("in.parquet");
    write(&input, feature_columns(&names, &rows), 10);
    let output = dir.0.join("out.parquet");
    let out = Command::new(env!("CARGO_BIN_EXE_inferd"))
        .args(["score", "--model-repository", path(&dir.0.join("models"))])
        .args([
            "--model",
            "labels",
            "--input",
            path(&input),
            "--output",
            path(&output),
        ])
        .output()
        .expect("run inferd score");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("model runs of 4 rows (configured)"),
        "{stderr}"
    );
    let got = read(&output);
    let labels: Vec<&str> = got
        .column_by_name("label")
        .expect("a label column")
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    let want: Vec<&str> = doc["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(labels, want, "labels exactly as onnxruntime's");
    let probabilities = data("outputs", 1);
    for (i, want) in probabilities.iter().enumerate() {
        let got = f32_column(&got, &format!("probabilities_{}", i % 4))[i / 4];
        let what = format!("probability {} of row {}", i % 4, i / 4);
        assert_close_within(f64::from(got), want.as_f64().unwrap(), ABS_TOL, &what);
    }
}

/// Runs `inferd score` on `columns` and checks the refusal: exit 1, one line
/// holding `sentence`, and no file written beside the input.
fn assert_refused(columns: Vec<(&str, ArrayRef)>, extra: &[&str], sentence: &str) {
    let dir = TempDir::new("score-bad");
    let input = dir.0.join("in.parquet");
    write(&input, columns, 1000);
    let output = dir.0.join("out.parquet");
    let mut args = vec!["--input", path(&input), "--output", path(&output)];
    if !extra.contains(&"--model") {
        args.extend(["--model", STOCK]);
    }
    args.extend(extra);
    let (code, stderr) = score(&args);
    assert_eq!(code, 1, "exit code; stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(sentence),
        "{stderr:?} should say {sentence:?}"
    );
    assert_eq!(dir.files(), ["in.parquet"], "no output or temp file");
}

fn good_columns(names: &[String], rows: usize) -> Vec<(&str, ArrayRef)> {
    feature_columns(names, &training_like_rows(3, rows))
}

#[test]
fn refuses_a_missing_column() {
    let names = lag_names();
    let mut asked = names.clone();
    asked[15] = "lag17".into();
    let features = asked.join(",");
    assert_refused(
        good_columns(&names, 50),
        &["--features", &features],
        "has no column `lag17` (its columns: lag1, lag2,",
    );
}

#[test]
fn refuses_a_null() {
    let names = lag_names();
    let mut columns = good_columns(&names, 2500);
    let mut with_null: Vec<Option<f32>> = (0..2500).map(|i| Some(i as f32)).collect();
    with_null[2100] = None;
    columns[4].1 = Arc::new(Float32Array::from(with_null));
    // The null is in the second record batch, so the sentence names its file row.
    assert_refused(
        columns,
        &["--batch-rows", "1024"],
        "row 2101, column `lag5` is null: every feature value must be present",
    );
}

#[test]
fn refuses_a_non_numeric_feature_column() {
    let names = lag_names();
    let mut columns = good_columns(&names, 50);
    let words: Vec<String> = (0..50).map(|i| format!("up{i}")).collect();
    columns[2].1 = Arc::new(StringArray::from(words));
    let features = names.join(",");
    assert_refused(
        columns,
        &["--features", &features],
        "column `lag3` is not numeric: it holds Utf8",
    );
}

#[test]
fn refuses_a_wrong_width() {
    let names = lag_names();
    let columns = good_columns(&names[..15], 50);
    assert_refused(
        columns,
        &[],
        "has 15 feature columns (lag1, lag2, lag3, lag4, lag5, lag6, lag7, lag8, lag9, lag10, lag11, lag12, lag13, lag14, lag15) but model `stock-forecaster` takes 16 input features",
    );
}

#[test]
fn refuses_an_unknown_model() {
    let names = lag_names();
    assert_refused(
        good_columns(&names, 10),
        &["--model", "no-such-model"],
        "model `no-such-model` is not in the model repository",
    );
}

#[test]
fn refuses_nan_as_the_server_does() {
    let names = lag_names();
    let mut columns = good_columns(&names, 40);
    let mut values: Vec<f32> = (0..40).map(|i| i as f32).collect();
    values[7] = f32::NAN;
    columns[0].1 = Arc::new(Float32Array::from(values));
    assert_refused(
        columns,
        &[],
        "row 8, column `lag1` is NaN or infinite, which model `stock-forecaster` refuses",
    );
}

#[test]
fn help_documents_every_flag_and_lists_the_subcommands() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_inferd"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = help(&["--help"]);
    for sub in ["score", "baseline", "healthcheck"] {
        assert!(
            top.contains(&format!("  {sub} ")),
            "{sub} missing from:\n{top}"
        );
    }
    let score = help(&["score", "--help"]);
    for flag in [
        "--model-repository <DIR>",
        "--model <M>",
        "--version <V>",
        "--input <IN.parquet>",
        "--output <OUT.parquet>",
        "--features <a,b,...>",
        "--batch-rows <N>",
    ] {
        assert!(score.contains(flag), "{flag} missing from:\n{score}");
    }
}
