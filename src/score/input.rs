//! Parquet in: which columns are features, a streaming reader of record batches,
//! and the copy of feature columns into the model's row-major input.
//!
//! Also read by `inferd baseline` for Parquet training data, so both commands
//! refuse the same bad input with the same sentences.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::path::Path;

/// Which columns of the file are the model's features.
pub(crate) enum Features<'a> {
    /// These columns, in this order (`--features`).
    Named(&'a [String]),
    /// Every numeric column, in the file's order; others only pass through.
    Numeric,
    /// Every column, each of which must be numeric (training data).
    All,
}

/// An open Parquet file, read one record batch at a time.
pub(crate) struct Input {
    /// The batches, at most `batch_rows` rows each.
    pub(crate) reader: ParquetRecordBatchReader,
    /// The schema of the batches (only the projected columns).
    pub(crate) schema: SchemaRef,
    /// Where the features are in each batch (apart from the reader, so both can be
    /// borrowed at once).
    pub(crate) columns: FeatureColumns,
    /// Rows in the file, from its footer (for progress).
    pub(crate) rows: u64,
}

/// The feature columns of each record batch.
pub(crate) struct FeatureColumns {
    /// Positions of the feature columns in each batch, in feature order.
    pub(crate) features: Vec<usize>,
    /// Names of the feature columns, in feature order.
    pub(crate) names: Vec<String>,
    /// The file as named on the command line, for messages.
    pub(crate) file: String,
}

/// Opens `path` and picks its feature columns. With `only_features`, the reader
/// decodes those columns and no others (a projection); otherwise every column,
/// since the caller writes them all back.
pub(crate) fn open(
    path: &Path,
    features: Features<'_>,
    only_features: bool,
    batch_rows: usize,
) -> Result<Input, String> {
    let file = path.display().to_string();
    let handle = File::open(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle)
        .map_err(|e| format!("{file} is not a readable Parquet file: {e}"))?;
    let names = feature_names(builder.schema(), &features, &file)?;
    let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let builder = if only_features {
        let schema = builder.schema().clone();
        let roots = names.iter().filter_map(|n| schema.index_of(n).ok());
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder.with_projection(mask)
    } else {
        builder
    };
    let reader = builder
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| format!("cannot read {file}: {e}"))?;
    let schema = reader.schema();
    // A projection keeps the file's column order, not the order asked for.
    let features = names
        .iter()
        .map(|n| schema.index_of(n).expect("a projected feature column"))
        .collect();
    Ok(Input {
        reader,
        schema,
        columns: FeatureColumns {
            features,
            names,
            file,
        },
        rows,
    })
}

/// Whether a column of this type can be a feature.
fn is_numeric(dt: &DataType) -> bool {
    dt.is_integer() || dt.is_floating()
}

fn feature_names(
    schema: &SchemaRef,
    features: &Features<'_>,
    file: &str,
) -> Result<Vec<String>, String> {
    let fields = schema.fields();
    let names: Vec<String> = match features {
        Features::Named(names) => {
            for name in *names {
                let field = schema.field_with_name(name).map_err(|_| {
                    let all: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                    format!(
                        "{file} has no column `{name}` (its columns: {})",
                        all.join(", ")
                    )
                })?;
                check_numeric(field.name(), field.data_type(), file)?;
            }
            names.to_vec()
        }
        Features::Numeric => fields
            .iter()
            .filter(|f| is_numeric(f.data_type()))
            .map(|f| f.name().clone())
            .collect(),
        Features::All => {
            for f in fields {
                check_numeric(f.name(), f.data_type(), file)?;
            }
            fields.iter().map(|f| f.name().clone()).collect()
        }
    };
    if names.is_empty() {
        return Err(format!("{file} has no numeric columns to use as features"));
    }
    Ok(names)
}

fn check_numeric(name: &str, dt: &DataType, file: &str) -> Result<(), String> {
    if is_numeric(dt) {
        Ok(())
    } else {
        Err(format!(
            "{file} column `{name}` is not numeric: it holds {dt}"
        ))
    }
}

/// Refuses a null in `array`, naming its row in the file (`first_row` is the
/// file row of the batch's first row, counted from 1).
fn check_no_nulls(array: &dyn Array, name: &str, first_row: u64, file: &str) -> Result<(), String> {
    let Some(nulls) = array.logical_nulls().filter(|n| n.null_count() > 0) else {
        return Ok(());
    };
    let at = nulls.iter().position(|valid| !valid).unwrap_or(0) as u64;
    Err(format!(
        "{file} row {}, column `{name}` is null: every feature value must be present",
        first_row + at
    ))
}

