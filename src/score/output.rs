//! Parquet out: the input's columns plus one column per model output column,
//! written to a temporary file beside the destination and renamed over it only when
//! every row is written, so a failed run leaves no partial file behind.

use crate::model::TensorSpec;
use crate::tensor::{DataType, Tensor};
use arrow_array::{
    ArrayRef, BooleanArray, Float16Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, Int8Array, RecordBatch, StringArray, UInt16Array, UInt32Array, UInt64Array,
    UInt8Array,
};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One output column: which model output it comes from and which of its columns.
pub(crate) struct OutputColumn {
    /// Index of the model output.
    output: usize,
    /// Column within that output's rows.
    column: usize,
    /// Columns per row of that output.
    width: usize,
}

/// The output columns of a model, named `<output>` when an output has one column
/// per row and `<output>_<i>` otherwise.
pub(crate) fn output_fields(
    outputs: &[TensorSpec],
) -> Result<(Vec<Field>, Vec<OutputColumn>), String> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (output, spec) in outputs.iter().enumerate() {
        let width = spec.row_len().ok_or_else(|| {
            format!(
                "output `{}` has shape {:?}: scoring needs a fixed number of columns per row",
                spec.name, spec.shape
            )
        })?;
        for column in 0..width {
            let name = if width == 1 {
                spec.name.clone()
            } else {
                format!("{}_{column}", spec.name)
            };
            fields.push(Field::new(name, arrow_type(spec.dtype), false));
            columns.push(OutputColumn {
                output,
                column,
                width,
            });
        }
    }
    Ok((fields, columns))
}

fn arrow_type(dtype: DataType) -> ArrowType {
    match dtype {
        DataType::Bool => ArrowType::Boolean,
        DataType::U8 => ArrowType::UInt8,
        DataType::U16 => ArrowType::UInt16,
        DataType::U32 => ArrowType::UInt32,
        DataType::U64 => ArrowType::UInt64,
        DataType::I8 => ArrowType::Int8,
        DataType::I16 => ArrowType::Int16,
        DataType::I32 => ArrowType::Int32,
        DataType::I64 => ArrowType::Int64,
        DataType::F16 => ArrowType::Float16,
        DataType::F32 => ArrowType::Float32,
        DataType::F64 => ArrowType::Float64,
        DataType::Bytes => ArrowType::Utf8,
    }
}

/// Column `c` of `width` from a row-major tensor, as an Arrow array.
fn column_array(t: &Tensor, c: usize, width: usize) -> ArrayRef {
    if t.dtype.is_bytes() {
        let cells = t.strings().skip(c).step_by(width);
        return Arc::new(StringArray::from_iter_values(cells));
    }
    let size = t.dtype.size();
    let cells = t.data.chunks_exact(size).skip(c).step_by(width);
    macro_rules! collect {
        ($array:ty, $parse:expr) => {
            Arc::new(<$array>::from(cells.map($parse).collect::<Vec<_>>()))
        };
    }
    match t.dtype {
        DataType::Bool => collect!(BooleanArray, |b: &[u8]| b[0] != 0),
        DataType::U8 => collect!(UInt8Array, |b: &[u8]| b[0]),
        DataType::I8 => collect!(Int8Array, |b: &[u8]| b[0] as i8),
        DataType::U16 => collect!(UInt16Array, |b: &[u8]| u16::from_le_bytes([b[0], b[1]])),
        DataType::I16 => collect!(Int16Array, |b: &[u8]| i16::from_le_bytes([b[0], b[1]])),
        DataType::F16 => collect!(Float16Array, |b: &[u8]| half::f16::from_le_bytes([
            b[0], b[1]
        ])),
        DataType::U32 => collect!(UInt32Array, |b: &[u8]| u32::from_le_bytes(four(b))),
        DataType::I32 => collect!(Int32Array, |b: &[u8]| i32::from_le_bytes(four(b))),
        DataType::F32 => collect!(Float32Array, |b: &[u8]| f32::from_le_bytes(four(b))),
        DataType::U64 => collect!(UInt64Array, |b: &[u8]| u64::from_le_bytes(eight(b))),
        DataType::I64 => collect!(Int64Array, |b: &[u8]| i64::from_le_bytes(eight(b))),
        DataType::F64 => collect!(Float64Array, |b: &[u8]| f64::from_le_bytes(eight(b))),
        DataType::Bytes => unreachable!("strings are collected above"),
    }
}

