//! The protocol-independent tensor: a datatype, a shape and little-endian bytes.
//!
//! Every protocol decodes into this form and every model answers in it. Keeping the
//! payload as raw bytes means the V2 binary extension needs no parsing at all, a cache
//! key is the bytes themselves, and a batch row is a plain byte range.
//!
//! Strings (`BYTES`) are kept in the V2 binary layout too: each element a 4-byte
//! little-endian length, then its bytes. Rows stay byte ranges; finding one walks
//! the lengths (see [`Tensor::row_range`]); taking many rows of one tensor walks
//! them once ([`Tensor::row_offsets`]).

use bytes::Bytes;
use std::fmt;

/// Element types of the Open Inference Protocol, which also covers TF Serving's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One byte, 0 or 1.
    Bool,
    /// Unsigned 8-bit integer.
    U8,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 8-bit integer.
    I8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// IEEE half precision.
    F16,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
    /// Variable-length strings, UTF-8 text (scikit-learn's string labels and
    /// categories): each element a 4-byte little-endian length, then its bytes.
    Bytes,
}

impl DataType {
    /// Every datatype, for messages that list what is allowed.
    pub const ALL: [DataType; 13] = [
        DataType::Bool,
        DataType::U8,
        DataType::U16,
        DataType::U32,
        DataType::U64,
        DataType::I8,
        DataType::I16,
        DataType::I32,
        DataType::I64,
        DataType::F16,
        DataType::F32,
        DataType::F64,
        DataType::Bytes,
    ];

