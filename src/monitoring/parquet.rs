//! Training data as Parquet: every column a numeric feature, no nulls, every value
//! finite. Read with `inferd score`'s reader (a projection of the feature columns,
//! one record batch at a time) into the same table a CSV file gives.

use super::csv::Table;
use crate::score::input::{self, Features};
use std::path::Path;

/// Rows per record batch while reading.
const BATCH_ROWS: usize = 65_536;

/// Whether `path` starts with Parquet's magic bytes (CSV is anything else).
pub(crate) fn is_parquet(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"PAR1")
}

/// Reads `path` (named `file` in errors) column by column.
pub(crate) fn read(path: &Path, file: &str) -> Result<Table, String> {
    let mut input = input::open(path, Features::All, true, BATCH_ROWS)?;
    input.columns.file = file.to_string();
    let width = input.columns.names.len();
    let mut columns = vec![Vec::new(); width];
    let mut first_row = 1u64;
    for batch in input.reader.by_ref() {
        let batch = batch.map_err(|e| format!("cannot read {file}: {e}"))?;
        let values = input::row_major(&input.columns, &batch, first_row, input::copy_column_f64)?;
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "{file} row {}, column `{}` is `{}`: expected a finite number",
                first_row + (at / width) as u64,
                input.columns.names[at % width],
                values[at]
            ));
        }
        for (c, column) in columns.iter_mut().enumerate() {
            column.extend(values.iter().skip(c).step_by(width));
        }
        first_row += batch.num_rows() as u64;
    }
    if columns[0].is_empty() {
        return Err(format!("{file} has columns but no rows of data"));
    }
    Ok(Table {
        names: input.columns.names,
        columns,
    })
}
