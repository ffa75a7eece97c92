//! Cache keys: every byte that determines an answer, written unambiguously
//! (lengths before variable parts), so two different inputs never share a key.

use crate::tensor::Tensor;
use bytes::{BufMut, Bytes};

/// The key of rows `start..end` of `inputs` (named `names`, in order) for one loaded
/// model version.
pub fn unit_key<'a>(
    model: &str,
    version: u64,
    generation: u64,
    names: impl IntoIterator<Item = &'a str, IntoIter: Clone>,
    inputs: &[Tensor],
    start: usize,
    end: usize,
) -> Bytes {
    let names = names.into_iter();
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
            .map(|(name, t)| {
                4 + name.len()
                    + t.dtype.name().len()
                    + 1
                    + 4
                    + 8
                    + 8 * t.shape.len().saturating_sub(1)
                    + 8
                    + t.row_range(start, end).len()
            })
            .sum::<usize>();
    let mut key = Vec::with_capacity(size);
    put_str(&mut key, model);
    key.put_u64_le(version);
    key.put_u64_le(generation);
    key.put_u32_le(inputs.len() as u32);
    for (name, tensor) in names.zip(inputs) {
        put_str(&mut key, name);
        key.put_slice(tensor.dtype.name().as_bytes());
        key.put_u8(0);
        key.put_u32_le(tensor.shape.len() as u32);
        key.put_u64_le((end - start) as u64);
        for &d in tensor.shape.iter().skip(1) {
            key.put_u64_le(d as u64);
        }
        let bytes = &tensor.data[tensor.row_range(start, end)];
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

    #[test]
    fn keys_differ_by_every_part() {
        let t = Tensor::from_f32(vec![2, 2], &[1., 2., 3., 4.]).unwrap();
        let base = unit_key("m", 1, 7, ["x"], std::slice::from_ref(&t), 0, 1);
        assert_eq!(
            base,
            unit_key("m", 1, 7, ["x"], std::slice::from_ref(&t), 0, 1)
        );
        assert_ne!(
            base,
            unit_key("m", 1, 7, ["x"], std::slice::from_ref(&t), 1, 2),
            "row"
        );
        assert_ne!(
            base,
            unit_key("m", 2, 7, ["x"], std::slice::from_ref(&t), 0, 1),
            "version"
        );
        assert_ne!(
            base,
            unit_key("m", 1, 8, ["x"], std::slice::from_ref(&t), 0, 1),
            "generation"
        );
        assert_ne!(
            base,
            unit_key("n", 1, 7, ["x"], std::slice::from_ref(&t), 0, 1),
            "model"
        );
        assert_ne!(
            base,
            unit_key("m", 1, 7, ["y"], std::slice::from_ref(&t), 0, 1),
            "input name"
        );
        let reshaped = Tensor {
            shape: vec![4, 1],
            ..t.clone()
        };
        assert_ne!(
            unit_key("m", 1, 7, ["x"], std::slice::from_ref(&t), 0, 2),
            unit_key("m", 1, 7, ["x"], std::slice::from_ref(&reshaped), 0, 4),
            "same bytes, other shape"
        );
    }
}
