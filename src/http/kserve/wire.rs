//! Open Inference Protocol (KServe V2) wire types, JSON and the binary tensor extension.

use crate::error::ApiError;
use crate::json::{FlatOut, Nested};
use crate::request::{InferResponse, InputData, InputTensor};
use crate::tensor::{DataType, Tensor};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST .../infer` body (the JSON part, when binary data follows).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V2Request {
    /// Echoed in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// Request parameters (`binary_data_output` is the one we act on).
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Input tensors.
    pub inputs: Vec<V2Input>,
    /// Outputs to return, with per-output parameters (`binary_data`).
    #[serde(default)]
    pub outputs: Option<Vec<V2RequestedOutput>>,
}

/// One input tensor.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V2Input {
    pub name: String,
    pub shape: Vec<usize>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Flat or nested values; absent when `binary_data_size` is given.
    #[serde(default)]
    pub data: Option<Nested>,
}

/// One requested output.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V2RequestedOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// Reads a boolean parameter, treating absence as `false`.
pub(super) fn flag(params: &Option<Map<String, Value>>, key: &str) -> Result<bool, ApiError> {
    match params.as_ref().and_then(|p| p.get(key)) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::bad_request(format!(
            "parameter `{key}` must be true or false, got {other}"
        ))),
    }
}

/// Parses a V2 datatype name, refusing `BYTES` with a clear reason.
pub(super) fn datatype(name: &str, input: &str) -> Result<DataType, ApiError> {
    DataType::from_name(name).ok_or_else(|| {
        if name == "BYTES" {
            ApiError::bad_request(format!(
                "input `{input}` has datatype BYTES, which no model here takes; send numbers"
            ))
        } else {
            let allowed: Vec<&str> = DataType::ALL.iter().map(|d| d.name()).collect();
            ApiError::bad_request(format!(
                "input `{input}` has unknown datatype {name:?}; expected one of {}",
                allowed.join(", ")
            ))
        }
    })
}

/// Converts the inputs, taking binary payloads in order from `binary`.
pub(super) fn inputs(
    inputs: Vec<V2Input>,
    mut binary: Bytes,
) -> Result<Vec<InputTensor>, ApiError> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let dtype = datatype(&input.datatype, &input.name)?;
        let size = match input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
        {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                ApiError::bad_request(format!(
                    "input `{}`: binary_data_size must be a whole number of bytes, got {v}",
                    input.name
                ))
            })? as usize),
        };
        let data = match (input.data, size) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}` has both `data` and binary_data_size; give one",
                    input.name
                )))
            }
            (Some(nested), None) => InputData::Json(nested),
            (None, Some(n)) => {
                if n > binary.len() {
                    return Err(ApiError::bad_request(format!(
                        "input `{}` declares binary_data_size {n} but only {} binary bytes remain",
                        input.name,
                        binary.len()
                    )));
                }
                InputData::Raw(binary.split_to(n))
            }
            (None, None) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}` has no `data` and no binary_data_size",
                    input.name
                )))
            }
        };
        out.push(InputTensor {
            name: Some(input.name),
            datatype: Some(dtype),
            shape: Some(input.shape),
            data,
        });
    }
    if !binary.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{} binary bytes follow the JSON header but no input claims them",
            binary.len()
        )));
    }
    Ok(out)
}

/// The JSON part of a response.
#[derive(Serialize)]
pub(super) struct V2Response<'a> {
    pub model_name: &'a str,
    pub model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub outputs: Vec<V2Output<'a>>,
}

/// One output: values inline, or a size pointing into the binary tail.
#[derive(Serialize)]
pub(super) struct V2Output<'a> {
    pub name: &'a str,
    pub datatype: &'static str,
    pub shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<FlatOut<'a>>,
}

/// Builds the response JSON and the binary tail (empty when nothing is binary).
pub(super) fn response<'a>(
    answer: &'a InferResponse,
    id: Option<&'a str>,
    binary: &[bool],
) -> (V2Response<'a>, Vec<u8>) {
    let mut tail = Vec::new();
    let outputs = answer
        .outputs
        .iter()
        .zip(binary)
        .map(|((name, tensor), &is_binary)| output(name, tensor, is_binary, &mut tail))
        .collect();
    let body = V2Response {
        model_name: &answer.model,
        model_version: answer.version.to_string(),
        id,
        outputs,
    };
    (body, tail)
}

fn output<'a>(
    name: &'a str,
    tensor: &'a Tensor,
    is_binary: bool,
    tail: &mut Vec<u8>,
) -> V2Output<'a> {
    let mut out = V2Output {
        name,
        datatype: tensor.dtype.name(),
        shape: &tensor.shape,
        parameters: None,
        data: None,
    };
    if is_binary {
        tail.extend_from_slice(&tensor.data);
        out.parameters = Some(serde_json::json!({ "binary_data_size": tensor.data.len() }));
    } else {
        out.data = Some(FlatOut { tensor });
    }
    out
}
