//! One tract operator for every ONNX-ML estimator that maps f32 rows
//! [N, features] to per-row outputs ([N] labels, [N, width] scores): the
//! operator-specific part is a [`RowModel`], the tract plumbing is here once.

use std::fmt::Debug;

use tract_onnx::prelude::tract_ndarray::{ArrayView2, Ix2};
use tract_onnx::tract_hir::internal::*;

/// One output of a [`RowModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutputSpec {
    /// Element type.
    pub(super) datum_type: DatumType,
    /// `Some(w)`: shape [N, w]; `None`: shape [N].
    pub(super) width: Option<usize>,
}

impl OutputSpec {
    /// A classifier's outputs: labels of `label_type` ([N]), then f32 scores
    /// ([N, width]).
    pub(super) fn classifier(label_type: DatumType, width: usize) -> Vec<OutputSpec> {
        vec![
            OutputSpec {
                datum_type: label_type,
                width: None,
            },
            OutputSpec {
                datum_type: f32::datum_type(),
                width: Some(width),
            },
        ]
    }
}

/// The arithmetic of an estimator over f32 rows.
pub(super) trait RowModel: Debug + Send + Sync + 'static {
    /// ONNX operator name.
    fn name(&self) -> &'static str;
    /// Fewest input columns the model reads.
    fn min_features(&self) -> usize;
    /// Outputs, in ONNX order.
    fn outputs(&self) -> Vec<OutputSpec>;
    /// Computes every output for the rows of `x`.
    fn run(&self, x: ArrayView2<f32>) -> TractResult<TVec<Tensor>>;
}

/// A [`RowModel`] as a tract operator (shared: tract clones ops freely).
#[derive(Debug)]
pub(super) struct RowOp<M: RowModel>(pub(super) Arc<M>);

impl<M: RowModel> Clone for RowOp<M> {
    fn clone(&self) -> Self {
        RowOp(self.0.clone())
    }
}

/// Same op only if same parsed node: comparing models would cost more than
/// any deduplication it could enable.
impl<M: RowModel> PartialEq for RowOp<M> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<M: RowModel> Eq for RowOp<M> {}

/// Boxes `model` as a parsed operator.
pub(super) fn row_op<M: RowModel>(model: M) -> Box<dyn InferenceOp> {
    expand(RowOp(Arc::new(model)))
}

impl<M: RowModel> Expansion for RowOp<M> {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.0.outputs().len())
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        let specs = self.0.outputs();
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, specs.len())?;
        s.equals(&inputs[0].rank, 2)?;
        for (proxy, spec) in outputs.iter().zip(specs) {
            s.equals(&proxy.datum_type, spec.datum_type)?;
            s.equals(&proxy.shape[0], &inputs[0].shape[0])?;
            match spec.width {
                Some(w) => {
                    s.equals(&proxy.rank, 2)?;
                    s.equals(&proxy.shape[1], w.to_dim())?;
                }
                None => s.equals(&proxy.rank, 1)?,
            }
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = super::to_f32(model, prefix, inputs[0])?;
        let needed = self.0.min_features();
        if needed > 0 {
            super::check_width(model, x, self.0.name(), needed - 1)?;
        }
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl<M: RowModel> Op for RowOp<M> {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    op_as_typed_op!();
}

impl<M: RowModel> EvalOp for RowOp<M> {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let x = input
            .to_plain_array_view::<f32>()?
            .into_dimensionality::<Ix2>()?;
        let needed = self.0.min_features();
        ensure!(
            x.ncols() >= needed,
            "{} reads {needed} features, input has {}",
            self.0.name(),
            x.ncols()
        );
        Ok(self
            .0
            .run(x)?
            .into_iter()
            .map(Tensor::into_tvalue)
            .collect())
    }
}

impl<M: RowModel> TypedOp for RowOp<M> {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = inputs[0].shape[0].clone();
        Ok(self
            .0
            .outputs()
            .into_iter()
            .map(|spec| match spec.width {
                Some(w) => spec.datum_type.fact([n.clone(), w.to_dim()]),
                None => spec.datum_type.fact([n.clone()]),
            })
            .collect())
    }

    as_op!();
}
