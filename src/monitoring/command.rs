//! `inferd baseline`: runs a model version on its training data and writes
//! `baseline.json` beside it, the reference the server measures drift against.

use super::baseline::{Baseline, FeatureBaseline};
use super::columns::{columns, Column};
use super::csv::{self, Table};
use super::BASELINE_FILE;
use crate::config::model::ModelToml;
use crate::model::onnx::OnnxModel;
use crate::model::Model;
use crate::tensor::{DataType, Tensor};
use bytes::Bytes;
use clap::Parser;
use std::path::{Path, PathBuf};

/// Rows per model run while computing the outputs' baseline.
const CHUNK_ROWS: usize = 4096;

/// Make `baseline.json` for a model version from its training data.
#[derive(Parser, Debug)]
#[command(name = "inferd baseline", bin_name = "inferd baseline")]
pub struct BaselineArgs {
    /// Folder of models: <model>/<version>/model.onnx.
    #[arg(long)]
    pub model_repository: PathBuf,
    /// Model name (its folder).
    #[arg(long)]
    pub model: String,
    /// Version number; default the newest.
    #[arg(long)]
    pub version: Option<u64>,
    /// Training data: CSV with a header line, one column per input feature.
    #[arg(long)]
    pub data: PathBuf,
}

/// Runs the subcommand on `args` (the first being the subcommand's name) and
/// returns the process's exit code: 0 written, 1 refused, 2 bad arguments.
pub fn main(args: impl IntoIterator<Item = String>) -> i32 {
    let args = match BaselineArgs::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(&args) {
        Ok(path) => {
            eprintln!("inferd baseline: wrote {}", path.display());
            0
        }
        Err(message) => {
            eprintln!("inferd baseline: {message}");
            1
        }
    }
}

