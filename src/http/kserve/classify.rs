//! Triton's classification extension: an output asked for with
//! `"parameters": {"classification": k}` comes back as a BYTES tensor holding, per
//! row, the `k` largest values as `"value:index"` strings, largest first. Values are
//! written as Triton writes them (C++ `std::to_string`: six decimals for floats).

use crate::error::ApiError;
use crate::tensor::{element_to_f64, push_string, DataType, Tensor};
use std::cmp::Ordering;

/// The labels of one output, row-major.
#[derive(Debug)]
pub(super) struct Labels {
    /// `[rows, k]` for a batched model, `[k]` otherwise.
    pub shape: Vec<usize>,
    /// `"value:index"`, `k` per row.
    pub strings: Vec<String>,
}

impl Labels {
    /// The BYTES binary encoding: each string as a 4-byte little-endian length, then
    /// its bytes.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let size = self.strings.iter().map(|s| 4 + s.len()).sum();
        let mut out = Vec::with_capacity(size);
        for s in &self.strings {
            push_string(&mut out, s.as_bytes()).expect("a label is a few dozen bytes");
        }
        out
    }
}

/// The top `k` of each row of `tensor` (of the whole tensor when the model is not
/// batched); `k` larger than a row gives the whole row, as in Triton.
pub(super) fn top_k(
    name: &str,
    tensor: &Tensor,
    k: usize,
    batched: bool,
) -> Result<Labels, ApiError> {
    if matches!(tensor.dtype, DataType::Bool | DataType::Bytes) {
        return Err(ApiError::bad_request(format!(
            "output `{name}` is {}; classification needs a numeric output",
            tensor.dtype
        )));
    }
    let size = tensor.dtype.size();
    let rows = match tensor.shape.first() {
        Some(&n) if batched => n,
        _ => 1,
    };
    let per_row = tensor.len().checked_div(rows).unwrap_or(0);
    let k = k.min(per_row);
    let mut strings = Vec::with_capacity(rows * k);
    for row in tensor.data.chunks_exact(per_row.max(1) * size).take(rows) {
        let values: Vec<f64> = row
            .chunks_exact(size)
            .map(|b| element_to_f64(tensor.dtype, b))
            .collect();
        let mut order: Vec<usize> = (0..per_row).collect();
        // Stable, so equal values keep the lower index first.
        order.sort_by(|&a, &b| largest_first(values[a], values[b]));
        for &i in &order[..k] {
            let text = value_text(tensor.dtype, &row[i * size..(i + 1) * size]);
            strings.push(format!("{text}:{i}"));
        }
    }
    let shape = if batched { vec![rows, k] } else { vec![k] };
    Ok(Labels { shape, strings })
}

/// Descending order with NaN last.
fn largest_first(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// One value as C++'s `std::to_string` writes it: integers exactly, floats as `%f`.
fn value_text(dtype: DataType, b: &[u8]) -> String {
    match dtype {
        DataType::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")).to_string(),
        DataType::U64 => u64::from_le_bytes(b.try_into().expect("8 bytes")).to_string(),
        DataType::F16 | DataType::F32 | DataType::F64 => {
            let v = element_to_f64(dtype, b);
            if v.is_nan() {
                "nan".into()
            } else if v.is_infinite() {
                if v > 0.0 { "inf" } else { "-inf" }.into()
            } else {
                format!("{v:.6}")
            }
        }
        // The remaining integer types fit an f64 exactly.
        _ => format!("{}", element_to_f64(dtype, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn top_k_per_row_largest_first_ties_by_index() {
        let t =
            Tensor::from_f32(vec![2, 4], &[0.1, 0.7, 0.2, 0.7, -1.0, f32::NAN, 3.5, 0.0]).unwrap();
        let labels = top_k("p", &t, 3, true).unwrap();
        assert_eq!(labels.shape, vec![2, 3]);
        assert_eq!(
            labels.strings,
            [
                "0.700000:1",
                "0.700000:3",
                "0.200000:2",
                "3.500000:2",
                "0.000000:3",
                "-1.000000:0"
            ]
        );
    }

    #[test]
    fn unbatched_takes_the_whole_tensor_and_k_is_capped() {
        let t = Tensor::from_f32(vec![2, 2], &[1.0, 4.0, 2.0, 3.0]).unwrap();
        let labels = top_k("p", &t, 10, false).unwrap();
        assert_eq!(labels.shape, vec![4]);
        assert_eq!(
            labels.strings,
            ["4.000000:1", "3.000000:3", "2.000000:2", "1.000000:0"]
        );
    }

    #[test]
    fn integers_are_written_exactly_and_bool_is_refused() {
        let data: Vec<u8> = [5i64, -7, i64::MAX]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = Tensor::new(DataType::I64, vec![3], Bytes::from(data)).unwrap();
        let labels = top_k("p", &t, 2, false).unwrap();
        assert_eq!(labels.strings, [format!("{}:2", i64::MAX), "5:0".into()]);
        let b = Tensor::new(DataType::Bool, vec![1], Bytes::from_static(&[1])).unwrap();
        let err = top_k("flag", &b, 1, false).unwrap_err().to_string();
        assert!(err.contains("`flag` is BOOL"), "{err}");
        let s = Tensor::from_strings(vec![1], &["cat"]).unwrap();
        let err = top_k("label", &s, 1, false).unwrap_err().to_string();
        assert!(
            err.contains("`label` is BYTES; classification needs a numeric"),
            "{err}"
        );
    }

    #[test]
    fn binary_encoding_is_length_prefixed() {
        let labels = Labels {
            shape: vec![2],
            strings: vec!["1.0:0".into(), "x".into()],
        };
        assert_eq!(labels.to_bytes(), b"\x05\0\0\x001.0:0\x01\0\0\0x");
    }
}
