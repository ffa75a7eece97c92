//! Training data as CSV: a header line, then one row of numbers per line. Only what
//! numeric training data needs (no quoted commas), and every refusal is one sentence
//! naming the line and the column.

/// A parsed table, column by column.
#[derive(Debug, PartialEq)]
pub(crate) struct Table {
    /// Header names, quotes removed.
    pub(crate) names: Vec<String>,
    /// One vector of values per column, all of the same length.
    pub(crate) columns: Vec<Vec<f64>>,
}

impl Table {
    /// Data rows.
    pub(crate) fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }
}

fn cells(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|c| c.trim().trim_matches('"'))
}

/// Spellings of a missing value that spreadsheets and pandas write.
fn is_null(cell: &str) -> bool {
    matches!(
        cell.to_ascii_lowercase().as_str(),
        "" | "na" | "nan" | "null" | "none"
    )
}

/// Parses `text` (read from `file`, named in errors).
pub(crate) fn parse(text: &str, file: &str) -> Result<Table, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{file} is empty: expected a header line and rows of numbers"))?;
    let names: Vec<String> = cells(header).map(str::to_string).collect();
    let mut columns = vec![Vec::new(); names.len()];
    for (index, line) in lines {
        let number = index + 1;
        let row: Vec<&str> = cells(line).collect();
        if row.len() != names.len() {
            return Err(format!(
                "{file} line {number} has {} cells but the header has {} columns",
                row.len(),
                names.len()
            ));
        }
        for ((cell, name), column) in row.iter().zip(&names).zip(&mut columns) {
            column.push(number_in(cell, name, number, file)?);
        }
    }
    if columns.first().is_none_or(Vec::is_empty) {
        return Err(format!("{file} has a header but no rows of data"));
    }
    Ok(Table { names, columns })
}

fn number_in(cell: &str, name: &str, line: usize, file: &str) -> Result<f64, String> {
    if is_null(cell) {
        return Err(format!(
            "{file} line {line}, column `{name}` is empty or null: training data must be complete"
        ));
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!(
            "{file} line {line}, column `{name}` is `{cell}`: expected a finite number"
        )),
        Err(_) => Err(format!(
            "{file} column `{name}` is not numeric: line {line} has `{cell}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_with_quoted_header_and_crlf() {
        let table = parse("\"a\",b\r\n1,2\r\n3.5,-4e1\r\n\r\n", "t.csv").unwrap();
        assert_eq!(table.names, ["a", "b"]);
        assert_eq!(table.columns, vec![vec![1.0, 3.5], vec![2.0, -40.0]]);
        assert_eq!(table.rows(), 2);
    }

    #[test]
    fn refuses_nulls_ragged_rows_words_and_emptiness() {
        let err = |text| parse(text, "t.csv").unwrap_err();
        assert_eq!(
            err("a,b\n1,\n"),
            "t.csv line 2, column `b` is empty or null: training data must be complete"
        );
        assert!(err("a,b\n1,NA\n").contains("column `b` is empty or null"));
        assert_eq!(
            err("a,b\n1,2\n1,2,3\n"),
            "t.csv line 3 has 3 cells but the header has 2 columns"
        );
        assert_eq!(
            err("a,b\n1,2\n1,up\n"),
            "t.csv column `b` is not numeric: line 3 has `up`"
        );
        assert!(err("a,b\n1,inf\n").contains("expected a finite number"));
        assert!(err("").contains("is empty"));
        assert!(err("a,b\n").contains("no rows"));
    }
}
