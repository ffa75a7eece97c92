//! The protocol-independent request and response, and the one place where a request's
//! tensors are checked against a model's signature.
//!
//! Protocols only translate their wire format into `InferRequest` (names, nested JSON
//! numbers or raw bytes, an optional declared datatype and shape) and back from
//! `InferResponse`; every rule about names, types, shapes, rows and NaN lives here.

use crate::error::ApiError;
use crate::json::Nested;
use crate::model::{Signature, TensorSpec};
use crate::tensor::{element_count, DataType, Tensor};
use bytes::Bytes;

/// How the request wants the cache used (from `Cache-Control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Look up, and store what was computed.
    #[default]
    Use,
    /// `no-cache`: skip the lookup, still store the result.
    Refresh,
    /// `no-store`: neither look up nor store.
    Bypass,
}

/// One input as the wire gave it.
#[derive(Debug, Clone)]
pub struct InputTensor {
    /// Input name; `None` when the protocol allows omitting it for one-input models.
    pub name: Option<String>,
    /// Datatype stated by the client (V2), checked against the model.
    pub datatype: Option<DataType>,
    /// Shape stated by the client (V2); otherwise the JSON nesting is the shape.
    pub shape: Option<Vec<usize>>,
    /// The values.
    pub data: InputData,
}

/// Values of one input.
#[derive(Debug, Clone)]
pub enum InputData {
    /// Numbers parsed from JSON, converted to the model's datatype when bound.
    Json(Nested),
    /// Little-endian bytes (V2 binary extension) in the stated datatype.
    Raw(Bytes),
}

/// A prediction request, whichever protocol it came in by.
#[derive(Debug, Clone, Default)]
pub struct InferRequest {
    /// Model name; `None` = the default model.
    pub model: Option<String>,
    /// Version; `None` = the newest (or the labelled one).
    pub version: Option<u64>,
    /// Version label (`stable`, `canary`) from `model.toml`, instead of a number.
    pub label: Option<String>,
    /// Inputs as given.
    pub inputs: Vec<InputTensor>,
    /// Outputs to return; `None` = all.
    pub outputs: Option<Vec<String>>,
    /// Cache use requested by the client.
    pub cache: CachePolicy,
}

/// Whether the answer came from the cache (the `x-inferd-cache` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Every row came from the cache.
    Hit,
    /// Some rows came from the cache.
    Partial,
    /// Nothing came from the cache.
    Miss,
    /// The cache was skipped (by request or configuration).
    Bypass,
}

