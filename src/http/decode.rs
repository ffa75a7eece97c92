//! The JSON request bodies decoded into inputs exactly as the predict and infer
//! handlers decode them (the fast path of `crate::json::fast`, else serde), with no
//! decode limits: for benchmarks that time decoding apart from serving
//! (`benches/hot_path.rs`).

use super::body::{parse_or, Received};
use super::tfserving::wire::TfBody;
use crate::error::ApiError;
use crate::json::Limits;
use crate::request::InputTensor;
use bytes::Bytes;

/// A TF Serving row-format body (`{"instances": ...}`).
pub fn tf_instances(body: Bytes) -> Result<Vec<InputTensor>, ApiError> {
    let body: TfBody = parse_or(&Received::new(body, Limits::NONE), TfBody::fast)?;
    match body.instances {
        Some(instances) => Ok(instances.0.into_inputs()),
        None => Err(ApiError::bad_request("no `instances`")),
    }
}

/// A V2 JSON body, every input's data in the JSON.
pub fn v2_json(body: Bytes) -> Result<Vec<InputTensor>, ApiError> {
    super::kserve::decode_json(body)
}
