//! `LinearRegressor` (ai.onnx.ml): `y = x . W^T + b` per target, then the
//! post transform, as onnxruntime computes it.
//!
//! tract 0.23 ships one, wired as an `EinSum`; behind PolynomialFeatures
//! (`Concat` of a `ConstantOfShape` bias column and the products) its
//! declutter pass fails on that EinSum's output fact, and the model does not
//! load. This op does the same arithmetic row by row and has no such pass.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::tract_ndarray::ArrayView2;
use tract_onnx::tract_hir::internal::*;

use super::post_transform::PostTransform;
use super::row_op::{row_op, OutputSpec, RowModel};

/// Parses a `LinearRegressor` node; registered by [`super::onnx`].
pub(super) fn linear_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let targets: usize = node
        .get_attr_opt::<i64>("targets")?
        .unwrap_or(1)
        .try_into()?;
    node.expect_attr("targets", targets > 0, "at least one target")?;
    let coefficients = node.get_attr_vec::<f32>("coefficients")?;
    let fits = !coefficients.is_empty() && coefficients.len() % targets == 0;
    node.expect_attr("coefficients", fits, "a multiple of targets values")?;
    let intercepts = node
        .get_attr_opt_vec::<f32>("intercepts")?
        .unwrap_or_else(|| vec![0.0; targets]);
    node.expect_attr("intercepts", intercepts.len() == targets, "one per target")?;
    let model = LinearRegressor {
        features: coefficients.len() / targets,
        coefficients,
        intercepts,
        post_transform: PostTransform::parse(node)?,
    };
    Ok((row_op(model), vec![]))
}

#[derive(Debug)]
struct LinearRegressor {
    features: usize,
    /// [targets, features]
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    post_transform: PostTransform,
}

impl RowModel for LinearRegressor {
    fn name(&self) -> &'static str {
        "LinearRegressor"
    }

    fn min_features(&self) -> usize {
        self.features
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec {
            datum_type: f32::datum_type(),
            width: Some(self.intercepts.len()),
        }]
    }

    fn run(&self, x: ArrayView2<f32>) -> TractResult<TVec<Tensor>> {
        let targets = self.intercepts.len();
        let mut out = vec![0f32; x.nrows() * targets];
        let mut buffer = Vec::new();
        for (row, y) in x.outer_iter().zip(out.chunks_mut(targets)) {
            let row = super::row_slice(&row, &mut buffer);
            let row = &row[..self.features];
            for ((slot, w), b) in y
                .iter_mut()
                .zip(self.coefficients.chunks(self.features))
                .zip(&self.intercepts)
            {
                *slot = row.iter().zip(w).fold(0f32, |acc, (a, c)| acc + a * c) + b;
            }
            self.post_transform.apply(y);
        }
        Ok(tvec!(Tensor::from_shape(&[x.nrows(), targets], &out)?))
    }
}
