//! `TreeEnsembleRegressor` (ai.onnx.ml): what skl2onnx emits for gradient
//! boosting, random forests and single decision trees.
//!
//! tract 0.23 has a forest evaluator (`tract_onnx_opl::ml::tree`), but only
//! wires it for classifiers, and it does not fit regressors: it finds a leaf's
//! votes by skipping through the whole vote table (O(leaves) per tree per row:
//! 45 ms for 64 rows of our 100-tree forecaster), reads `BRANCH_GTE` nodes as
//! leaves, starts MIN/MAX from 0 and divides AVERAGE by the vote count. So the
//! trees run on our own op, [`TreeEnsembleRegressor`], which follows
//! onnxruntime's arithmetic step by step: votes summed in tree order in f32,
//! then divided by the tree count (AVERAGE), then `base_values` added.
//!
//! Only `post_transform = NONE` is supported: regressors are exported with it,
//! and guessing at the others would silently produce wrong numbers.

use std::borrow::Cow;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::forest::Forest;

/// Parses a `TreeEnsembleRegressor` node; registered by [`super::onnx`].
pub(super) fn tree_ensemble_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    refuse_unsupported(node)?;
    let aggregate = match node.get_attr_opt::<&str>("aggregate_function")? {
        None | Some("SUM") => Aggregate::Sum,
        Some("AVERAGE") => Aggregate::Average,
        Some("MIN") => Aggregate::Min,
        Some("MAX") => Aggregate::Max,
        Some(other) => bail!("TreeEnsembleRegressor: invalid aggregate_function {other}"),
    };
    let n_targets: usize = node.get_attr("n_targets")?;
    node.expect_attr("n_targets", n_targets > 0, "at least one target")?;
    let base_values = node.get_attr_opt_vec::<f32>("base_values")?;
    let base_values = base_values.unwrap_or_else(|| vec![0.0; n_targets]);
    let per_target = base_values.len() == n_targets;
    node.expect_attr("base_values", per_target, "one value per target")?;
    let forest = Arc::new(Forest::parse(node, n_targets, "target")?);
    let base_values = base_values.into();
    let op = TreeEnsembleRegressor {
        forest,
        aggregate,
        base_values,
    };
    Ok((expand(op), vec![]))
}

/// Parses an ai.onnx.ml opset 5 `TreeEnsemble` node (regression form: its
/// output is the aggregated votes); registered by [`super::onnx`].
pub(super) fn tree_ensemble(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let aggregate = match node.get_attr_opt::<i64>("aggregate_function")?.unwrap_or(1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => bail!("TreeEnsemble: invalid aggregate_function {other}"),
    };
    let post_transform = node.get_attr_opt::<i64>("post_transform")?.unwrap_or(0);
    node.expect_attr(
        "post_transform",
        post_transform == 0,
        "0 (NONE), the only supported value",
    )?;
    let n_targets: usize = node.get_attr("n_targets")?;
    node.expect_attr("n_targets", n_targets > 0, "at least one target")?;
    let op = TreeEnsembleRegressor {
        forest: Arc::new(Forest::parse_v5(node, n_targets)?),
        aggregate,
        base_values: vec![0.0; n_targets].into(),
    };
    Ok((expand(op), vec![]))
}

/// Fails on attributes we would otherwise silently misread.
fn refuse_unsupported(node: &NodeProto) -> TractResult<()> {
    // ai.onnx.ml v3 lets thresholds and weights be double tensors; evaluating
    // those in f32 would not match onnxruntime.
    for name in [
        "nodes_values_as_tensor",
        "target_weights_as_tensor",
        "base_values_as_tensor",
    ] {
        let present = node.attribute.iter().any(|a| a.name == name);
        node.expect_attr(name, !present, "to be absent (doubles are not supported)")?;
    }
    let post_transform = node
        .get_attr_opt::<&str>("post_transform")?
        .unwrap_or("NONE");
    node.expect_attr("post_transform", post_transform == "NONE", || {
        format!("NONE, the only supported value, got {post_transform}")
    })
}

/// How the trees' votes for one target are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    /// Sum over trees.
    Sum,
    /// Sum over trees, divided by the number of trees.
    Average,
    /// Smallest vote; 0 if no tree votes for the target.
    Min,
    /// Largest vote; 0 if no tree votes for the target.
    Max,
}

/// The operator, both as parsed (an [`Expansion`] that casts the input to f32)
/// and as run (a [`TypedOp`] on f32 [N, features] -> [N, n_targets]).
#[derive(Debug, Clone)]
struct TreeEnsembleRegressor {
    /// The trees; shared, as tract clones ops freely.
    forest: Arc<Forest>,
    /// How votes are combined.
    aggregate: Aggregate,
    /// Added to each row last; one per target, so also the output width.
    base_values: Arc<[f32]>,
}

/// Same op only if same parsed node: comparing forests would cost more than
/// any deduplication it could enable.
impl PartialEq for TreeEnsembleRegressor {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.forest, &other.forest)
    }
}

impl Eq for TreeEnsembleRegressor {}

impl TreeEnsembleRegressor {
    /// Fills `out` (one slot per target) with the prediction for `row`.
    fn predict(&self, row: &[f32], out: &mut [f32], seen: &mut [bool]) {
        out.fill(0.0);
        seen.fill(false);
        for votes in self.forest.leaves(row) {
            for vote in votes {
                let (slot, seen) = (
                    &mut out[vote.target as usize],
                    &mut seen[vote.target as usize],
                );
                *slot = match self.aggregate {
                    Aggregate::Sum | Aggregate::Average => *slot + vote.weight,
                    Aggregate::Min if *seen => slot.min(vote.weight),
                    Aggregate::Max if *seen => slot.max(vote.weight),
                    Aggregate::Min | Aggregate::Max => vote.weight,
                };
                *seen = true;
            }
        }
        for (slot, base) in out.iter_mut().zip(self.base_values.iter()) {
            if self.aggregate == Aggregate::Average {
                *slot /= self.forest.n_trees() as f32;
            }
            *slot += base;
        }
    }
}

impl Expansion for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.base_values.len().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = super::to_f32(model, prefix, inputs[0])?;
        super::check_width(model, x, "TreeEnsembleRegressor", self.forest.max_feature())?;
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl Op for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = super::forest_rows(&input, "TreeEnsembleRegressor", &self.forest)?;
        let n = input.nrows();
        let width = self.base_values.len();
        let mut output = vec![0f32; n * width];
        let mut seen = vec![false; width];
        for (row, out) in input.outer_iter().zip(output.chunks_mut(width)) {
            // Rows of a tract tensor are contiguous; the copy is only a fallback.
            let row = row
                .as_slice()
                .map_or_else(|| Cow::Owned(row.to_vec()), Cow::Borrowed);
            self.predict(&row, out, &mut seen);
        }
        Ok(tvec!(
            Tensor::from_shape(&[n, width], &output)?.into_tvalue()
        ))
    }
}

impl TypedOp for TreeEnsembleRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact([
            inputs[0].shape[0].clone(),
            self.base_values.len().to_dim()
        ])))
    }

    as_op!();
}
