//! `Scaler` (ai.onnx.ml): `y = (x - offset) * scale`, per feature.
//!
//! This is what skl2onnx emits for `StandardScaler`. It is wired as a `Sub`
//! followed by a `Mul` in f32, the same two roundings onnxruntime performs, so
//! a value sitting next to a downstream tree threshold lands on the same side
//! in both engines.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math::{mul, sub};
use tract_onnx::tract_hir::internal::*;

/// Parses a `Scaler` node; registered by [`super::onnx`].
pub(super) fn scaler(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let offset = coefficients(node, "offset")?;
    let scale = coefficients(node, "scale")?;
    Ok((expand(Scaler { offset, scale }), vec![]))
}

/// Reads `offset` or `scale`. The spec gives no default; absent means the
/// identity (onnxruntime refuses such models, but nothing is ambiguous).
fn coefficients(node: &NodeProto, name: &str) -> TractResult<Option<Arc<Tensor>>> {
    let Some(values) = node.get_attr_opt_vec::<f32>(name)? else {
        return Ok(None);
    };
    node.expect_attr(name, !values.is_empty(), "at least one value")?;
    Ok(Some(rctensor1(&values)))
}

/// The parsed operator: each vector has one value, or one per feature.
#[derive(Debug, Clone)]
struct Scaler {
    /// Subtracted first; `None` when the attribute is absent.
    offset: Option<Arc<Tensor>>,
    /// Multiplied second; `None` when the attribute is absent.
    scale: Option<Arc<Tensor>>,
}

impl Scaler {
    /// Wires `input <op> coefficients`, the coefficients laid along the last axis.
    fn wire_coefficients(
        name: String,
        model: &mut TypedModel,
        op: impl Into<Box<dyn TypedOp>>,
        input: OutletId,
        coefficients: &Tensor,
    ) -> TractResult<OutletId> {
        let fact = model.outlet_fact(input)?.clone();
        let features = fact.shape.last().cloned().unwrap_or_else(|| 1.into());
        let len = coefficients.len();
        if let Ok(features) = features.to_usize() {
            ensure!(
                len == 1 || len == features,
                "Scaler: {name} has {len} values, input has {features} features"
            );
        }
        // Shape [1, .., 1, len] so the constant broadcasts over the batch axes.
        let mut shape = vec![1; fact.rank().saturating_sub(1)];
        shape.push(len);
        let konst = coefficients.clone().into_shape(&shape)?;
        let konst = model.add_const(format!("{name}.values"), konst)?;
        Ok(model.wire_node(name, op, &[input, konst])?[0])
    }
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut x = inputs[0];
        // The spec accepts doubles and integers too; the output is always f32.
        if model.outlet_fact(x)?.datum_type != f32::datum_type() {
            let cast = tract_onnx::tract_core::ops::cast::cast(f32::datum_type());
            x = model.wire_node(format!("{prefix}.to_f32"), cast, &[x])?[0];
        }
        if let Some(offset) = &self.offset {
            x = Self::wire_coefficients(format!("{prefix}.offset"), model, sub(), x, offset)?;
        }
        if let Some(scale) = &self.scale {
            x = Self::wire_coefficients(format!("{prefix}.scale"), model, mul(), x, scale)?;
        }
        Ok(tvec!(x))
    }
}