    /// Bytes per element; for `BYTES`, the smallest element: the length of an
    /// empty string (so zeros of any type are a valid tensor).
    pub fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 | DataType::F16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 | DataType::Bytes => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
        }
    }

    /// Whether elements are variable-length strings.
    pub fn is_bytes(self) -> bool {
        self == DataType::Bytes
    }

    /// The Open Inference Protocol name (`FP32`, `INT64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::U8 => "UINT8",
            DataType::U16 => "UINT16",
            DataType::U32 => "UINT32",
            DataType::U64 => "UINT64",
            DataType::I8 => "INT8",
            DataType::I16 => "INT16",
            DataType::I32 => "INT32",
            DataType::I64 => "INT64",
            DataType::F16 => "FP16",
            DataType::F32 => "FP32",
            DataType::F64 => "FP64",
            DataType::Bytes => "BYTES",
        }
    }

    /// Parses an Open Inference Protocol name; `None` for unknown names.
    pub fn from_name(name: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether the type is a floating-point type (where NaN can occur).
    pub fn is_float(self) -> bool {
        matches!(self, DataType::F16 | DataType::F32 | DataType::F64)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A dense row-major tensor with little-endian element bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tensor {
    /// Element type of `data`.
    pub dtype: DataType,
    /// Dimensions; the first is the batch (row) dimension for batched models.
    pub shape: Vec<usize>,
    /// `shape.iter().product() * dtype.size()` bytes, or for `BYTES` that many
    /// length-prefixed strings; `Bytes` so slicing rows is free.
    pub data: Bytes,
}

impl Tensor {
    /// Builds a tensor, checking that the byte length fits the shape.
    pub fn new(dtype: DataType, shape: Vec<usize>, data: Bytes) -> Result<Tensor, String> {
        if dtype.is_bytes() {
            let elements =
                element_count(&shape).ok_or_else(|| format!("shape {shape:?} is too large"))?;
            check_strings(&data, elements).map_err(|e| format!("shape {shape:?} of BYTES: {e}"))?;
            return Ok(Tensor { dtype, shape, data });
        }
        let expected = element_count(&shape)
            .and_then(|n| n.checked_mul(dtype.size()))
            .ok_or_else(|| format!("shape {shape:?} is too large"))?;
        if data.len() != expected {
            return Err(format!(
                "shape {shape:?} of {dtype} needs {expected} bytes, got {}",
                data.len()
            ));
        }
        Ok(Tensor { dtype, shape, data })
    }

    /// Builds an FP32 tensor from values.
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Result<Tensor, String> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(DataType::F32, shape, Bytes::from(bytes))
    }

    /// Builds a BYTES tensor from strings, row-major.
    pub fn from_strings<S: AsRef<str>>(shape: Vec<usize>, values: &[S]) -> Result<Tensor, String> {
        let mut data = Vec::with_capacity(values.iter().map(|v| 4 + v.as_ref().len()).sum());
        for v in values {
            push_string(&mut data, v.as_ref().as_bytes())?;
        }
        Tensor::new(DataType::Bytes, shape, Bytes::from(data))
    }

    /// The elements of a BYTES tensor (checked UTF-8 when it was built), in order.
    pub fn strings(&self) -> Strings<'_> {
        debug_assert!(self.dtype.is_bytes());
        Strings { data: &self.data }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows along the first dimension (1 for a scalar).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// The bytes of rows `start..end` along the first dimension. For BYTES this
    /// walks the lengths of the rows before `end`, checked when the tensor was built.
    pub fn row_range(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        let per_row = self.shape.iter().skip(1).product::<usize>();
        if !self.dtype.is_bytes() {
            let row = per_row * self.dtype.size();
            return start * row..end * row;
        }
        let mut offset = 0;
        let mut begin = 0;
        for element in 0..end * per_row {
            if element == start * per_row {
                begin = offset;
            }
            offset += 4 + string_len(&self.data[offset..]);
        }
        if start == end {
            begin = offset;
        }
        begin..offset
    }

    /// Rows `start..end` as a new tensor sharing the same buffer.
    pub fn slice_rows(&self, start: usize, end: usize) -> Tensor {
        self.slice_range(start, end, self.row_range(start, end))
    }

    /// Where each row starts, for taking many row ranges of one tensor: a string
    /// tensor's lengths are walked once here instead of once per range.
    pub fn row_offsets(&self) -> RowOffsets {
        let per_row = self.shape.iter().skip(1).product::<usize>();
        if !self.dtype.is_bytes() {
            return RowOffsets {
                row_bytes: per_row * self.dtype.size(),
                starts: Vec::new(),
            };
        }
        let mut starts = Vec::with_capacity(self.rows() + 1);
        let mut offset = 0;
        for element in 0..self.rows() * per_row {
            if element % per_row.max(1) == 0 {
                starts.push(offset);
            }
            offset += 4 + string_len(&self.data[offset..]);
        }
        // Rows with no elements (a zero in the row shape) all start at the end.
        starts.resize(self.rows(), offset);
        starts.push(offset);
        RowOffsets {
            row_bytes: 0,
            starts,
        }
    }

    /// Rows `start..end` sharing the same buffer, found through `offsets`
    /// (this tensor's [`Tensor::row_offsets`]).
    pub fn slice_rows_at(&self, offsets: &RowOffsets, start: usize, end: usize) -> Tensor {
        self.slice_range(start, end, offsets.range(start, end))
    }

    fn slice_range(&self, start: usize, end: usize, bytes: std::ops::Range<usize>) -> Tensor {
        let mut shape = self.shape.clone();
        shape[0] = end - start;
        Tensor {
            dtype: self.dtype,
            shape,
            data: self.data.slice(bytes),
        }
    }

    /// Stacks tensors of equal dtype and row shape along the first dimension.
    ///
    /// The caller guarantees matching row shapes (they were validated against one
    /// signature); a single part is returned without copying.
    pub fn concat_rows(parts: &[Tensor]) -> Tensor {
        if parts.len() == 1 {
            return parts[0].clone();
        }
        let rows = parts.iter().map(Tensor::rows).sum();
        let mut data = Vec::with_capacity(parts.iter().map(|p| p.data.len()).sum());
        for part in parts {
            data.extend_from_slice(&part.data);
        }
        let mut shape = parts[0].shape.clone();
        shape[0] = rows;
        Tensor {
            dtype: parts[0].dtype,
            shape,
            data: Bytes::from(data),
        }
    }

    /// Values as f64, for tests and numeric summaries; BYTES has none.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        if self.dtype.is_bytes() {
            return Vec::new();
        }
        let size = self.dtype.size();
        self.data
            .chunks_exact(size)
            .map(|c| element_to_f64(self.dtype, c))
            .collect()
    }

    /// Whether any element is NaN or infinite (always false for integer types).
    pub fn has_non_finite(&self) -> bool {
        // Runs on every float input: read in place, never copy the tensor, and one
        // loop per type rather than a type dispatch per element.
        let data = &self.data;
        match self.dtype {
            DataType::F32 => data
                .chunks_exact(4)
                .any(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite()),
            DataType::F64 => data
                .chunks_exact(8)
                .any(|c| !f64::from_le_bytes(c.try_into().expect("8 bytes")).is_finite()),
            DataType::F16 => data
                .chunks_exact(2)
                .any(|c| !half::f16::from_le_bytes([c[0], c[1]]).is_finite()),
            _ => false,
        }
    }
}

