//! Open Inference Protocol (KServe V2) wire types, JSON and the binary tensor extension.

use super::classify::{self, Labels};
use super::params::{
    check_input_parameters, InputParameters, OutputParameters, Params, RequestParameters, Wanted,
};
use crate::error::ApiError;
use crate::json::fast::Scanner;
use crate::json::{FlatOut, Nested};
use crate::request::{InferResponse, InputData, InputTensor};
use crate::tensor::{DataType, Tensor};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

/// `POST .../infer` body (the JSON part, when binary data follows). Fields not named
/// here (the KServe SDK's `model_name`, extensions of other servers) are skipped
/// unread; the fields named here are checked strictly.
#[derive(Deserialize)]
pub(super) struct V2Request {
    /// Echoed in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// Request parameters.
    #[serde(default)]
    pub parameters: Option<Params<RequestParameters>>,
    /// Input tensors.
    pub inputs: Vec<V2Input>,
    /// Outputs to return, with per-output parameters.
    #[serde(default)]
    pub outputs: Option<Vec<V2RequestedOutput>>,
}

impl V2Request {
    /// The common request, inputs of `name`, `shape`, `datatype` and numbers in `data`
    /// with at most an `id` beside them, read without serde (`crate::json::fast`);
    /// `None` for any other.
    pub(super) fn fast(bytes: &[u8]) -> Option<V2Request> {
        let mut request = V2Request {
            id: None,
            parameters: None,
            inputs: Vec::new(),
            outputs: None,
        };
        let mut inputs_seen = false;
        let mut s = Scanner::new(bytes);
        s.object(|key, s| {
            match key {
                "inputs" if !inputs_seen => {
                    inputs_seen = true;
                    s.array(|s| {
                        request.inputs.push(V2Input::fast(s)?);
                        Some(())
                    })?;
                }
                "id" if request.id.is_none() => request.id = Some(s.string()?.to_owned()),
                _ => return None,
            }
            Some(())
        })?;
        s.end()?;
        inputs_seen.then_some(request)
    }
}

impl V2Input {
    fn fast(s: &mut Scanner<'_>) -> Option<V2Input> {
        let (mut name, mut shape, mut datatype, mut data) = (None, None, None, None);
        s.object(|key, s| {
            match key {
                "name" if name.is_none() => name = Some(s.string()?.to_owned()),
                "datatype" if datatype.is_none() => datatype = Some(s.string()?.to_owned()),
                "shape" if shape.is_none() => {
                    let mut dims = Vec::with_capacity(2);
                    s.array(|s| {
                        dims.push(s.index()?);
                        Some(())
                    })?;
                    shape = Some(dims);
                }
                "data" if data.is_none() => data = Some(s.tensor(usize::MAX)?),
                _ => return None,
            }
            Some(())
        })?;
        Some(V2Input {
            name: name?,
            shape: shape?,
            datatype: datatype?,
            parameters: None,
            data,
        })
    }
}

/// One input tensor.
#[derive(Deserialize)]
pub(super) struct V2Input {
    /// Model input name.
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// V2 datatype name.
    pub datatype: String,
    /// Tensor parameters.
    #[serde(default)]
    pub parameters: Option<Params<InputParameters>>,
    /// Flat or nested values; absent when `binary_data_size` is given.
    #[serde(default)]
    pub data: Option<Nested>,
}

/// One requested output.
#[derive(Deserialize)]
pub(super) struct V2RequestedOutput {
    /// Model output name.
    pub name: String,
    /// Output parameters.
    #[serde(default)]
    pub parameters: Option<Params<OutputParameters>>,
}

/// Parses a V2 datatype name.
pub(super) fn datatype(name: &str, input: &str) -> Result<DataType, ApiError> {
    DataType::from_name(name).ok_or_else(|| {
        let allowed: Vec<&str> = DataType::ALL.iter().map(|d| d.name()).collect();
        ApiError::bad_request(format!(
            "input `{input}` has unknown datatype {name:?}; expected one of {}",
            allowed.join(", ")
        ))
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
        check_input_parameters(&input, dtype)?;
        let size = input
            .parameters
            .as_ref()
            .and_then(|p| p.binary_data_size)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
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
    pub shape: Cow<'a, [usize]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<OutputData<'a>>,
}

/// Inline values: the tensor's numbers, or classification labels.
pub(super) enum OutputData<'a> {
    /// The output's values, flat.
    Values(FlatOut<'a>),
    /// Top-k `"value:index"` strings.
    Labels(Vec<String>),
}

impl Serialize for OutputData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OutputData::Values(v) => v.serialize(s),
            OutputData::Labels(l) => l.serialize(s),
        }
    }
}

