//! Property tests: every datatype's tensors survive the JSON encoders (nested, as TF
//! Serving answers; flat, as V2 answers) and the one JSON decoder unchanged, bit for
//! bit (NaN as NaN), whatever the values and the shape.

use inferd::json::{FlatOut, Nested, NestedOut};
use inferd::tensor::{DataType, Tensor};
use proptest::prelude::*;

/// Any valid tensor of `dtype`: BOOL bytes are 0 or 1, every other bit pattern is a
/// valid value (NaNs and infinities included), BYTES any UTF-8 strings (quotes,
/// escapes, "NaN" and the empty string included).
fn tensor(dtype: DataType) -> BoxedStrategy<Tensor> {
    (1usize..5, 0usize..6)
        .prop_flat_map(move |(rows, cols)| {
            if dtype.is_bytes() {
                let text = prop_oneof![
                    any::<String>(),
                    Just("NaN".to_string()),
                    Just(String::new())
                ];
                return proptest::collection::vec(text, rows * cols)
                    .prop_map(move |s| Tensor::from_strings(vec![rows, cols], &s).expect("sized"))
                    .boxed();
            }
            let n = rows * cols * dtype.size();
            proptest::collection::vec(any::<u8>(), n)
                .prop_map(move |mut bytes| {
                    if dtype == DataType::Bool {
                        bytes.iter_mut().for_each(|b| *b &= 1);
                    }
                    Tensor::new(dtype, vec![rows, cols], bytes.into()).expect("sized to the shape")
                })
                .boxed()
        })
        .boxed()
}

/// Equal values, NaN equal to any NaN (JSON spells every NaN "NaN").
fn same(dtype: DataType, a: &Tensor, b: &Tensor) -> bool {
    if dtype.is_bytes() {
        return a == b;
    }
    let size = dtype.size();
    a.shape == b.shape
        && a.data
            .chunks_exact(size)
            .zip(b.data.chunks_exact(size))
            .all(|(x, y)| x == y || both_nan(dtype, x, y))
}

fn both_nan(dtype: DataType, x: &[u8], y: &[u8]) -> bool {
    let nan = |b: &[u8]| match dtype {
        DataType::F16 => half::f16::from_le_bytes([b[0], b[1]]).is_nan(),
        DataType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_nan(),
        DataType::F64 => f64::from_le_bytes(b.try_into().unwrap()).is_nan(),
        _ => false,
    };
    nan(x) && nan(y)
}

fn decode(json: &[u8], dtype: DataType, shape: Vec<usize>) -> Tensor {
    let nested: Nested = serde_json::from_slice(json).expect("our own JSON parses");
    nested
        .to_tensor(dtype, shape, &"x")
        .expect("our own values convert")
}

fn round_trips(t: &Tensor) -> Result<(), TestCaseError> {
    let nested = serde_json::to_vec(&NestedOut { tensor: t }).unwrap();
    let back = decode(&nested, t.dtype, t.shape.clone());
    prop_assert!(
        same(t.dtype, t, &back),
        "nested {}",
        String::from_utf8_lossy(&nested)
    );
    let flat = serde_json::to_vec(&FlatOut { tensor: t }).unwrap();
    let back = decode(&flat, t.dtype, t.shape.clone());
    prop_assert!(
        same(t.dtype, t, &back),
        "flat {}",
        String::from_utf8_lossy(&flat)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_datatype_round_trips_through_json(
        t in proptest::sample::select(DataType::ALL.to_vec()).prop_flat_map(tensor)
    ) {
        round_trips(&t)?;
    }
}

#[test]
fn extreme_values_round_trip() {
    let f32s = [
        f32::MIN,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        -0.0,
        f32::INFINITY,
    ];
    let t = Tensor::from_f32(vec![1, f32s.len()], &f32s).unwrap();
    round_trips(&t).unwrap();
    let i64s: Vec<u8> = [i64::MIN, i64::MAX, 0, -1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    round_trips(&Tensor::new(DataType::I64, vec![4], i64s.into()).unwrap()).unwrap();
    let u64s: Vec<u8> = [u64::MAX, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    round_trips(&Tensor::new(DataType::U64, vec![2], u64s.into()).unwrap()).unwrap();
}
