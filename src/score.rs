//! `inferd score`: Parquet in, the model on every row, Parquet out (README "Batch
//! scoring").
//!
//! A pipeline hands record batches along bounded channels and queues, so at most
//! five batches are in memory whatever the file's size (one being decoded, one
//! waiting for room in the queue, and up to three queued, in the model or being
//! written):
//! - [`input`] decodes the next batch and copies its feature columns into the
//!   model's row-major input (one thread);
//! - [`predict`] queues each batch's rows in chunks no larger than the server's
//!   batches, which one thread per core runs through the model, from one batch
//!   into the next without waiting;
//! - [`output`] appends each batch, once all its chunks are answered, with its
//!   answers to a temporary file, renamed over `--output` only once every row is
//!   written (one thread).
//!
//! The model is loaded as the server loads it ([`crate::model::local`]): same
//! engine, same `model.toml`, same refusal of NaN inputs, so the answers are the
//! server's.

pub(crate) mod input;
mod output;
mod predict;
mod progress;

use crate::batcher::auto::BatchChoice;
use crate::model::local::{self, LocalVersion};
use crate::model::{Model, TensorSpec};
use crate::tensor::{DataType, Tensor};
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::ArrowPrimitiveType;
use arrow_array::RecordBatch;
use bytes::Bytes;
use input::{FeatureColumns, Features, Float, Input, ToLeBytes};
use output::Output;
use progress::Progress;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};

/// Rows per record batch unless `--batch-rows` says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 16_384;

/// Score a Parquet file with a model: writes every input column plus one column
/// per output column (`<output>`, or `<output>_<i>` for an output with several
/// columns). Exit code 0 written, 1 refused (one sentence on stderr, no output
/// file), 2 bad arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ScoreArgs {
    /// The model version to run.
    #[command(flatten)]
    pub model: local::ModelArgs,
    /// Parquet file to score.
    #[arg(long, value_name = "IN.parquet")]
    pub input: PathBuf,
    /// Parquet file to write (replaced only when complete).
    #[arg(long, value_name = "OUT.parquet")]
    pub output: PathBuf,
    /// Feature columns, in the model's input order; default every numeric column,
    /// in the file's order (others are copied through).
    #[arg(long, value_name = "a,b,...", value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Rows per record batch: memory holds at most five batches at a time.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
}

/// What a finished run did.
#[derive(Debug)]
pub struct Summary {
    /// Rows written.
    pub rows: u64,
    /// Seconds from the first batch read to the file renamed.
    pub seconds: f64,
    /// Rows per model run, and how that size was found.
    pub batch: BatchChoice,
}

/// Runs the subcommand and returns the process's exit code.
pub fn main(args: &ScoreArgs) -> i32 {
    match run(args) {
        Ok(s) => {
            eprintln!(
                "inferd score: wrote {}: {} rows in {:.1} s ({:.0} rows/s), {}",
                args.output.display(),
                s.rows,
                s.seconds,
                s.rows as f64 / s.seconds.max(1e-9),
                runs_text(&s.batch)
            );
            0
        }
        Err(message) => {
            eprintln!("inferd score: {message}");
            1
        }
    }
}

/// Scores `args.input` into `args.output`; on error nothing is left at the output.
pub fn run(args: &ScoreArgs) -> Result<Summary, String> {
    if args.batch_rows == 0 {
        return Err("--batch-rows must be at least 1".into());
    }
    let local = args.model.load()?;
    let spec = scorable_input(&local)?.clone();
    let features = match &args.features {
        Some(names) => Features::Named(names),
        None => Features::Numeric,
    };
    let input = input::open(&args.input, features, false, args.batch_rows)?;
    check_width(&input, &spec, &local.name)?;
    let output = Output::create(
        &args.output,
        &input.schema,
        &local.model.signature().outputs,
        args.batch_rows,
    )?;
    // The batch size the server would run (timed here too for "auto").
    let batch = BatchChoice::resolve(&local.model, &local.settings.batching)?;
    let job = Job {
        model: &local.model,
        spec,
        allow_nan: local.settings.allow_nan,
        chunk_rows: batch.rows,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        name: &local.name,
    };
    let progress = Progress::new(input.rows);
    let (output, progress) = job.pipeline(input, output, progress)?;
    output.finish()?;
    Ok(Summary {
        rows: progress.done(),
        seconds: progress.seconds(),
        batch,
    })
}

/// The run size for the summary line: a model's best batch size differs from CPU to
/// CPU, so the user sees what `"auto"` measured, as the server logs it.
fn runs_text(batch: &BatchChoice) -> String {
    let limited = batch.limit.is_some();
    if batch.curve.is_empty() {
        let lowered = if limited {
            ", lowered to the engine's run limit"
        } else {
            ""
        };
        format!("model runs of {} rows (configured{lowered})", batch.rows)
    } else {
        let bounded = if limited {
            " up to the engine's run limit"
        } else {
            ""
        };
        format!(
            "model runs of {} rows (auto{bounded}, timed {})",
            batch.rows,
            batch.curve_text()
        )
    }
}