fn four(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

fn eight(b: &[u8]) -> [u8; 8] {
    b.try_into().expect("8-byte cells")
}

/// The output file while it is being written.
pub(crate) struct Output {
    /// The Parquet writer over the temporary file; `None` once closed.
    writer: Option<ArrowWriter<File>>,
    /// The temporary file, removed on drop unless renamed.
    temp: PathBuf,
    /// Where the file goes when complete.
    dest: PathBuf,
    /// Input columns then output columns.
    schema: SchemaRef,
    /// Where each output column comes from.
    columns: Vec<OutputColumn>,
}

impl Output {
    /// Creates the temporary file beside `dest` for `input`'s columns plus the
    /// model's output columns. `batch_rows` bounds the rows buffered in memory
    /// before a row group is written out.
    pub(crate) fn create(
        dest: &Path,
        input: &Schema,
        outputs: &[TensorSpec],
        batch_rows: usize,
    ) -> Result<Output, String> {
        let (fields, columns) = output_fields(outputs)?;
        for f in &fields {
            if input.field_with_name(f.name()).is_ok() {
                return Err(format!(
                    "the input already has a column named `{}`, which the model's output would overwrite",
                    f.name()
                ));
            }
        }
        let mut all: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        all.extend(fields);
        let schema = Arc::new(Schema::new(all));
        let temp = temp_path(dest)?;
        let file =
            File::create(&temp).map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(batch_rows.max(1)));
        // Numeric columns are written plain: features, scores and ids rarely
        // repeat, so a dictionary saves nothing, and building it (a hash lookup per
        // value, the whole row group fitting under the dictionary's size limit) took
        // four fifths of the writer's instructions on the forecaster (callgrind).
        // Text columns keep it: their values (tickers, categories) repeat.
        for field in schema.fields() {
            if field.data_type().is_floating() || field.data_type().is_integer() {
                props = props
                    .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
            }
        }
        let props = props.build();
        // Built before the writer, so an error below removes the temporary file.
        let mut output = Output {
            writer: None,
            temp,
            dest: dest.to_path_buf(),
            schema: schema.clone(),
            columns,
        };
        let writer = ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|e| format!("cannot write {}: {e}", output.dest.display()))?;
        output.writer = Some(writer);
        Ok(output)
    }

    /// Appends `batch`'s rows with the model's `outputs` for them.
    pub(crate) fn write(&mut self, batch: &RecordBatch, outputs: &[Tensor]) -> Result<(), String> {
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for c in &self.columns {
            arrays.push(column_array(&outputs[c.output], c.column, c.width));
        }
        let joined = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| format!("cannot assemble the output rows: {e}"))?;
        let writer = self.writer.as_mut().expect("open until finish");
        writer
            .write(&joined)
            .map_err(|e| format!("cannot write {}: {e}", self.dest.display()))
    }

    /// Closes the file and renames it over the destination.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        let writer = self.writer.take().expect("open until finish");
        writer
            .close()
            .map_err(|e| format!("cannot write {}: {e}", self.dest.display()))?;
        std::fs::rename(&self.temp, &self.dest)
            .map_err(|e| format!("cannot rename onto {}: {e}", self.dest.display()))
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not renamed: an error or a panic stopped the run.
        if self.temp.exists() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A hidden file in the destination's folder, so the rename stays on one file
/// system and so is atomic.
fn temp_path(dest: &Path) -> Result<PathBuf, String> {
    let name = dest
        .file_name()
        .ok_or_else(|| format!("--output {} names no file", dest.display()))?;
    let dir = dest.parent().unwrap_or(Path::new(""));
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{}.tmp", std::process::id()));
    Ok(dir.join(temp))
}
