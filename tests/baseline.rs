//! `inferd baseline` as users run it: the real binary on the bundled forecaster.
//! Good data writes a baseline the server accepts; each kind of bad data is one
//! sentence on stderr, exit code 1, and the existing baseline.json untouched. Each
//! case runs on CSV and on Parquet training data.

mod common;

use arrow_array::{ArrayRef, Float32Array, StringArray};
use common::drift::{training_like_rows, ForecasterRepo, LAGS};
use inferd::monitoring::baseline::Baseline;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const MODEL: &str = "stock-forecaster";

fn header() -> String {
    (1..=LAGS)
        .map(|i| format!("lag{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv(rows: &[Vec<f32>]) -> String {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.iter().map(f32::to_string).collect::<Vec<_>>().join(","))
        .collect();
    format!("{}\n{}\n", header(), lines.join("\n"))
}

/// Runs `inferd baseline` on `data` (written to the repo's folder); returns the
/// exit code and stderr.
fn baseline(repo: &ForecasterRepo, data: &str) -> (i32, String) {
    let file = repo.0.join("train.csv");
    std::fs::write(&file, data).unwrap();
    run_baseline(repo, &file)
}

/// As `baseline`, on a Parquet file of `columns`.
fn baseline_parquet(repo: &ForecasterRepo, columns: Vec<(&str, ArrayRef)>) -> (i32, String) {
    let file = repo.0.join("train.parquet");
    common::parquet::write(&file, columns, 256);
    run_baseline(repo, &file)
}

fn lag_names() -> Vec<String> {
    (1..=LAGS).map(|i| format!("lag{i}")).collect()
}

fn run_baseline(repo: &ForecasterRepo, file: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inferd"))
        .args(["baseline", "--model-repository"])
        .arg(&repo.0)
        .args(["--model", MODEL, "--data"])
        .arg(file)
        .output()
        .expect("run inferd baseline");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    (out.status.code().unwrap_or(-1), stderr)
}

fn baseline_path(repo: &ForecasterRepo) -> PathBuf {
    repo.0.join(MODEL).join("1").join("baseline.json")
}

fn read(path: &Path) -> Baseline {
    Baseline::read(path).unwrap().expect("a baseline file")
}

#[test]
fn writes_deciles_of_inputs_and_forecasts() {
    let repo = ForecasterRepo::new(&[MODEL]);
    let rows = training_like_rows(3, 1000);
    let (code, stderr) = baseline(&repo, &csv(&rows));
    assert_eq!(code, 0, "{stderr}");
    let b = read(&baseline_path(&repo));
    assert_eq!((b.model.as_str(), b.version, b.rows), (MODEL, 1, 1000));
    let names: Vec<&str> = b.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.len(), LAGS + 1);
    assert_eq!(
        (names[0], names[15], names[16]),
        ("lag1", "lag16", "out:forecast")
    );
    // Deciles of 1000 distinct values put 100 rows in each bin.
    for f in &b.features[..LAGS] {
        assert_eq!(f.shares, [0.1; 10], "{}", f.name);
    }
    // The CSV holds each value's shortest decimal text, parsed as f64.
    let mut lag1: Vec<f64> = rows
        .iter()
        .map(|r| r[0].to_string().parse().unwrap())
        .collect();
    lag1.sort_by(f64::total_cmp);
    // numpy.quantile's interpolation at 0.5: halfway between rows 499 and 500.
    assert!((b.features[0].edges[4] - (lag1[499] + lag1[500]) / 2.0).abs() < 1e-12);
}

fn assert_refused(data: &str, sentence: &str) {
    assert_refused_by(|repo| baseline(repo, data), sentence)
}

fn assert_refused_parquet(columns: Vec<(&str, ArrayRef)>, sentence: &str) {
    assert_refused_by(|repo| baseline_parquet(repo, columns), sentence)
}

fn assert_refused_by(run: impl FnOnce(&ForecasterRepo) -> (i32, String), sentence: &str) {
    let repo = ForecasterRepo::new(&[MODEL]);
    let before = std::fs::read(baseline_path(&repo)).unwrap();
    let (code, stderr) = run(&repo);
    assert_eq!(code, 1, "exit code; stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(sentence),
        "{stderr:?} should say {sentence:?}"
    );
    assert_eq!(
        std::fs::read(baseline_path(&repo)).unwrap(),
        before,
        "untouched"
    );
}

/// `data` with the cell at (0-based) file line `line`, column `col` replaced.
fn with_cell(data: &str, line: usize, col: usize, cell: &str) -> String {
    let mut lines: Vec<String> = data.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[line].split(',').collect();
    cells[col] = cell;
    let changed = cells.join(",");
    lines[line] = changed;
    lines.join("\n")
}

#[test]
fn refuses_a_null_cell() {
    let data = with_cell(&csv(&training_like_rows(4, 20)), 2, 0, "");
    assert_refused(
        &data,
        "line 3, column `lag1` is empty or null: training data must be complete",
    );
}

#[test]
fn refuses_a_wrong_column_count() {
    let narrow: Vec<Vec<f32>> = training_like_rows(5, 20)
        .into_iter()
        .map(|r| r[..LAGS - 1].to_vec())
        .collect();
    let data = csv(&narrow).replacen(",lag16", "", 1);
    assert_refused(
        &data,
        "has 15 columns but model `stock-forecaster` takes 16 input features",
    );
}

#[test]
fn refuses_a_non_numeric_column() {
    let data = with_cell(&csv(&training_like_rows(6, 20)), 5, 3, "up");
    assert_refused(&data, "column `lag4` is not numeric: line 6 has `up`");
}

#[test]
fn writes_deciles_from_parquet_training_data() {
    let repo = ForecasterRepo::new(&[MODEL]);
    let rows = training_like_rows(3, 1000);
    let names = lag_names();
    let (code, stderr) = baseline_parquet(&repo, common::parquet::feature_columns(&names, &rows));
    assert_eq!(code, 0, "{stderr}");
    let b = read(&baseline_path(&repo));
    assert_eq!((b.model.as_str(), b.version, b.rows), (MODEL, 1, 1000));
    assert_eq!(b.features.len(), LAGS + 1);
    assert_eq!(b.features[LAGS].name, "out:forecast");
    for f in &b.features[..LAGS] {
        assert_eq!(f.shares, [0.1; 10], "{}", f.name);
    }
    // Parquet keeps the float32 values themselves.
    let mut lag2: Vec<f64> = rows.iter().map(|r| f64::from(r[1])).collect();
    lag2.sort_by(f64::total_cmp);
    assert_eq!(b.features[1].edges[4], (lag2[499] + lag2[500]) / 2.0);
}

#[test]
fn refuses_a_null_in_parquet() {
    let names = lag_names();
    let mut columns = common::parquet::feature_columns(&names, &training_like_rows(4, 20));
    let mut values: Vec<Option<f32>> = (0..20).map(|i| Some(i as f32)).collect();
    values[2] = None;
    columns[0].1 = Arc::new(Float32Array::from(values));
    assert_refused_parquet(
        columns,
        "row 3, column `lag1` is null: every feature value must be present",
    );
}

#[test]
fn refuses_a_wrong_column_count_in_parquet() {
    let names = lag_names();
    let columns = common::parquet::feature_columns(&names[..15], &training_like_rows(5, 20));
    assert_refused_parquet(
        columns,
        "has 15 columns but model `stock-forecaster` takes 16 input features",
    );
}

#[test]
fn refuses_a_non_numeric_column_in_parquet() {
    let names = lag_names();
    let mut columns = common::parquet::feature_columns(&names, &training_like_rows(6, 20));
    let words: Vec<&str> = (0..20).map(|i| if i == 5 { "up" } else { "1" }).collect();
    columns[3].1 = Arc::new(StringArray::from(words));
    assert_refused_parquet(columns, "column `lag4` is not numeric: it holds Utf8");
}
