//! `ArrayFeatureExtractor` (ai.onnx.ml): columns of `X` picked by indices.
//!
//! tract's version gathers with the indices as given, so a scalar index (what
//! skl2onnx writes to pick the positive class of a binary LinearSVC, or each
//! pairwise score of an SVC) drops the last axis: [N] where onnxruntime, which
//! always appends one axis of `len(indices)`, gives [N, 1], and the `Concat`
//! after it fails to load. Here a scalar index is made a one-element list
//! first; otherwise it is tract's gather on the last axis.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::array::Gather;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_hir::internal::*;

/// Parses an `ArrayFeatureExtractor` node; registered by [`super::onnx`].
pub(super) fn array_feature_extractor(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(ArrayFeatureExtractor), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ArrayFeatureExtractor;

impl Expansion for ArrayFeatureExtractor {
    fn name(&self) -> StaticName {
        "ArrayFeatureExtractor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[1].datum_type, i64::datum_type())?;
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, indices| {
            let mut shape: TVec<TDim> = x.iter().take(x.len().saturating_sub(1)).cloned().collect();
            if indices.is_empty() {
                shape.push(1.to_dim());
            } else {
                shape.extend(indices.iter().cloned());
            }
            s.equals(&outputs[0].shape, shape)
        })?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut indices = inputs[1];
        if model.outlet_fact(indices)?.rank() == 0 {
            indices = model.wire_node(format!("{prefix}.as_list"), AxisOp::Add(0), &[indices])?[0];
        }
        let axis = model.outlet_fact(inputs[0])?.rank() - 1;
        model.wire_node(
            prefix,
            Gather {
                axis,
                output_type: None,
            },
            &[inputs[0], indices],
        )
    }
}
