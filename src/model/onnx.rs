//! The tract-backed model: loads an ONNX file once into an optimized plan that every
//! inference thread shares. tract's types and errors stop at this file's boundary.

pub mod walk;

use super::{InputError, Model, ModelError, Signature, TensorSpec};
use crate::tensor::{DataType, Tensor};
use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, IntoTValue, TDim, TValue,
    TractResult, TypedModel, TypedRunnableModel,
};
use tract_onnx::tract_hir::infer::Factoid;

/// An ONNX model compiled by tract with a symbolic batch dimension.
pub struct OnnxModel {
    /// The optimized plan; `Arc` because tract's `run` spawns a state from it.
    plan: Arc<TypedRunnableModel>,
    /// Names, types and shapes read from the model file.
    signature: Signature,
    /// The most rows one run takes before tract's matmul walk slows ([`walk`]).
    max_run_rows: Option<usize>,
}

impl OnnxModel {
    /// Loads and optimizes `path`. The error says what tract refused, for the
    /// start-up report.
    pub fn load(path: &Path) -> Result<OnnxModel, String> {
        let onnx = super::onnx_ml::onnx();
        let proto = onnx
            .proto_model_for_path(path)
            .map_err(|e| format!("cannot parse {}: {e:#}", path.display()))?;
        super::onnx_ml::check::check_model(&onnx, &proto)?;
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| format!("cannot parse {}: {e:#}", path.display()))?;
        let batch = TDim::from(model.sym("batch"));
        let input_count = model.input_outlets().map_err(|e| e.to_string())?.len();
        for ix in 0..input_count {
            let fact = model.input_fact(ix).map_err(|e| e.to_string())?.clone();
            let dt = fact
                .datum_type
                .concretize()
                .ok_or_else(|| format!("input {ix} has no declared element type"))?;
            if fact.shape.is_open() {
                return Err(format!("input {ix} has no declared rank"));
            }
            // Unnamed or unknown dimensions become symbols so one plan serves any size;
            // the first one is the batch dimension shared by every input.
            let dims: Vec<TDim> = fact
                .shape
                .dims()
                .enumerate()
                .map(|(i, d)| {
                    d.concretize().unwrap_or_else(|| {
                        if i == 0 {
                            batch.clone()
                        } else {
                            TDim::from(model.sym(&format!("d{ix}_{i}")))
                        }
                    })
                })
                .collect();
            model
                .set_input_fact(ix, InferenceFact::dt_shape(dt, dims))
                .map_err(|e| e.to_string())?;
        }
        // Declared output shapes are only hints, and converters get them wrong
        // (LightGBM's label is declared [1] for any number of rows): keep the
        // element type, let tract infer the shape from the graph.
        let output_count = model.output_outlets().map_err(|e| e.to_string())?.len();
        for ix in 0..output_count {
            let fact = model.output_fact(ix).map_err(|e| e.to_string())?;
            let fact = match fact.datum_type.concretize() {
                Some(dt) => InferenceFact::dt(dt),
                None => InferenceFact::default(),
            };
            model.set_output_fact(ix, fact).map_err(|e| e.to_string())?;
        }
        let names = |outlets: &[tract_onnx::prelude::OutletId]| -> Vec<String> {
            outlets
                .iter()
                .map(|o| {
                    model
                        .outlet_label(*o)
                        .map(str::to_string)
                        .unwrap_or_else(|| model.node(o.node).name.clone())
                })
                .collect()
        };
        let input_names = names(model.input_outlets().map_err(|e| e.to_string())?);
        let output_names = names(model.output_outlets().map_err(|e| e.to_string())?);
        let typed = model
            .into_optimized()
            .map_err(|e| format!("cannot optimize {}: {e:#}", path.display()))?;
        let typed = integer_outputs(typed).map_err(|e| e.to_string())?;
        let max_run_rows = walk::max_run_rows(&typed);
        let spec =
            |name: String, fact: &tract_onnx::prelude::TypedFact| -> Result<TensorSpec, String> {
                let dtype = data_type(fact.datum_type).ok_or_else(|| {
                    format!(
                        "`{name}` has unsupported element type {:?}",
                        fact.datum_type
                    )
                })?;
                let shape = fact
                    .shape
                    .iter()
                    .map(|d| d.to_i64().unwrap_or(-1))
                    .collect();
                Ok(TensorSpec { name, dtype, shape })
            };
        let inputs = input_names
            .into_iter()
            .enumerate()
            .map(|(i, n)| spec(n, typed.input_fact(i).map_err(|e| e.to_string())?))
            .collect::<Result<_, _>>()?;
        let outputs = output_names
            .into_iter()
            .enumerate()
            .map(|(i, n)| spec(n, typed.output_fact(i).map_err(|e| e.to_string())?))
            .collect::<Result<_, _>>()?;
        let plan = typed
            .into_runnable()
            .map_err(|e| format!("cannot plan {}: {e:#}", path.display()))?;
        Ok(OnnxModel {
            plan,
            signature: Signature { inputs, outputs },
            max_run_rows,
        })
    }
}

