//! JSON tensors: nested arrays of numbers (or strings, for BYTES) in and out.
//!
//! Parsing goes straight from the request bytes into a flat value list plus a shape,
//! checking that the nesting is rectangular as it goes, so no `serde_json::Value` tree
//! is ever built on the hot path. The protocols differ only in where such arrays sit in
//! the body; all of them use this one decoder and this one encoder.

use crate::tensor::{DataType, Tensor};
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::cell::Cell;
use std::fmt;

pub(crate) mod fast;

/// How much one body may hold, checked while it is parsed so an oversized request is
/// refused at the first value past a limit, before the rest is read into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most rows in TF Serving's `instances` (`batching.max_request_rows`).
    pub max_rows: usize,
    /// Most numbers in the whole body: `max_rows` times the widest model's row.
    pub max_elements: usize,
    /// Most named inputs in one `instances` row or `inputs` object.
    pub max_names: usize,
}

impl Limits {
    /// No limits beyond the body size (the default outside [`Limits::apply`]).
    pub const NONE: Limits = Limits {
        max_rows: usize::MAX,
        max_elements: usize::MAX,
        max_names: usize::MAX,
    };

    /// Runs `parse` with these limits in force on this thread. A thread-local rather
    /// than a seed threaded through serde: the limits must reach decoders nested in
    /// derived structs (`TfBody`, the V2 request), and parsing never crosses an await.
    pub fn apply<R>(self, parse: impl FnOnce() -> R) -> R {
        let _restore = Restore {
            limits: LIMITS.with(|l| l.replace(self)),
            left: ELEMENTS_LEFT.with(|l| l.replace(self.max_elements)),
        };
        parse()
    }

    /// The limits in force on this thread.
    pub fn current() -> Limits {
        LIMITS.with(Cell::get)
    }
}

/// Puts the previous limits back, even if parsing panics (the worker thread lives on).
struct Restore {
    limits: Limits,
    left: usize,
}

impl Drop for Restore {
    fn drop(&mut self) {
        LIMITS.with(|l| l.set(self.limits));
        ELEMENTS_LEFT.with(|l| l.set(self.left));
    }
}

thread_local! {
    static LIMITS: Cell<Limits> = const { Cell::new(Limits::NONE) };
    /// Numbers the body being parsed may still hold.
    static ELEMENTS_LEFT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Counts one more number against the body's budget.
#[inline]
fn count_element<E: de::Error>() -> Result<(), E> {
    let left = ELEMENTS_LEFT.with(Cell::get);
    if left == 0 {
        return Err(too_many_elements());
    }
    ELEMENTS_LEFT.with(|l| l.set(left - 1));
    Ok(())
}

#[cold]
fn too_many_elements<E: de::Error>() -> E {
    let limits = Limits::current();
    E::custom(format!(
        "the body holds more than {} numbers, the most max_request_rows ({}) rows of the widest model can hold",
        limits.max_elements, limits.max_rows
    ))
}

/// One JSON leaf, kept exact until the target datatype is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A number with a fraction or exponent (or NaN/Infinity given as a string).
    Float(f64),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    Uint(u64),
    /// `true` / `false`.
    Bool(bool),
    /// A string: bytes `start..start + len` of [`Nested::text`]. Read as a BYTES
    /// element, or as a float where it spells NaN or an infinity.
    Text(u32, u32),
}

/// A rectangular nested JSON array (or a single scalar), flattened row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nested {
    /// Dimensions, outermost first; empty for a bare scalar.
    pub shape: Vec<usize>,
    /// Leaves in row-major order.
    pub values: Vec<Scalar>,
    /// The strings' bytes, back to back, for [`Scalar::Text`].
    pub text: String,
}

impl<'de> de::Deserialize<'de> for Nested {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Nested, D::Error> {
        let mut collector = Collector::default();
        Level {
            collector: &mut collector,
            depth: 0,
        }
        .deserialize(deserializer)?;
        Ok(collector.finish())
    }
}

