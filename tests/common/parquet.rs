//! Parquet test files: written with arrow-rs's writer, read back whole.

use arrow_array::{ArrayRef, Float32Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `columns` to `path` in row groups of `group_rows` rows.
pub fn write(path: &Path, columns: Vec<(&str, ArrayRef)>, group_rows: usize) {
    let batch = RecordBatch::try_from_iter(columns).expect("columns of equal length");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).expect("create the Parquet file");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Float32 feature columns named `names` from row-major `rows`.
pub fn feature_columns<'a>(names: &'a [String], rows: &[Vec<f32>]) -> Vec<(&'a str, ArrayRef)> {
    names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let values: Vec<f32> = rows.iter().map(|r| r[c]).collect();
            (
                name.as_str(),
                Arc::new(Float32Array::from(values)) as ArrayRef,
            )
        })
        .collect()
}

/// The whole of `path` as one record batch (test files are small).
pub fn read(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).expect("open the Parquet file");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 24)
        .build()
        .unwrap();
    let mut batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 1, "one batch");
    batches.remove(0)
}

/// A fresh folder under the temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("inferd-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temp folder");
        TempDir(dir)
    }

    /// Names of the files in the folder, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