/// Builds the response JSON and the binary tail (empty when nothing is binary).
/// `batched` says whether dimension 0 is rows, for classification.
pub(super) fn response<'a>(
    answer: &'a InferResponse,
    id: Option<&'a str>,
    wanted: &Wanted,
    batched: bool,
) -> Result<(V2Response<'a>, Vec<u8>), ApiError> {
    let mut tail = Vec::new();
    let mut outputs = Vec::with_capacity(answer.outputs.len());
    for (i, (name, tensor)) in answer.outputs.iter().enumerate() {
        let mode = wanted.mode(i);
        let out = match mode.classification {
            None => output(name, tensor, mode.binary, &mut tail),
            Some(k) => {
                let labels = classify::top_k(name, tensor, k, batched)?;
                labels_output(name, labels, mode.binary, &mut tail)
            }
        };
        outputs.push(out);
    }
    let body = V2Response {
        model_name: &answer.model,
        model_version: answer.version.to_string(),
        id,
        outputs,
    };
    Ok((body, tail))
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
        shape: Cow::Borrowed(&tensor.shape),
        parameters: None,
        data: None,
    };
    if is_binary {
        tail.extend_from_slice(&tensor.data);
        out.parameters = Some(serde_json::json!({ "binary_data_size": tensor.data.len() }));
    } else {
        out.data = Some(OutputData::Values(FlatOut { tensor }));
    }
    out
}

fn labels_output<'a>(
    name: &'a str,
    labels: Labels,
    is_binary: bool,
    tail: &mut Vec<u8>,
) -> V2Output<'a> {
    let mut out = V2Output {
        name,
        datatype: "BYTES",
        shape: Cow::Owned(labels.shape.clone()),
        parameters: None,
        data: None,
    };
    if is_binary {
        let bytes = labels.to_bytes();
        out.parameters = Some(serde_json::json!({ "binary_data_size": bytes.len() }));
        tail.extend_from_slice(&bytes);
    } else {
        out.data = Some(OutputData::Labels(labels.strings));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parsed request holds, comparable.
    fn summary(request: V2Request) -> String {
        assert!(request.parameters.is_none() && request.outputs.is_none());
        let inputs: Vec<_> = request
            .inputs
            .into_iter()
            .map(|i| {
                assert!(i.parameters.is_none());
                (i.name, i.shape, i.datatype, i.data)
            })
            .collect();
        format!("{:?} {inputs:?}", request.id)
    }

    #[test]
    fn the_fast_request_is_the_serde_request() {
        for text in [
            r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1.5,2],[3e-2,-4]]}]}"#,
            r#"{"id": "r1", "inputs": [{"data": [1, 2], "datatype": "INT64", "shape": [2], "name": "a"},
                {"name": "b", "shape": [], "datatype": "FP64", "data": 0.5}]}"#,
            r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#,
        ] {
            let fast =
                V2Request::fast(text.as_bytes()).unwrap_or_else(|| panic!("declined {text}"));
            let serde: V2Request = serde_json::from_str(text).unwrap();
            assert_eq!(summary(fast), summary(serde), "{text}");
        }
    }

    #[test]
    fn other_requests_are_left_to_serde() {
        for text in [
            r#"{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]}"#,
            r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{}}]}"#,
            r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[]}"#,
            r#"{"inputs":[{"name":"x","shape":[1.0],"datatype":"FP32","data":[1]}]}"#,
            r#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}"#,
            r#"{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}"#,
            r#"{"inputs":[{"name":"x","name":"y","shape":[1],"datatype":"FP32","data":[1]}]}"#,
            r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":null}]}"#,
            r#"{"id":"a"}"#,
            r#"{"inputs":[]"#,
        ] {
            assert!(V2Request::fast(text.as_bytes()).is_none(), "{text}");
        }
    }
}