/// Accumulates leaves and the length seen at each depth.
#[derive(Default)]
pub(crate) struct Collector {
    values: Vec<Scalar>,
    text: String,
    dims: Vec<Option<usize>>,
    rank: Option<usize>,
}

impl Collector {
    /// A seed that parses one value at `depth` into this collector.
    pub(crate) fn level(&mut self, depth: usize) -> Level<'_> {
        Level {
            collector: self,
            depth,
        }
    }

    /// The flattened result.
    pub(crate) fn finish(self) -> Nested {
        let rank = self.rank.unwrap_or(self.dims.len());
        let shape = self.dims[..rank].iter().map(|d| d.unwrap_or(0)).collect();
        Nested {
            shape,
            values: self.values,
            text: self.text,
        }
    }

    /// Runs once per number: the checks beyond "same depth as before" are out of line.
    #[inline]
    fn leaf<E: de::Error>(&mut self, depth: usize, value: Scalar) -> Result<(), E> {
        if self.rank != Some(depth) {
            self.first_leaf(depth)?;
        }
        count_element()?;
        self.values.push(value);
        Ok(())
    }

    #[cold]
    fn first_leaf<E: de::Error>(&mut self, depth: usize) -> Result<(), E> {
        match self.rank {
            None => {
                self.rank = Some(depth);
                // One allocation for a short row, instead of growing 4, 8, 16...;
                // small, as a body may hold thousands of tiny tensors, each
                // reserving this much.
                self.values.reserve(16);
                Ok(())
            }
            Some(rank) => Err(E::custom(format!(
                "array nesting is not rectangular: found a number at depth {depth}, expected depth {rank}"
            ))),
        }
    }

    /// Records an array of `len` elements at `depth`, checking it matches its peers.
    pub(crate) fn sequence<E: de::Error>(&mut self, depth: usize, len: usize) -> Result<(), E> {
        if self.rank.is_some_and(|rank| depth >= rank) {
            return Err(E::custom(format!(
                "array nesting is not rectangular: found an array at depth {depth} where a number was expected"
            )));
        }
        if self.dims.len() <= depth {
            self.dims.resize(depth + 1, None);
        }
        match self.dims[depth] {
            None => self.dims[depth] = Some(len),
            Some(seen) if seen != len => {
                return Err(E::custom(format!(
                    "array nesting is not rectangular: dimension {depth} has length {len} here and {seen} elsewhere"
                )))
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Deserializes one level of nesting into the shared collector.
pub(crate) struct Level<'a> {
    collector: &'a mut Collector,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a string, a boolean or an array of them")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut len = 0;
        while seq
            .next_element_seed(Level {
                collector: &mut *self.collector,
                depth: self.depth + 1,
            })?
            .is_some()
        {
            len += 1;
        }
        self.collector.sequence(self.depth, len)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.collector.leaf(self.depth, Scalar::Float(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let s = if v >= 0 {
            Scalar::Uint(v as u64)
        } else {
            Scalar::Int(v)
        };
        self.collector.leaf(self.depth, s)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.collector.leaf(self.depth, Scalar::Uint(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.collector.leaf(self.depth, Scalar::Bool(v))
    }

    /// TF Serving's `{"b64": ...}` carries binary strings; inferd's strings are text.
    fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
        Err(de::Error::custom(
            "found an object where a value belongs: binary strings ({\"b64\": ...}) are not \
             supported, inferd's strings are UTF-8 text sent as JSON strings",
        ))
    }

    /// A BYTES element, or a float spelled as TF Serving spells NaN and the
    /// infinities: which one is decided by the input's datatype, later.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let text = &mut self.collector.text;
        let (start, len) = match (u32::try_from(text.len()), u32::try_from(v.len())) {
            (Ok(start), Ok(len)) if start.checked_add(len).is_some() => (start, len),
            _ => return Err(E::custom("the strings in one body exceed 4 GiB")),
        };
        text.push_str(v);
        self.collector.leaf(self.depth, Scalar::Text(start, len))
    }
}

/// TF Serving's spellings of non-finite floats, which our encoder writes too.
fn non_finite(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

impl Nested {
    /// Converts to a typed tensor, checking every value fits `dtype` exactly.
    ///
    /// `what` names the field for error messages (e.g. "input `x`").
    pub fn to_tensor(
        &self,
        dtype: DataType,
        shape: Vec<usize>,
        what: &dyn fmt::Display,
    ) -> Result<Tensor, String> {
        let mut data = Vec::with_capacity(self.values.len() * dtype.size() + self.text.len());
        // One loop per datatype, the type dispatched once rather than per value: this
        // runs on every value of every JSON request.
        macro_rules! each {
            ($convert:expr) => {
                for (i, &v) in self.values.iter().enumerate() {
                    match ($convert)(v) {
                        Ok(bytes) => data.extend_from_slice(&bytes),
                        Err(why) => return Err(self.refused(what, dtype, i, v, why)),
                    }
                }
            };
        }
        let text = |v| self.text_of(v);
        match dtype {
            DataType::Bool => each!(|v| to_bool(v).map(|b| [b])),
            DataType::U8 => each!(|v| to_int::<u8>(v).map(u8::to_le_bytes)),
            DataType::U16 => each!(|v| to_int::<u16>(v).map(u16::to_le_bytes)),
            DataType::U32 => each!(|v| to_int::<u32>(v).map(u32::to_le_bytes)),
            DataType::U64 => each!(|v| to_int::<u64>(v).map(u64::to_le_bytes)),
            DataType::I8 => each!(|v| to_int::<i8>(v).map(i8::to_le_bytes)),
            DataType::I16 => each!(|v| to_int::<i16>(v).map(i16::to_le_bytes)),
            DataType::I32 => each!(|v| to_int::<i32>(v).map(i32::to_le_bytes)),
            DataType::I64 => each!(|v| to_int::<i64>(v).map(i64::to_le_bytes)),
            DataType::F16 => each!(|v| to_f16(v, text(v)).map(half::f16::to_le_bytes)),
            DataType::F32 => each!(|v| to_f32(v, text(v)).map(f32::to_le_bytes)),
            DataType::F64 => each!(|v| to_float(v, text(v)).map(f64::to_le_bytes)),
            DataType::Bytes => {
                for (i, &v) in self.values.iter().enumerate() {
                    match v {
                        Scalar::Text(..) => {
                            crate::tensor::push_string(&mut data, text(v).as_bytes())?
                        }
                        _ => return Err(self.refused(what, dtype, i, v, Refusal::NotText)),
                    }
                }
            }
        }
        Tensor::new(dtype, shape, Bytes::from(data)).map_err(|e| format!("{what}: {e}"))
    }

    /// The string of a [`Scalar::Text`]; empty for any other value.
    fn text_of(&self, v: Scalar) -> &str {
        match v {
            Scalar::Text(start, len) => &self.text[start as usize..(start + len) as usize],
            _ => "",
        }
    }

    /// The message for value `i` that cannot become `dtype`.
    #[cold]
    fn refused(
        &self,
        what: &dyn fmt::Display,
        dtype: DataType,
        i: usize,
        v: Scalar,
        why: Refusal,
    ) -> String {
        let why = why.explain(dtype);
        let value = match v {
            Scalar::Float(f) => f.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Uint(u) => u.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Text(..) => format!("{:?}", truncated(self.text_of(v))),
        };
        format!("{what}: element {i} ({value}) {why}")
    }
}

/// At most 40 characters of a string quoted in an error message.
fn truncated(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Why a value cannot become the datatype asked for; small, so converting a value
/// returns a small `Result`, and worded only for an error message.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    NotBoolean,
    NotInteger,
    Boolean,
    OutOfRange,
    /// A string where a number or boolean belongs.
    Text,
    /// A number or boolean where a string belongs.
    NotText,
}

impl Refusal {
    fn explain(self, dtype: DataType) -> String {
        match self {
            Refusal::NotBoolean => "is not a boolean, expected BOOL (true/false)".into(),
            Refusal::NotInteger => format!("is not an integer, expected {dtype}"),
            Refusal::Boolean => format!("is a boolean, expected {dtype}"),
            Refusal::OutOfRange => format!("is out of range for {dtype}"),
            Refusal::Text => format!("is a string, expected {dtype}"),
            Refusal::NotText => "is not a string, expected BYTES".into(),
        }
    }
}

// One value as one datatype, refusing lossy conversions.

fn to_bool(v: Scalar) -> Result<u8, Refusal> {
    match v {
        Scalar::Bool(b) => Ok(u8::from(b)),
        Scalar::Uint(u @ (0 | 1)) => Ok(u as u8),
        Scalar::Text(..) => Err(Refusal::Text),
        _ => Err(Refusal::NotBoolean),
    }
}

fn to_int<T: TryFrom<i128>>(v: Scalar) -> Result<T, Refusal> {
    let wide = match v {
        Scalar::Uint(u) => i128::from(u),
        Scalar::Int(i) => i128::from(i),
        Scalar::Float(f) if f.fract() == 0.0 && f.is_finite() => f as i128,
        Scalar::Float(_) => return Err(Refusal::NotInteger),
        Scalar::Bool(_) => return Err(Refusal::Boolean),
        Scalar::Text(..) => return Err(Refusal::Text),
    };
    T::try_from(wide).map_err(|_| Refusal::OutOfRange)
}

/// `text` is the string of a [`Scalar::Text`], which may spell NaN or an infinity.
fn to_float(v: Scalar, text: &str) -> Result<f64, Refusal> {
    match v {
        Scalar::Float(f) => Ok(f),
        Scalar::Int(i) => Ok(i as f64),
        Scalar::Uint(u) => Ok(u as f64),
        Scalar::Bool(_) => Err(Refusal::Boolean),
        Scalar::Text(..) => non_finite(text).ok_or(Refusal::Text),
    }
}

fn to_f32(v: Scalar, text: &str) -> Result<f32, Refusal> {
    let x = to_float(v, text)?;
    let narrow = x as f32;
    if x.is_finite() && !narrow.is_finite() {
        return Err(Refusal::OutOfRange);
    }
    Ok(narrow)
}

fn to_f16(v: Scalar, text: &str) -> Result<half::f16, Refusal> {
    let x = to_float(v, text)?;
    let narrow = half::f16::from_f64(x);
    if x.is_finite() && !narrow.is_finite() {
        return Err(Refusal::OutOfRange);
    }
    Ok(narrow)
}

/// Serializes a tensor's values as nested JSON arrays following its shape.
pub struct NestedOut<'a> {
    /// The tensor to write.
    pub tensor: &'a Tensor,
}

/// Serializes a tensor's values as one flat JSON array (V2 `data`).
pub struct FlatOut<'a> {
    /// The tensor to write.
    pub tensor: &'a Tensor,
}

impl Serialize for NestedOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.tensor;
        if t.dtype.is_bytes() {
            let strings: Vec<&str> = t.strings().collect();
            if t.shape.is_empty() {
                return strings.first().copied().unwrap_or_default().serialize(s);
            }
            return StringDims {
                shape: &t.shape,
                strings: &strings,
            }
            .serialize(s);
        }
        let size = t.dtype.size();
        if t.shape.is_empty() {
            return Element(t.dtype, &t.data[..size]).serialize(s);
        }
        Dims {
            dtype: t.dtype,
            shape: &t.shape,
            data: &t.data,
        }
        .serialize(s)
    }
}

