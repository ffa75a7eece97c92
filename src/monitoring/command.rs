//! `inferd baseline`: runs a model version on its training data and writes
//! `baseline.json` beside it, the reference the server measures drift against.

use super::baseline::{Baseline, FeatureBaseline};
use super::columns::{columns, Column};
use super::csv::{self, Table};
use super::BASELINE_FILE;
use crate::model::local::ModelArgs;
use crate::model::Model;
use crate::tensor::{DataType, Tensor};
use bytes::Bytes;
use std::path::PathBuf;

/// Rows per model run while computing the outputs' baseline.
const CHUNK_ROWS: usize = 4096;

/// Make `baseline.json` for a model version from its training data.
/// Exit code 0 written, 1 refused (one sentence on stderr, baseline.json
/// untouched), 2 bad arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct BaselineArgs {
    /// The model version to run.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Training data, one column per input feature, every value a finite number:
    /// CSV with a header line, or Parquet (told apart by the file's first bytes).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
}

/// Runs the subcommand and returns the process's exit code.
pub fn main(args: &BaselineArgs) -> i32 {
    match run(args) {
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
    let local = args.model.load()?;
    let file = args.data.display().to_string();
    let table = if super::parquet::is_parquet(&args.data) {
        super::parquet::read(&args.data, &file)?
    } else {
        let text =
            std::fs::read_to_string(&args.data).map_err(|e| format!("cannot read {file}: {e}"))?;
        csv::parse(&text, &file)?
    };
    let baseline = make(
        &local.name,
        local.version,
        &local.model,
        local.settings.feature_names.as_deref(),
        &table,
        &file,
    )?;
    let path = local.dir.join(BASELINE_FILE);
    std::fs::write(&path, baseline.to_json())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
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
