//! Cache keys: every byte that determines an answer, written unambiguously
//! (lengths before variable parts), so two different inputs never share a key.

use crate::tensor::Tensor;
use bytes::{BufMut, Bytes, BytesMut};

/// The key of rows `start..end` of `inputs` for one loaded model version.
pub fn unit_key(
    model: &str,
    version: u64,
    generation: u64,
    names: &[&str],
    inputs: &[Tensor],
    start: usize,
    end: usize,
) -> Bytes {
    let data: usize = inputs.iter().map(|t| t.row_bytes() * (end - start)).sum();
    let mut key = BytesMut::with_capacity(64 + model.len() + data);
    put_str(&mut key, model);
    key.put_u64_le(version);
    key.put_u64_le(generation);
    key.put_u32_le(inputs.len() as u32);
    for (name, tensor) in names.iter().zip(inputs) {
        put_str(&mut key, name);
        key.put_slice(tensor.dtype.name().as_bytes());
        key.put_u8(0);
        key.put_u32_le(tensor.shape.len() as u32);
        key.put_u64_le((end - start) as u64);
        for &d in tensor.shape.iter().skip(1) {
            key.put_u64_le(d as u64);
        }
        let row = tensor.row_bytes();
        let bytes = &tensor.data[start * row..end * row];
        key.put_u64_le(bytes.len() as u64);
        key.put_slice(bytes);
    }
    key.freeze()
}

fn put_str(key: &mut BytesMut, s: &str) {
    key.put_u32_le(s.len() as u32);
    key.put_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_every_part() {
        let t = Tensor::from_f32(vec![2, 2], &[1., 2., 3., 4.]).unwrap();
        let base = unit_key("m", 1, 7, &["x"], std::slice::from_ref(&t), 0, 1);
        assert_eq!(
            base,
            unit_key("m", 1, 7, &["x"], std::slice::from_ref(&t), 0, 1)
        );
        assert_ne!(
            base,
            unit_key("m", 1, 7, &["x"], std::slice::from_ref(&t), 1, 2),
            "row"
        );
        assert_ne!(
            base,
            unit_key("m", 2, 7, &["x"], std::slice::from_ref(&t), 0, 1),
            "version"
        );
        assert_ne!(
            base,
            unit_key("m", 1, 8, &["x"], std::slice::from_ref(&t), 0, 1),
            "generation"
        );
        assert_ne!(
            base,
            unit_key("n", 1, 7, &["x"], std::slice::from_ref(&t), 0, 1),
            "model"
        );
        assert_ne!(
            base,
            unit_key("m", 1, 7, &["y"], std::slice::from_ref(&t), 0, 1),
            "input name"
        );
        let reshaped = Tensor {
            shape: vec![4, 1],
            ..t.clone()
        };
        assert_ne!(
            unit_key("m", 1, 7, &["x"], std::slice::from_ref(&t), 0, 2),
            unit_key("m", 1, 7, &["x"], std::slice::from_ref(&reshaped), 0, 4),
            "same bytes, other shape"
        );
    }
}