impl Serialize for FlatOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.tensor;
        if t.dtype.is_bytes() {
            return s.collect_seq(t.strings());
        }
        let size = t.dtype.size();
        let mut seq = s.serialize_seq(Some(t.len()))?;
        for chunk in t.data.chunks_exact(size) {
            seq.serialize_element(&Element(t.dtype, chunk))?;
        }
        seq.end()
    }
}

/// One nesting level of an output tensor.
struct Dims<'a> {
    dtype: DataType,
    shape: &'a [usize],
    data: &'a [u8],
}

impl Serialize for Dims<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.shape[0];
        let mut seq = s.serialize_seq(Some(n))?;
        if self.shape.len() == 1 {
            for chunk in self.data.chunks_exact(self.dtype.size()) {
                seq.serialize_element(&Element(self.dtype, chunk))?;
            }
        } else {
            let inner: usize = self.shape[1..].iter().product::<usize>() * self.dtype.size();
            for i in 0..n {
                seq.serialize_element(&Dims {
                    dtype: self.dtype,
                    shape: &self.shape[1..],
                    data: &self.data[i * inner..(i + 1) * inner],
                })?;
            }
        }
        seq.end()
    }
}

/// One nesting level of a BYTES output tensor.
struct StringDims<'a> {
    shape: &'a [usize],
    strings: &'a [&'a str],
}