/// The model's one input, if scoring can feed it: batched, FP32 or FP64.
fn scorable_input(local: &LocalVersion) -> Result<&TensorSpec, String> {
    let signature = local.model.signature();
    let name = &local.name;
    let [spec] = signature.inputs.as_slice() else {
        return Err(format!(
            "model `{name}` takes {} inputs: inferd score feeds models with one input",
            signature.inputs.len()
        ));
    };
    if !signature.is_batched() {
        return Err(format!(
            "model `{name}` has a fixed first dimension: inferd score needs a dynamic batch dimension"
        ));
    }
    if !matches!(spec.dtype, DataType::F32 | DataType::F64) {
        return Err(format!(
            "input `{}` of model `{name}` is {}: inferd score feeds FP32 and FP64 inputs",
            spec.name, spec.dtype
        ));
    }
    Ok(spec)
}

fn check_width(input: &Input, spec: &TensorSpec, model: &str) -> Result<(), String> {
    let width = spec.row_len().ok_or_else(|| {
        format!(
            "input `{}` of model `{model}` has no fixed row width",
            spec.name
        )
    })?;
    let columns = &input.columns;
    if columns.names.len() != width {
        return Err(format!(
            "{} has {} feature columns ({}) but model `{model}` takes {width} input features",
            columns.file,
            columns.names.len(),
            columns.names.join(", ")
        ));
    }
    Ok(())
}

/// What the pipeline's stages share.
struct Job<'a> {
    /// The engine, shared by the prediction threads.
    model: &'a dyn Model,
    /// The model's input.
    spec: TensorSpec,
    /// Whether NaN and infinite features may reach the model (`model.toml`).
    allow_nan: bool,
    /// Most rows per model run: the server's `max_batch_size` for this model.
    chunk_rows: usize,
    /// Prediction threads: one per core.
    threads: usize,
    /// Model name, for messages.
    name: &'a str,
}

/// A record batch and the model's input made from its feature columns.
type Fed = Result<(RecordBatch, Tensor), String>;

impl Job<'_> {
    /// Reads, predicts and writes every batch; returns the still-open output.
    fn pipeline(
        &self,
        input: Input,
        mut output: Output,
        mut progress: Progress,
    ) -> Result<(Output, Progress), String> {
        std::thread::scope(|scope| {
            let (to_model, fed) = sync_channel::<Fed>(0);
            scope.spawn(move || self.read_task(input, to_model));
            let written = predict::predict_stream(
                self.model,
                self.chunk_rows,
                self.threads,
                fed.into_iter(),
                |batch: RecordBatch, outputs| {
                    output.write(&batch, &outputs)?;
                    progress.add(batch.num_rows());
                    Ok(())
                },
            );
            progress.end();
            written.map(|()| (output, progress))
        })
    }

    /// Decodes batches and turns their features into model inputs until the file
    /// ends, an error is sent, or the pipeline stops listening.
    fn read_task(&self, mut input: Input, to_model: SyncSender<Fed>) {
        let mut first_row = 1u64;
        for batch in input.reader.by_ref() {
            let fed = batch
                .map_err(|e| format!("cannot read {}: {e}", input.columns.file))
                .and_then(|batch| {
                    let tensor = self.tensor(&input.columns, &batch, first_row)?;
                    Ok((batch, tensor))
                });
            let failed = fed.is_err();
            if let Ok((batch, _)) = &fed {
                first_row += batch.num_rows() as u64;
            }
            if to_model.send(fed).is_err() || failed {
                return;
            }
        }
    }

    /// The model's input tensor for `batch`'s feature columns.
    fn tensor(
        &self,
        input: &FeatureColumns,
        batch: &RecordBatch,
        first_row: u64,
    ) -> Result<Tensor, String> {
        let rows = batch.num_rows();
        let mut shape = vec![rows];
        shape.extend(self.spec.shape.iter().skip(1).map(|&d| d as usize));
        let bytes = if self.spec.dtype == DataType::F64 {
            self.features::<Float64Type, 8>(input, batch, first_row, input::copy_column_f64)?
        } else {
            self.features::<Float32Type, 4>(input, batch, first_row, input::copy_column_f32)?
        };
        Tensor::new(self.spec.dtype, shape, Bytes::from(bytes))
    }

    /// The feature columns as row-major little-endian values of the model's float
    /// type `F`, NaN and infinities refused unless the model allows them. Columns
    /// already of type `F` (the usual case) are interleaved in one pass; others are
    /// converted first ([`input::row_major`]).
    fn features<F, const N: usize>(
        &self,
        input: &FeatureColumns,
        batch: &RecordBatch,
        first_row: u64,
        convert: fn(&dyn arrow_array::Array, &mut [F::Native], usize),
    ) -> Result<Vec<u8>, String>
    where
        F: ArrowPrimitiveType,
        F::Native: Float + ToLeBytes<N>,
    {
        let values = match input::interleave::<F, N>(input, batch, first_row)? {
            Some(bytes) => bytes,
            None => {
                let values = input::row_major(input, batch, first_row, convert)?;
                le_bytes(&values)
            }
        };
        if !self.allow_nan {
            let at = values
                .chunks_exact(N)
                .position(|b| !F::Native::from_le_slice(b).is_finite());
            if let Some(at) = at {
                let width = input.names.len();
                return Err(format!(
                    "{} row {}, column `{}` is NaN or infinite, which model `{}` refuses (model.toml allow_nan = true lets it through)",
                    input.file,
                    first_row + (at / width) as u64,
                    input.names[at % width],
                    self.name
                ));
            }
        }
        Ok(values)
    }
}

/// `values` as little-endian bytes, in one allocation of the final size.
fn le_bytes<E: ToLeBytes<N>, const N: usize>(values: &[E]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * N);
    for &v in values {
        out.extend_from_slice(&v.to_le());
    }
    out
}