/// Iterator over the strings of a BYTES tensor.
pub struct Strings<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for Strings<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.data.is_empty() {
            return None;
        }
        let len = string_len(self.data);
        let (text, rest) = self.data[4..].split_at(len);
        self.data = rest;
        // Checked when the tensor was built; a failure here is a bug, not input.
        Some(std::str::from_utf8(text).expect("BYTES elements are checked UTF-8"))
    }
}

/// The length prefix at the start of `data` (at least 4 bytes, checked at build).
/// A tensor's row boundaries ([`Tensor::row_offsets`]): arithmetic for fixed-size
/// elements, a table of starts for strings.
#[derive(Debug, Clone)]
pub struct RowOffsets {
    /// Bytes per row of a fixed-size dtype.
    row_bytes: usize,
    /// Start of each row and then the end, for BYTES; empty otherwise.
    starts: Vec<usize>,
}

impl RowOffsets {
    /// The bytes of rows `start..end`.
    pub fn range(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        if self.starts.is_empty() {
            start * self.row_bytes..end * self.row_bytes
        } else {
            self.starts[start]..self.starts[end]
        }
    }
}

fn string_len(data: &[u8]) -> usize {
    u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize
}

/// Appends one length-prefixed string.
pub fn push_string(data: &mut Vec<u8>, text: &[u8]) -> Result<(), String> {
    let len = u32::try_from(text.len())
        .map_err(|_| format!("a string of {} bytes is too long", text.len()))?;
    data.extend_from_slice(&len.to_le_bytes());
    data.extend_from_slice(text);
    Ok(())
}

/// Checks that `data` is exactly `elements` length-prefixed UTF-8 strings.
fn check_strings(data: &[u8], elements: usize) -> Result<(), String> {
    let mut rest = data;
    for i in 0..elements {
        if rest.len() < 4 {
            return Err(format!(
                "needs {elements} length-prefixed strings, the bytes end inside element {i}"
            ));
        }
        let len = string_len(rest);
        if rest.len() - 4 < len {
            return Err(format!(
                "element {i} declares {len} bytes but only {} remain",
                rest.len() - 4
            ));
        }
        if let Err(e) = std::str::from_utf8(&rest[4..4 + len]) {
            return Err(format!("element {i} is not UTF-8 text ({e})"));
        }
        rest = &rest[4 + len..];
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes follow the {elements} strings the shape holds",
            rest.len()
        ));
    }
    Ok(())
}