impl Serialize for StringDims<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.shape.len() == 1 {
            return self.strings.serialize(s);
        }
        let n = self.shape[0];
        let inner = self.strings.len().checked_div(n).unwrap_or(0);
        let mut seq = s.serialize_seq(Some(n))?;
        for i in 0..n {
            seq.serialize_element(&StringDims {
                shape: &self.shape[1..],
                strings: &self.strings[i * inner..(i + 1) * inner],
            })?;
        }
        seq.end()
    }
}

/// One element, written in its own type so f32 prints its shortest exact form.
struct Element<'a>(DataType, &'a [u8]);

impl Serialize for Element<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.1;
        match self.0 {
            DataType::Bool => s.serialize_bool(b[0] != 0),
            DataType::U8 => s.serialize_u8(b[0]),
            DataType::I8 => s.serialize_i8(b[0] as i8),
            DataType::U16 => s.serialize_u16(u16::from_le_bytes([b[0], b[1]])),
            DataType::I16 => s.serialize_i16(i16::from_le_bytes([b[0], b[1]])),
            DataType::U32 => s.serialize_u32(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            DataType::I32 => s.serialize_i32(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            DataType::U64 => s.serialize_u64(u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            DataType::I64 => s.serialize_i64(i64::from_le_bytes(b.try_into().expect("8 bytes"))),
            DataType::F16 => finite_or_null(s, half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
            DataType::F32 => finite_or_null(s, f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            DataType::F64 => {
                let v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
                if v.is_finite() {
                    s.serialize_f64(v)
                } else {
                    s.serialize_str(non_finite_name(v))
                }
            }
            // Strings never reach here: their tensors are written whole, above.
            DataType::Bytes => s.serialize_unit(),
        }
    }
}

/// JSON has no NaN: write the TF Serving spellings, which our decoder also reads.
fn finite_or_null<S: Serializer>(s: S, v: f32) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f32(v)
    } else {
        s.serialize_str(non_finite_name(f64::from(v)))
    }
}

fn non_finite_name(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Nested, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn nested_arrays_flatten_with_shape() {
        let n = parse("[[1, 2.5, -3], [4, 5, 6]]").unwrap();
        assert_eq!(n.shape, vec![2, 3]);
        assert_eq!(n.values[1], Scalar::Float(2.5));
        assert_eq!(n.values[2], Scalar::Int(-3));
        assert_eq!(parse("7").unwrap().shape, Vec::<usize>::new());
        assert_eq!(parse("[]").unwrap().shape, vec![0]);
    }

    #[test]
    fn ragged_arrays_are_rejected() {
        assert!(parse("[[1, 2], [3]]")
            .unwrap_err()
            .contains("not rectangular"));
        assert!(parse("[[1, 2], 3]")
            .unwrap_err()
            .contains("not rectangular"));
        assert!(parse("[1, [2]]").unwrap_err().contains("not rectangular"));
    }

    #[test]
    fn base64_objects_are_refused_with_the_reason() {
        let err = parse(r#"[{"b64": "aGk="}]"#).unwrap_err();
        assert!(
            err.contains("binary strings ({\"b64\": ...}) are not supported"),
            "{err}"
        );
    }

    #[test]
    fn strings_become_bytes_and_numbers_do_not() {
        let n = parse(r#"[["red", "NaN"], ["", "é\"q"]]"#).unwrap();
        let t = n.to_tensor(DataType::Bytes, vec![2, 2], &"x").unwrap();
        assert_eq!(t.strings().collect::<Vec<_>>(), ["red", "NaN", "", "é\"q"]);
        let out = serde_json::to_string(&NestedOut { tensor: &t }).unwrap();
        assert_eq!(out, r#"[["red","NaN"],["","é\"q"]]"#);
        let flat = serde_json::to_string(&FlatOut { tensor: &t }).unwrap();
        assert_eq!(flat, r#"["red","NaN","","é\"q"]"#);
        let err = parse(r#"["a", 1]"#)
            .unwrap()
            .to_tensor(DataType::Bytes, vec![2], &"input `x`")
            .unwrap_err();
        assert!(
            err.contains("input `x`: element 1 (1) is not a string, expected BYTES"),
            "{err}"
        );
        let err = parse(r#"[1, "x"]"#)
            .unwrap()
            .to_tensor(DataType::F32, vec![2], &"input `x`")
            .unwrap_err();
        assert!(
            err.contains("element 1 (\"x\") is a string, expected FP32"),
            "{err}"
        );
        let err = parse(r#"["NaN"]"#)
            .unwrap()
            .to_tensor(DataType::I64, vec![1], &"x")
            .unwrap_err();
        assert!(err.contains("is a string, expected INT64"), "{err}");
    }

    #[test]
    fn conversion_refuses_lossy_values() {
        let n = parse("[1, 300]").unwrap();
        let err = n
            .to_tensor(DataType::U8, vec![2], &"input `x`")
            .unwrap_err();
        assert!(
            err.contains("element 1 (300) is out of range for UINT8"),
            "{err}"
        );
        let err = parse("[1.5]")
            .unwrap()
            .to_tensor(DataType::I32, vec![1], &"x")
            .unwrap_err();
        assert!(err.contains("is not an integer"), "{err}");
        let t = parse("[1, 2.5]")
            .unwrap()
            .to_tensor(DataType::F32, vec![2], &"x")
            .unwrap();
        assert_eq!(t.to_f64_vec(), vec![1.0, 2.5]);
    }

    #[test]
    fn f32_conversion_matches_the_general_rules() {
        let t = parse(r#"[18446744073709551615, -9223372036854775808, 0.1, "NaN"]"#)
            .unwrap()
            .to_tensor(DataType::F32, vec![4], &"x")
            .unwrap();
        let got: Vec<f32> = t
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(
            got[..3],
            [u64::MAX as f64 as f32, i64::MIN as f64 as f32, 0.1]
        );
        assert!(got[3].is_nan());
        let err = parse("[1, 1e39]")
            .unwrap()
            .to_tensor(DataType::F32, vec![2], &"x")
            .unwrap_err();
        assert!(
            err.contains(
                "element 1 (1000000000000000000000000000000000000000) is out of range for FP32"
            ),
            "{err}"
        );
        let err = parse("[1, true]")
            .unwrap()
            .to_tensor(DataType::F32, vec![2], &"x")
            .unwrap_err();
        assert!(err.contains("element 1 (true) is a boolean"), "{err}");
    }

    #[test]
    fn output_round_trips_through_json() {
        let t = Tensor::from_f32(vec![2, 2], &[0.1, 2.0, f32::NAN, -4.25]).unwrap();
        let s = serde_json::to_string(&NestedOut { tensor: &t }).unwrap();
        assert_eq!(s, r#"[[0.1,2.0],["NaN",-4.25]]"#);
        let back = parse(&s)
            .unwrap()
            .to_tensor(DataType::F32, vec![2, 2], &"x")
            .unwrap();
        assert_eq!(back.data[..4], t.data[..4]);
        let flat = serde_json::to_string(&FlatOut { tensor: &t }).unwrap();
        assert_eq!(flat, r#"[0.1,2.0,"NaN",-4.25]"#);
    }
}
