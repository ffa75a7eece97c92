//! The protocol-independent tensor: a datatype, a shape and little-endian bytes.
//!
//! Every protocol decodes into this form and every model answers in it. Keeping the
//! payload as raw bytes means the V2 binary extension needs no parsing at all, a cache
//! key is the bytes themselves, and a batch row is a plain byte range.

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
}

impl DataType {
    /// Every datatype, for messages that list what is allowed.
    pub const ALL: [DataType; 12] = [
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
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 | DataType::F16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
        }
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
        }
    }

    /// Parses an Open Inference Protocol name; `None` for unknown names and `BYTES`.
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
    /// `shape.iter().product() * dtype.size()` bytes; `Bytes` so slicing rows is free.
    pub data: Bytes,
}

impl Tensor {
    /// Builds a tensor, checking that the byte length fits the shape.
    pub fn new(dtype: DataType, shape: Vec<usize>, data: Bytes) -> Result<Tensor, String> {
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

    /// Bytes in one row along the first dimension.
    pub fn row_bytes(&self) -> usize {
        self.shape.iter().skip(1).product::<usize>() * self.dtype.size()
    }

    /// Rows `start..end` as a new tensor sharing the same buffer.
    pub fn slice_rows(&self, start: usize, end: usize) -> Tensor {
        let row = self.row_bytes();
        let mut shape = self.shape.clone();
        shape[0] = end - start;
        Tensor {
            dtype: self.dtype,
            shape,
            data: self.data.slice(start * row..end * row),
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

    /// Values as f64, for JSON output and tests.
    pub fn to_f64_vec(&self) -> Vec<f64> {
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
        assert_eq!(DataType::from_name("BYTES"), None);
    }
}
