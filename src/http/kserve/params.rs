//! The `parameters` objects of a V2 request that inferd reads: the binary tensor
//! extension's, Triton's `classification`, and `content_type`. Keys not named here
//! are skipped; the ones named are typed, so a wrong type is a 400 naming the key.

use super::wire::{V2Input, V2Request};
use crate::error::ApiError;
use crate::tensor::DataType;
use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;

/// A `parameters` value, which must be a JSON object: serde's derived structs also
/// take an array (fields by position), and `"parameters": []` is a wrong type, to be
/// refused with a 400 naming it.
pub(super) struct Params<T>(T);

impl<T> std::ops::Deref for Params<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Params<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Params<T>, D::Error> {
        d.deserialize_map(ObjectVisitor(PhantomData)).map(Params)
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of parameters")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Request-level `parameters` that change the answer; other keys (Triton's
/// `priority`, `timeout`, `sequence_id`, custom ones) are ignored.
#[derive(Deserialize, Default)]
pub(super) struct RequestParameters {
    /// Every output in binary unless an output says otherwise (Triton's default).
    #[serde(default)]
    pub binary_data_output: Option<bool>,
    /// The request's codec (`"np"`, `"pd"`): read so that a non-string is a 400, and
    /// otherwise unused, because each tensor's own datatype decides its decoding.
    #[serde(default)]
    #[allow(dead_code)]
    pub content_type: Option<String>,
}

/// Input-tensor `parameters` inferd reads; other keys are ignored.
#[derive(Deserialize, Default)]
pub(super) struct InputParameters {
    /// Length of this input's bytes in the binary tail.
    #[serde(default)]
    pub binary_data_size: Option<u64>,
    /// The tensor's codec: `"np"` for plain numbers, others need BYTES.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Triton's shared-memory extension, which inferd does not offer: present means
    /// the data is not in the body, so the request is refused rather than misread.
    #[serde(default)]
    pub shared_memory_region: Option<IgnoredAny>,
}

/// Requested-output `parameters` inferd reads; other keys are ignored.
#[derive(Deserialize, Default)]
pub(super) struct OutputParameters {
    /// This output in binary (overrides `binary_data_output`).
    #[serde(default)]
    pub binary_data: Option<bool>,
    /// Triton's top-k classification: this many `"value:index"` strings per row.
    #[serde(default)]
    pub classification: Option<u64>,
    /// As for inputs: the answer would be expected in shared memory.
    #[serde(default)]
    pub shared_memory_region: Option<IgnoredAny>,
}

/// How one output is written back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct OutputMode {
    /// In the binary tail instead of inline `data`.
    pub binary: bool,
    /// Top-k labels instead of the values; `None` or 0 = the values.
    pub classification: Option<usize>,
}

/// What a request asks back: which outputs, and how each is written.
pub(super) struct Wanted {
    /// Output names in the order asked for; `None` = every output.
    pub names: Option<Vec<String>>,
    /// Mode of each named output, in the same order.
    pub modes: Vec<OutputMode>,
    /// Mode of every output when none is named.
    pub default: OutputMode,
}

impl Wanted {
    /// The mode of the answer's `i`-th output.
    pub(super) fn mode(&self, i: usize) -> OutputMode {
        self.modes.get(i).copied().unwrap_or(self.default)
    }
}

impl V2Request {
    /// The outputs asked for and their modes; an output's own `binary_data` wins over
    /// the request's `binary_data_output`, as in Triton.
    pub(super) fn wanted(&self) -> Result<Wanted, ApiError> {
        let all_binary = self.parameters.as_ref().and_then(|p| p.binary_data_output);
        let default = OutputMode {
            binary: all_binary.unwrap_or(false),
            classification: None,
        };
        let Some(list) = &self.outputs else {
            return Ok(Wanted {
                names: None,
                modes: Vec::new(),
                default,
            });
        };
        let mut modes = Vec::with_capacity(list.len());
        for o in list {
            let p = o.parameters.as_ref();
            if p.is_some_and(|p| p.shared_memory_region.is_some()) {
                return Err(no_shared_memory("output", &o.name));
            }
            let k = p.and_then(|p| p.classification).filter(|&k| k > 0);
            modes.push(OutputMode {
                binary: p.and_then(|p| p.binary_data).unwrap_or(default.binary),
                classification: k.map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
            });
        }
        Ok(Wanted {
            names: Some(list.iter().map(|o| o.name.clone()).collect()),
            modes,
            default,
        })
    }
}

fn no_shared_memory(kind: &str, name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} `{name}` uses shared_memory_region, but inferd has no shared-memory \
         extension; send the data in the request body"
    ))
}

/// Checks the input parameters that decide how `data` is read.
pub(super) fn check_input_parameters(input: &V2Input, dtype: DataType) -> Result<(), ApiError> {
    let Some(p) = &input.parameters else {
        return Ok(());
    };
    if p.shared_memory_region.is_some() {
        return Err(no_shared_memory("input", &input.name));
    }
    // A codec says how to read `data`: "str" is BYTES read as text, which is how
    // inferd reads every BYTES tensor; "base64" (MLServer's) would need decoding
    // first, and on a numeric tensor any string codec would mean the numbers are
    // not what they seem.
    match p.content_type.as_deref() {
        None | Some("np") => Ok(()),
        Some("str") if dtype.is_bytes() => Ok(()),
        Some(other) if dtype.is_bytes() => Err(ApiError::bad_request(format!(
            "input `{}` has content_type {other:?}; inferd reads BYTES data as UTF-8 \
             text: send the strings themselves, with content_type \"str\" or none",
            input.name
        ))),
        Some(other) => Err(ApiError::bad_request(format!(
            "input `{}` has content_type {other:?}, which does not fit datatype {dtype}; \
             numeric tensors take \"np\" or no content_type",
            input.name
        ))),
    }
}