/// Writes `values` into every `stride`-th slot of `out`, starting at `out[0]`.
fn scatter<T: Copy, E>(values: &[T], out: &mut [E], stride: usize, cast: impl Fn(T) -> E) {
    for (slot, &v) in out.iter_mut().step_by(stride).zip(values) {
        *slot = cast(v);
    }
}

/// Generates a copy of one numeric column into a strided buffer of `$e`, one loop
/// per source type, so no value is boxed or allocated on the way.
macro_rules! copy_column_as {
    ($fn:ident, $e:ty) => {
        /// Copies `array` (numeric, no nulls) into `out[0]`, `out[stride]`, ...
        pub(crate) fn $fn(array: &dyn Array, out: &mut [$e], stride: usize) {
            match array.data_type() {
                DataType::Int8 => scatter(array.as_primitive::<Int8Type>().values(), out, stride, |v| v as $e),
                DataType::Int16 => scatter(array.as_primitive::<Int16Type>().values(), out, stride, |v| v as $e),
                DataType::Int32 => scatter(array.as_primitive::<Int32Type>().values(), out, stride, |v| v as $e),
                DataType::Int64 => scatter(array.as_primitive::<Int64Type>().values(), out, stride, |v| v as $e),
                DataType::UInt8 => scatter(array.as_primitive::<UInt8Type>().values(), out, stride, |v| v as $e),
                DataType::UInt16 => scatter(array.as_primitive::<UInt16Type>().values(), out, stride, |v| v as $e),
                DataType::UInt32 => scatter(array.as_primitive::<UInt32Type>().values(), out, stride, |v| v as $e),
                DataType::UInt64 => scatter(array.as_primitive::<UInt64Type>().values(), out, stride, |v| v as $e),
                DataType::Float16 => scatter(array.as_primitive::<Float16Type>().values(), out, stride, |v| v.to_f64() as $e),
                DataType::Float32 => scatter(array.as_primitive::<Float32Type>().values(), out, stride, |v| v as $e),
                DataType::Float64 => scatter(array.as_primitive::<Float64Type>().values(), out, stride, |v| v as $e),
                other => unreachable!("feature columns are checked numeric, got {other}"),
            }
        }
    };
}

copy_column_as!(copy_column_f32, f32);
copy_column_as!(copy_column_f64, f64);

/// The feature columns of `batch` as one row-major buffer of `rows * width`
/// values, refusing nulls. `first_row` is the file row of the batch's first row.
pub(crate) fn row_major<E: Copy + Default>(
    input: &FeatureColumns,
    batch: &RecordBatch,
    first_row: u64,
    copy: fn(&dyn Array, &mut [E], usize),
) -> Result<Vec<E>, String> {
    let width = input.features.len();
    let mut out = vec![E::default(); batch.num_rows() * width];
    for (c, (&index, name)) in input.features.iter().zip(&input.names).enumerate() {
        let array = batch.column(index);
        check_no_nulls(array.as_ref(), name, first_row, &input.file)?;
        copy(array.as_ref(), &mut out[c..], width);
    }
    Ok(out)
}

/// The float types a model reads, as scoring needs them.
pub(crate) trait Float: Copy {
    fn is_finite(self) -> bool;
    /// The value of `N` little-endian bytes.
    fn from_le_slice(bytes: &[u8]) -> Self;
}

/// A value's little-endian bytes.
pub(crate) trait ToLeBytes<const N: usize>: Copy {
    fn to_le(self) -> [u8; N];
}

macro_rules! float {
    ($t:ty, $n:literal) => {
        impl Float for $t {
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            fn from_le_slice(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("whole values"))
            }
        }
        impl ToLeBytes<$n> for $t {
            fn to_le(self) -> [u8; $n] {
                self.to_le_bytes()
            }
        }
    };
}

float!(f32, 4);
float!(f64, 8);

/// The feature columns of `batch` as row-major little-endian bytes in one pass,
/// when every feature column is already of type `F`; `None` when one needs
/// converting (then [`row_major`] does it). Refuses nulls as [`row_major`] does.
pub(crate) fn interleave<F, const N: usize>(
    input: &FeatureColumns,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<Option<Vec<u8>>, String>
where
    F: ArrowPrimitiveType,
    F::Native: ToLeBytes<N>,
{
    let mut columns: Vec<&[F::Native]> = Vec::with_capacity(input.features.len());
    for (&index, name) in input.features.iter().zip(&input.names) {
        let array = batch.column(index);
        let Some(values) = array.as_primitive_opt::<F>() else {
            return Ok(None);
        };
        check_no_nulls(array.as_ref(), name, first_row, &input.file)?;
        columns.push(values.values());
    }
    let rows = batch.num_rows();
    let mut out = Vec::with_capacity(rows * columns.len() * N);
    for row in 0..rows {
        for column in &columns {
            out.extend_from_slice(&column[row].to_le());
        }
    }
    Ok(Some(out))
}
