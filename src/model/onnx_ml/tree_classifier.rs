//! `TreeEnsembleClassifier` (ai.onnx.ml): random forests, extra trees,
//! gradient boosting, decision trees, XGBoost and LightGBM classifiers.
//!
//! tract 0.23 ships one, but it answers binary forests wrongly (every row gets
//! class 0 where onnxruntime gives the right mix), so this op replaces it. It
//! follows onnxruntime's `TreeAggregatorClassifier` step by step: votes summed
//! per class in tree order in f32, base values added, then the two-class
//! special cases: a model whose votes all go to one class ("binary case")
//! picks the positive class when its score is over 0.5 (all weights positive,
//! i.e. probabilities) or over 0 (mixed weights, i.e. margins), and writes the
//! other class's score as `1 - p`, `-s` or `logistic(-s)`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::forest::Forest;
use super::labels::{Labels, Winner};
use super::post_transform::{logistic, PostTransform};

/// Parses a `TreeEnsembleClassifier` node; registered by [`super::onnx`].
pub(super) fn tree_ensemble_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = Labels::parse(node, "classlabels_int64s")?;
    let n = labels.len();
    node.expect_attr("classlabels", n >= 2, "at least two classes")?;
    let forest = Arc::new(Forest::parse(node, n, "class")?);
    let class_ids = node.get_attr_vec::<i64>("class_ids")?;
    let weights = node.get_attr_vec::<f32>("class_weights")?;
    let base_values: Arc<[f32]> = node
        .get_attr_opt_vec::<f32>("base_values")?
        .unwrap_or_default()
        .into();
    let fits =
        base_values.is_empty() || base_values.len() == n || (n == 2 && base_values.len() == 1);
    node.expect_attr(
        "base_values",
        fits,
        "none, one per class, or one for two classes",
    )?;
    let mut voted: Vec<i64> = class_ids.clone();
    voted.sort_unstable();
    voted.dedup();
    let op = TreeEnsembleClassifier {
        forest,
        labels,
        base_values,
        post_transform: PostTransform::parse(node)?,
        binary_case: n == 2 && voted.len() == 1,
        all_positive: weights.iter().all(|&w| w >= 0.0),
    };
    Ok((expand(op), vec![]))
}

/// The operator: f32 [N, features] -> labels [N], scores f32 [N, classes].
#[derive(Debug, Clone)]
struct TreeEnsembleClassifier {
    forest: Arc<Forest>,
    labels: Labels,
    base_values: Arc<[f32]>,
    post_transform: PostTransform,
    /// Two classes and every vote for the same one.
    binary_case: bool,
    /// No negative vote: scores are probabilities, not margins.
    all_positive: bool,
}

impl PartialEq for TreeEnsembleClassifier {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.forest, &other.forest)
    }
}

impl Eq for TreeEnsembleClassifier {}

/// How the binary case writes the class the votes did not go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Complement {
    /// `1 - p` (probabilities).
    OneMinus,
    /// `-s`, or `logistic(-s)` under LOGISTIC (margins).
    Negated,
}

impl TreeEnsembleClassifier {
    /// Scores one row into `out` (one slot per class); returns its label.
    fn predict(&self, row: &[f32], out: &mut [f32], has: &mut [bool]) -> Winner {
        out.fill(0.0);
        has.fill(false);
        for votes in self.forest.leaves(row) {
            for vote in votes {
                out[vote.target as usize] += vote.weight;
                has[vote.target as usize] = true;
            }
        }
        if out.len() > 2 {
            return self.finish_multiclass(out, has);
        }
        let base = &self.base_values;
        let mut single = false;
        match base.len() {
            2 if has[1] => {
                // onnxruntime ignores base_values[0] here, as below.
                out[1] = base[1] + out[0];
                out[0] = -out[1];
                has[1] = true;
            }
            2 => {
                out[1] += base[1];
                out[0] += base[0];
            }
            1 => {
                out[0] += base[0];
                single = !has[1];
            }
            _ => single = !has[1],
        }
        let (winner, mut complement) = self.binary_winner(out, has, single);
        if base.is_empty() && complement.is_none() {
            // onnxruntime presets this case to "margins" before looking at votes.
            complement = Some(Complement::Negated);
        }
        if single {
            self.write_single(out, complement);
        } else {
            self.post_transform.apply(out);
        }
        winner
    }

    fn finish_multiclass(&self, out: &mut [f32], has: &mut [bool]) -> Winner {
        for (k, &b) in self.base_values.iter().enumerate() {
            out[k] = if has[k] { out[k] + b } else { b };
            has[k] = true;
        }
        let mut best: Option<usize> = None;
        for k in 0..out.len() {
            if has[k] && best.is_none_or(|b| out[k] > out[b]) {
                best = Some(k);
            }
        }
        self.post_transform.apply(out);
        Winner::Class(best.unwrap_or(0))
    }

    /// onnxruntime's `_set_score_binary`.
    fn binary_winner(
        &self,
        out: &[f32],
        has: &[bool],
        single: bool,
    ) -> (Winner, Option<Complement>) {
        let positive = if !single && has[1] {
            out[1]
        } else if has[0] {
            out[0]
        } else {
            0.0
        };
        if !self.binary_case {
            return (Winner::Literal(usize::from(positive > 0.0)), None);
        }
        let (threshold, complement) = if self.all_positive {
            (0.5, Complement::OneMinus)
        } else {
            (0.0, Complement::Negated)
        };
        (
            Winner::Class(usize::from(positive > threshold)),
            Some(complement),
        )
    }

    /// Writes the two columns from the one score of the binary case.
    fn write_single(&self, out: &mut [f32], complement: Option<Complement>) {
        let s = out[0];
        let (neg, pos) = match (complement, self.post_transform) {
            (Some(Complement::OneMinus), _) => (1.0 - s, s),
            (Some(Complement::Negated), PostTransform::Logistic) => (logistic(-s), logistic(s)),
            (Some(Complement::Negated), _) => (-s, s),
            // onnxruntime writes only the first column then.
            (None, _) => (s, 0.0),
        };
        out[0] = neg;
        out[1] = pos;
    }
}

impl Expansion for TreeEnsembleClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(2)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 2)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, self.labels.datum_type())?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].datum_type, DatumType::F32)?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[1], self.labels.len().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = super::to_f32(model, prefix, inputs[0])?;
        super::check_width(
            model,
            x,
            "TreeEnsembleClassifier",
            self.forest.max_feature(),
        )?;
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl Op for TreeEnsembleClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = super::forest_rows(&input, "TreeEnsembleClassifier", &self.forest)?;
        let n = input.nrows();
        let width = self.labels.len();
        let mut scores = vec![0f32; n * width];
        let mut has = vec![false; width];
        let mut winners = Vec::with_capacity(n);
        let mut buffer = Vec::new();
        for (row, out) in input.outer_iter().zip(scores.chunks_mut(width)) {
            let row = super::row_slice(&row, &mut buffer);
            winners.push(self.predict(row, out, &mut has));
        }
        let labels = self.labels.tensor(&winners)?;
        let scores = Tensor::from_shape(&[n, width], &scores)?;
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

impl TypedOp for TreeEnsembleClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = inputs[0].shape[0].clone();
        Ok(tvec!(
            self.labels.datum_type().fact([n.clone()]),
            f32::fact([n, self.labels.len().to_dim()])
        ))
    }

    as_op!();
}