/// Makes and writes the baseline; returns the file written.
pub fn run(args: &BaselineArgs) -> Result<PathBuf, String> {
    let model_dir = args.model_repository.join(&args.model);
    let version = match args.version {
        Some(v) => v,
        None => newest_version(&model_dir)?,
    };
    let version_dir = model_dir.join(version.to_string());
    let toml_path = model_dir.join("model.toml");
    let toml = match std::fs::read_to_string(&toml_path) {
        Ok(text) => ModelToml::parse(&text, &toml_path.display().to_string())?,
        Err(_) => ModelToml::default(),
    };
    let model = OnnxModel::load(&version_dir.join("model.onnx"))?;
    let file = args.data.display().to_string();
    let text =
        std::fs::read_to_string(&args.data).map_err(|e| format!("cannot read {file}: {e}"))?;
    let table = csv::parse(&text, &file)?;
    let baseline = make(
        &args.model,
        version,
        &model,
        toml.feature_names.as_deref(),
        &table,
        &file,
    )?;
    let path = version_dir.join(BASELINE_FILE);
    std::fs::write(&path, baseline.to_json())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn newest_version(model_dir: &Path) -> Result<u64, String> {
    let entries = std::fs::read_dir(model_dir)
        .map_err(|e| format!("cannot read model folder {}: {e}", model_dir.display()))?;
    entries
        .flatten()
        .filter(|e| e.path().join("model.onnx").is_file())
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .ok_or_else(|| format!("{} has no <version>/model.onnx", model_dir.display()))
}

/// The baseline of `model` on `table`: its input columns as given, its output
/// columns as the model answers them.
pub(crate) fn make(
    name: &str,
    version: u64,
    model: &dyn Model,
    feature_names: Option<&[String]>,
    table: &Table,
    file: &str,
) -> Result<Baseline, String> {
    let columns = columns(model.signature(), feature_names)?;
    let inputs: Vec<&Column> = columns.iter().filter(|c| !c.is_output()).collect();
    if table.names.len() != inputs.len() {
        return Err(format!(
            "{file} has {} columns but model `{name}` takes {} input features",
            table.names.len(),
            inputs.len()
        ));
    }
    if let Some(names) = feature_names.filter(|n| *n != table.names.as_slice()) {
        return Err(format!(
            "{file}'s header {:?} differs from model.toml's feature_names {names:?}",
            table.names
        ));
    }
    let outputs = predict(model, table)?;
    let mut features: Vec<FeatureBaseline> = inputs
        .iter()
        .zip(&table.columns)
        .map(|(c, values)| FeatureBaseline::from_values(c.name.clone(), values))
        .collect();
    for column in columns.iter().filter(|c| c.is_output()) {
        let values: Vec<f64> = (0..table.rows())
            .filter_map(|row| column.value(&[], &outputs, row))
            .filter(|v| v.is_finite())
            .collect();
        if values.len() != table.rows() {
            return Err(format!(
                "model `{name}` answered non-finite values for `{}`",
                column.name
            ));
        }
        features.push(FeatureBaseline::from_values(column.name.clone(), &values));
    }
    Ok(Baseline {
        model: name.into(),
        version,
        rows: table.rows(),
        features,
    })
}

/// Runs the model on every row, a chunk at a time, and stacks each output.
fn predict(model: &dyn Model, table: &Table) -> Result<Vec<Tensor>, String> {
    let spec = &model.signature().inputs[0];
    let width = table.columns.len();
    let mut parts: Vec<Vec<Tensor>> = Vec::new();
    for start in (0..table.rows()).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(table.rows());
        let values = (start..end).flat_map(|r| table.columns.iter().map(move |c| c[r]));
        let data: Vec<u8> = match spec.dtype {
            DataType::F32 => values.flat_map(|v| (v as f32).to_le_bytes()).collect(),
            DataType::F64 => values.flat_map(f64::to_le_bytes).collect(),
            other => {
                return Err(format!(
                    "input `{}` is {other}: baselines support FP32 and FP64 inputs",
                    spec.name
                ))
            }
        };
        let shape = if spec.shape.len() == 1 {
            vec![end - start]
        } else {
            vec![end - start, width]
        };
        let input = Tensor::new(spec.dtype, shape, Bytes::from(data))?;
        parts.push(
            model
                .predict(vec![input])
                .map_err(|e| format!("the model failed: {e}"))?,
        );
    }
    let outputs = model.signature().outputs.len();
    Ok((0..outputs)
        .map(|o| Tensor::concat_rows(&parts.iter().map(|p| p[o].clone()).collect::<Vec<_>>()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Behaviour, FakeModel};

    fn table(text: &str) -> Table {
        csv::parse(text, "t.csv").unwrap()
    }

    #[test]
    fn bins_inputs_and_the_model_answers() {
        // The fake answers y = x0 + 10 * x1.
        let rows: String = (0..100).map(|i| format!("{i},1\n")).collect();
        let model = FakeModel::new(Behaviour::Answer);
        let b = make(
            "m",
            2,
            &model,
            None,
            &table(&format!("a,b\n{rows}")),
            "t.csv",
        )
        .unwrap();
        let names: Vec<&str> = b.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["f0", "f1", "out:y"]);
        assert_eq!((b.rows, b.version), (100, 2));
        assert!(
            (b.features[2].edges[0] - (9.9 + 10.0)).abs() < 1e-9,
            "{:?}",
            b.features[2]
        );
        assert_eq!(b.features[2].shares, [0.1; 10]);
    }

    #[test]
    fn refuses_a_wrong_width_and_a_header_that_is_not_feature_names() {
        let model = FakeModel::new(Behaviour::Answer);
        let narrow = make("m", 1, &model, None, &table("a\n1\n"), "t.csv").unwrap_err();
        assert_eq!(
            narrow,
            "t.csv has 1 columns but model `m` takes 2 input features"
        );
        let names = ["x".to_string(), "y".to_string()];
        let swapped = make("m", 1, &model, Some(&names), &table("y,x\n1,2\n"), "t.csv");
        assert!(swapped
            .unwrap_err()
            .contains("differs from model.toml's feature_names"));
    }
}