/// Product of dimensions, `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Reads one little-endian element as f64.
pub fn element_to_f64(dtype: DataType, b: &[u8]) -> f64 {
    match dtype {
        DataType::Bool => f64::from(u8::from(b[0] != 0)),
        DataType::U8 => f64::from(b[0]),
        DataType::I8 => f64::from(b[0] as i8),
        DataType::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
        DataType::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
        DataType::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f64(),
        DataType::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::U64 => u64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
        DataType::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
        DataType::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        DataType::Bytes => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_wrong_byte_count() {
        let err = Tensor::new(DataType::F32, vec![2, 3], Bytes::from(vec![0u8; 20])).unwrap_err();
        assert!(err.contains("needs 24 bytes, got 20"), "{err}");
    }

    #[test]
    fn slice_and_concat_round_trip() {
        let t = Tensor::from_f32(vec![3, 2], &[1., 2., 3., 4., 5., 6.]).unwrap();
        let a = t.slice_rows(0, 1);
        let b = t.slice_rows(1, 3);
        assert_eq!(b.to_f64_vec(), vec![3., 4., 5., 6.]);
        assert_eq!(Tensor::concat_rows(&[a, b]), t);
    }

    #[test]
    fn datatype_names_round_trip() {
        for d in DataType::ALL {
            assert_eq!(DataType::from_name(d.name()), Some(d));
        }
        assert_eq!(DataType::from_name("STRING"), None);
    }

    #[test]
    fn strings_slice_and_concat_by_row() {
        let t = Tensor::from_strings(vec![3, 2], &["a", "", "ccc", "dd", "é", "f"]).unwrap();
        assert_eq!(
            t.strings().collect::<Vec<_>>(),
            ["a", "", "ccc", "dd", "é", "f"]
        );
        let middle = t.slice_rows(1, 2);
        assert_eq!(middle.shape, vec![1, 2]);
        assert_eq!(middle.strings().collect::<Vec<_>>(), ["ccc", "dd"]);
        assert!(t.slice_rows(2, 2).strings().next().is_none());
        let parts = [t.slice_rows(0, 1), t.slice_rows(1, 3)];
        assert_eq!(Tensor::concat_rows(&parts), t);
        // Zeros of BYTES are empty strings.
        let zeros = Tensor::new(DataType::Bytes, vec![2], Bytes::from(vec![0u8; 8])).unwrap();
        assert_eq!(zeros.strings().collect::<Vec<_>>(), ["", ""]);
    }

    #[test]
    fn row_offsets_give_every_row_range() {
        let strings = Tensor::from_strings(vec![3, 2], &["a", "", "ccc", "dd", "é", "f"]).unwrap();
        let numbers = Tensor::from_f32(vec![3, 2], &[1., 2., 3., 4., 5., 6.]).unwrap();
        let empty_rows = Tensor::from_strings(vec![3, 0], &[] as &[&str]).unwrap();
        for t in [&strings, &numbers, &empty_rows] {
            let offsets = t.row_offsets();
            for start in 0..=3 {
                for end in start..=3 {
                    assert_eq!(offsets.range(start, end), t.row_range(start, end));
                    assert_eq!(
                        t.slice_rows_at(&offsets, start, end),
                        t.slice_rows(start, end)
                    );
                }
            }
        }
        assert_eq!(
            strings.row_offsets().range(1, 2),
            strings.row_range(1, 2),
            "the middle row: \"ccc\", \"dd\""
        );
        assert_eq!(strings.row_offsets().range(1, 2).len(), 4 + 3 + 4 + 2);
    }

    #[test]
    fn malformed_strings_are_refused() {
        let new =
            |bytes: &[u8], n| Tensor::new(DataType::Bytes, vec![n], Bytes::copy_from_slice(bytes));
        let err = new(&[1, 0, 0, 0, b'a', 9], 1).unwrap_err();
        assert!(err.contains("1 bytes follow the 1 strings"), "{err}");
        let err = new(&[5, 0, 0, 0, b'a'], 1).unwrap_err();
        assert!(
            err.contains("element 0 declares 5 bytes but only 1 remain"),
            "{err}"
        );
        let err = new(&[1, 0, 0, 0, b'a', 0, 0], 2).unwrap_err();
        assert!(err.contains("bytes end inside element 1"), "{err}");
        let err = new(&[1, 0, 0, 0, 0xff], 1).unwrap_err();
        assert!(err.contains("element 0 is not UTF-8"), "{err}");
    }
}
