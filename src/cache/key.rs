//! Cache keys: every byte that determines an answer, written unambiguously
//! (lengths before variable parts), so two different inputs never share a key.

use crate::tensor::{RowOffsets, Tensor};
use bytes::{BufMut, Bytes};

/// Rows `start..end` of a request's inputs, the part one cache entry answers.
pub struct KeyRows<'a> {
    /// The request's inputs, in signature order.
    pub inputs: &'a [Tensor],
    /// Each input's [`Tensor::row_offsets`], when many keys are taken from one
    /// request; empty to find the rows directly.
    pub offsets: &'a [RowOffsets],
    /// First row.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
}

impl KeyRows<'_> {
    fn range(&self, input: usize) -> std::ops::Range<usize> {
        match self.offsets.get(input) {
            Some(offsets) => offsets.range(self.start, self.end),
            None => self.inputs[input].row_range(self.start, self.end),
        }
    }
}

/// The key of `rows` of a request's inputs (named `names`, in order) for one
/// loaded model version.
pub fn unit_key<'a>(
    model: &str,
    version: u64,
    generation: u64,
    names: impl IntoIterator<Item = &'a str, IntoIter: Clone>,
    rows: KeyRows<'_>,
) -> Bytes {
    let names = names.into_iter();
    let (inputs, start, end) = (rows.inputs, rows.start, rows.end);
    // Sized exactly: a key that grows reallocates, and one with spare capacity costs
    // another allocation when frozen into `Bytes`.
    let size = 4
        + model.len()
        + 8
        + 8
        + 4
        + names
            .clone()
            .zip(inputs)
            .enumerate()
            .map(|(i, (name, t))| {
                4 + name.len()
                    + t.dtype.name().len()
                    + 1
                    + 4
                    + 8
                    + 8 * t.shape.len().saturating_sub(1)
                    + 8
                    + rows.range(i).len()
            })
            .sum::<usize>();
    let mut key = Vec::with_capacity(size);
    put_str(&mut key, model);
    key.put_u64_le(version);
    key.put_u64_le(generation);
    key.put_u32_le(inputs.len() as u32);
    for (i, (name, tensor)) in names.zip(inputs).enumerate() {
        put_str(&mut key, name);
        key.put_slice(tensor.dtype.name().as_bytes());
        key.put_u8(0);
        key.put_u32_le(tensor.shape.len() as u32);
        key.put_u64_le((end - start) as u64);
        for &d in tensor.shape.iter().skip(1) {
            key.put_u64_le(d as u64);
        }
        let bytes = &tensor.data[rows.range(i)];
        key.put_u64_le(bytes.len() as u64);
        key.put_slice(bytes);
    }
    debug_assert_eq!(key.len(), size);
    Bytes::from(key)
}

fn put_str(key: &mut Vec<u8>, s: &str) {
    key.put_u32_le(s.len() as u32);
    key.put_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(inputs: &[Tensor], start: usize, end: usize) -> KeyRows<'_> {
        KeyRows {
            inputs,
            offsets: &[],
            start,
            end,
        }
    }

    #[test]
    fn keys_through_row_offsets_equal_direct_keys() {
        let strings = Tensor::from_strings(vec![3, 2], &["a", "", "ccc", "dd", "é", "f"]).unwrap();
        let numbers = Tensor::from_f32(vec![3, 1], &[1., 2., 3.]).unwrap();
        let inputs = [strings, numbers];
        let offsets: Vec<RowOffsets> = inputs.iter().map(Tensor::row_offsets).collect();
        let mut keys = Vec::new();
        for row in 0..3 {
            let through = KeyRows {
                inputs: &inputs,
                offsets: &offsets,
                start: row,
                end: row + 1,
            };
            let direct = unit_key("m", 1, 7, ["s", "x"], at(&inputs, row, row + 1));
            assert_eq!(unit_key("m", 1, 7, ["s", "x"], through), direct);
            keys.push(direct);
        }
        assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
    }

    #[test]
    fn keys_differ_by_every_part() {
        let t = Tensor::from_f32(vec![2, 2], &[1., 2., 3., 4.]).unwrap();
        let base = unit_key("m", 1, 7, ["x"], at(std::slice::from_ref(&t), 0, 1));
        assert_eq!(
            base,
            unit_key("m", 1, 7, ["x"], at(std::slice::from_ref(&t), 0, 1))
        );
        assert_ne!(
            base,
            unit_key("m", 1, 7, ["x"], at(std::slice::from_ref(&t), 1, 2)),
            "row"
        );
        assert_ne!(
            base,
            unit_key("m", 2, 7, ["x"], at(std::slice::from_ref(&t), 0, 1)),
            "version"
        );
        assert_ne!(
            base,
            unit_key("m", 1, 8, ["x"], at(std::slice::from_ref(&t), 0, 1)),
            "generation"
        );
        assert_ne!(
            base,
            unit_key("n", 1, 7, ["x"], at(std::slice::from_ref(&t), 0, 1)),
            "model"
        );
        assert_ne!(
            base,
            unit_key("m", 1, 7, ["y"], at(std::slice::from_ref(&t), 0, 1)),
            "input name"
        );
        let reshaped = Tensor {
            shape: vec![4, 1],
            ..t.clone()
        };
        assert_ne!(
            unit_key("m", 1, 7, ["x"], at(std::slice::from_ref(&t), 0, 2)),
            unit_key("m", 1, 7, ["x"], at(std::slice::from_ref(&reshaped), 0, 4)),
            "same bytes, other shape"
        );
    }
}