/// tract types some integer outputs as dimensions (`TDim`): a classifier's
/// label computed as `ArgMax` -> `ArrayFeatureExtractor` -> `Reshape` ->
/// `Cast(int64)` comes out so when its class table folds into the shape
/// arithmetic. Their values are plain integers; serve them as INT64.
fn integer_outputs(mut typed: TypedModel) -> TractResult<TypedModel> {
    use tract_onnx::tract_hir::internal::*;
    let mut outputs = typed.output_outlets()?.to_vec();
    let mut changed = false;
    for (ix, outlet) in outputs.iter_mut().enumerate() {
        if typed.outlet_fact(*outlet)?.datum_type == DatumType::TDim {
            let cast = tract_onnx::tract_core::ops::cast::cast(DatumType::I64);
            *outlet = typed.wire_node(format!("output{ix}.to_i64"), cast, &[*outlet])?[0];
            changed = true;
        }
    }
    if changed {
        typed.select_output_outlets(&outputs)?;
    }
    Ok(typed)
}

impl Model for OnnxModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn max_run_rows(&self) -> Option<usize> {
        self.max_run_rows
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ModelError> {
        let values = inputs.iter().map(to_tract).collect::<Result<_, _>>()?;
        let outputs = self.plan.run(values).map_err(|e| {
            match e.chain().find_map(|c| c.downcast_ref::<InputError>()) {
                Some(input) => ModelError::Input(input.to_string()),
                None => ModelError::Engine(format!("{e:#}")),
            }
        })?;
        outputs.iter().map(|v| from_tract(v)).collect()
    }
}

fn to_tract(t: &Tensor) -> Result<TValue, ModelError> {
    let tensor = if t.dtype.is_bytes() {
        let strings: Vec<String> = t.strings().map(str::to_string).collect();
        tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(t.shape.clone(), strings)
            .map(tract_onnx::prelude::Tensor::from)
            .map_err(|e| ModelError::Engine(e.to_string()))
    } else {
        let mut out = tract_onnx::prelude::Tensor::zero_dt(datum_type(t.dtype), &t.shape)
            .map_err(|e| ModelError::Engine(e.to_string()))?;
        out.as_bytes_mut().copy_from_slice(&t.data);
        Ok(out)
    };
    Ok(tensor?.into_tvalue())
}

fn from_tract(v: &tract_onnx::prelude::Tensor) -> Result<Tensor, ModelError> {
    let dtype = data_type(v.datum_type()).ok_or_else(|| {
        ModelError::Engine(format!(
            "model produced unsupported type {:?}",
            v.datum_type()
        ))
    })?;
    if dtype.is_bytes() {
        let view = v
            .to_plain_array_view::<String>()
            .map_err(|e| ModelError::Engine(e.to_string()))?;
        let strings: Vec<&str> = view.iter().map(String::as_str).collect();
        return Tensor::from_strings(v.shape().to_vec(), &strings).map_err(ModelError::Engine);
    }
    Tensor::new(
        dtype,
        v.shape().to_vec(),
        Bytes::copy_from_slice(v.as_bytes()),
    )
    .map_err(ModelError::Engine)
}

fn data_type(dt: DatumType) -> Option<DataType> {
    Some(match dt {
        DatumType::Bool => DataType::Bool,
        DatumType::U8 => DataType::U8,
        DatumType::U16 => DataType::U16,
        DatumType::U32 => DataType::U32,
        DatumType::U64 => DataType::U64,
        DatumType::I8 => DataType::I8,
        DatumType::I16 => DataType::I16,
        DatumType::I32 => DataType::I32,
        DatumType::I64 => DataType::I64,
        DatumType::F16 => DataType::F16,
        DatumType::F32 => DataType::F32,
        DatumType::F64 => DataType::F64,
        DatumType::String => DataType::Bytes,
        _ => return None,
    })
}

fn datum_type(dt: DataType) -> DatumType {
    match dt {
        DataType::Bool => DatumType::Bool,
        DataType::U8 => DatumType::U8,
        DataType::U16 => DatumType::U16,
        DataType::U32 => DatumType::U32,
        DataType::U64 => DatumType::U64,
        DataType::I8 => DatumType::I8,
        DataType::I16 => DatumType::I16,
        DataType::I32 => DatumType::I32,
        DataType::I64 => DatumType::I64,
        DataType::F16 => DatumType::F16,
        DataType::F32 => DatumType::F32,
        DataType::F64 => DatumType::F64,
        DataType::Bytes => DatumType::String,
    }
}