impl CacheStatus {
    /// Header value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Partial => "partial",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

/// A prediction answer.
#[derive(Debug, Clone)]
pub struct InferResponse {
    /// Model that answered.
    pub model: String,
    /// Version that answered.
    pub version: u64,
    /// Requested outputs, in the order asked for (all, in the model's order, by default).
    pub outputs: Vec<(String, Tensor)>,
    /// Where the rows came from.
    pub cache: CacheStatus,
    /// Time spent queued and in the model (zero for cache hits).
    pub timing: crate::batcher::Timing,
}

/// Inputs checked and converted, in signature order.
#[derive(Debug, Clone)]
pub struct Bound {
    /// One tensor per model input, in signature order.
    pub inputs: Vec<Tensor>,
    /// Rows (first dimension) shared by every input.
    pub rows: usize,
    /// Indexes into the signature's outputs that the client asked for.
    pub outputs: Vec<usize>,
}

/// Checks a request against a signature and converts its values.
pub fn bind(
    req: &InferRequest,
    model: &str,
    sig: &Signature,
    max_rows: usize,
    allow_nan: bool,
) -> Result<Bound, ApiError> {
    let bad = ApiError::bad_request;
    let mut slots: Vec<Option<Tensor>> = vec![None; sig.inputs.len()];
    for input in &req.inputs {
        let index = match &input.name {
            Some(name) => sig
                .inputs
                .iter()
                .position(|s| &s.name == name)
                .ok_or_else(|| {
                    bad(format!(
                        "unknown input `{name}`; model `{model}` expects inputs: {}",
                        names(&sig.inputs)
                    ))
                })?,
            None if sig.inputs.len() == 1 => 0,
            None => {
                return Err(bad(format!(
                    "inputs must be named; model `{model}` expects inputs: {}",
                    names(&sig.inputs)
                )))
            }
        };
        let spec = &sig.inputs[index];
        if slots[index].is_some() {
            return Err(bad(format!(
                "input `{}` is given more than once",
                spec.name
            )));
        }
        let tensor = convert(input, spec).map_err(bad)?;
        if !allow_nan && tensor.has_non_finite() {
            return Err(bad(format!(
                "input `{}` contains NaN or infinity; model `{model}` accepts only finite values",
                spec.name
            )));
        }
        slots[index] = Some(tensor);
    }
    let mut inputs = Vec::with_capacity(slots.len());
    for (slot, spec) in slots.into_iter().zip(&sig.inputs) {
        inputs.push(slot.ok_or_else(|| bad(format!("missing input `{}`", spec.name)))?);
    }
    let rows = rows_of(&inputs, model, max_rows)?;
    let outputs = match &req.outputs {
        None => (0..sig.outputs.len()).collect(),
        Some(wanted) => wanted
            .iter()
            .map(|w| {
                sig.outputs
                    .iter()
                    .position(|o| &o.name == w)
                    .ok_or_else(|| {
                        bad(format!(
                            "unknown output `{w}`; model `{model}` has outputs: {}",
                            names(&sig.outputs)
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Bound {
        inputs,
        rows,
        outputs,
    })
}

/// Converts one input to the spec's datatype and checks its shape.
fn convert(input: &InputTensor, spec: &TensorSpec) -> Result<Tensor, String> {
    let what = InputLabel(&spec.name);
    if let Some(dt) = input.datatype {
        if dt != spec.dtype {
            return Err(format!(
                "{what} has datatype {dt} but the model expects {}",
                spec.dtype
            ));
        }
    }
    let tensor = match &input.data {
        InputData::Json(nested) => {
            let shape = match &input.shape {
                Some(shape) => {
                    let want = element_count(shape).unwrap_or(usize::MAX);
                    if want != nested.values.len() {
                        return Err(format!(
                            "{what}: shape {shape:?} needs {want} values, got {}",
                            nested.values.len()
                        ));
                    }
                    shape.clone()
                }
                None => nested.shape.clone(),
            };
            nested.to_tensor(spec.dtype, shape, &what)?
        }
        InputData::Raw(bytes) => {
            let shape = input
                .shape
                .clone()
                .ok_or_else(|| format!("{what}: shape is required"))?;
            check_raw_bools(spec.dtype, bytes, &what)?;
            Tensor::new(spec.dtype, shape, bytes.clone()).map_err(|e| format!("{what}: {e}"))?
        }
    };
    if !spec.accepts_shape(&tensor.shape) {
        return Err(format!(
            "{what} has shape {:?} but the model expects {:?} (-1 = any size)",
            tensor.shape, spec.shape
        ));
    }
    Ok(tensor)
}

/// Raw BOOL bytes must be 0 or 1: anything else would go into the engine's booleans
/// as a value that is neither.
fn check_raw_bools(dtype: DataType, bytes: &[u8], what: &InputLabel) -> Result<(), String> {
    if dtype != DataType::Bool {
        return Ok(());
    }
    match bytes.iter().position(|&b| b > 1) {
        Some(i) => Err(format!(
            "{what}: byte {i} is {}; BOOL bytes must be 0 or 1",
            bytes[i]
        )),
        None => Ok(()),
    }
}

/// "input `name`", written only into error messages (not built on every request).
struct InputLabel<'a>(&'a str);

impl std::fmt::Display for InputLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input `{}`", self.0)
    }
}

fn rows_of(inputs: &[Tensor], model: &str, max_rows: usize) -> Result<usize, ApiError> {
    let rows = inputs.first().map_or(0, Tensor::rows);
    if let Some(other) = inputs.iter().find(|t| t.rows() != rows) {
        return Err(ApiError::bad_request(format!(
            "inputs disagree on the number of rows: {rows} and {}",
            other.rows()
        )));
    }
    if rows == 0 {
        return Err(ApiError::bad_request("the request has no rows"));
    }
    if rows > max_rows {
        return Err(ApiError::bad_request(format!(
            "the request has {rows} rows; model `{model}` accepts at most {max_rows} rows per request"
        )));
    }
    Ok(rows)
}

fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("`{}`", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bool_model() -> Signature {
        let spec = TensorSpec {
            name: "flags".into(),
            dtype: DataType::Bool,
            shape: vec![-1, 2],
        };
        Signature {
            inputs: vec![spec.clone()],
            outputs: vec![spec],
        }
    }

    fn raw(bytes: &'static [u8]) -> InferRequest {
        InferRequest {
            inputs: vec![InputTensor {
                name: Some("flags".into()),
                datatype: Some(DataType::Bool),
                shape: Some(vec![bytes.len() / 2, 2]),
                data: InputData::Raw(Bytes::from_static(bytes)),
            }],
            ..InferRequest::default()
        }
    }

    #[test]
    fn raw_bool_bytes_must_be_zero_or_one() {
        let sig = bool_model();
        let bound = bind(&raw(&[0, 1, 1, 0]), "m", &sig, 8, false).unwrap();
        assert_eq!(&bound.inputs[0].data[..], &[0, 1, 1, 0]);
        let err = bind(&raw(&[0, 1, 2, 0]), "m", &sig, 8, false).unwrap_err();
        assert_eq!(
            err,
            ApiError::bad_request("input `flags`: byte 2 is 2; BOOL bytes must be 0 or 1")
        );
    }
}
