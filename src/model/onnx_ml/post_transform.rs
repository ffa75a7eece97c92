//! The `post_transform` of ONNX-ML classifiers, computed as onnxruntime does
//! (its `ml_common.h`): in f32, softmax after subtracting the row maximum.
//!
//! `PROBIT` is refused: onnxruntime evaluates it with its own approximation of
//! the inverse error function, which we would not reproduce to the bit, and
//! no scikit-learn, XGBoost or LightGBM export uses it.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// A supported `post_transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PostTransform {
    /// Scores as computed.
    None,
    /// `1 / (1 + exp(-x))` per score.
    Logistic,
    /// Softmax over the row.
    Softmax,
    /// Softmax over the row's non-zero scores; zeros stay zero.
    SoftmaxZero,
}

impl PostTransform {
    /// Reads `post_transform`, refusing `PROBIT` and unknown values by name.
    pub(super) fn parse(node: &NodeProto) -> TractResult<PostTransform> {
        let value = node.get_attr_opt::<&str>("post_transform")?;
        Ok(match value.unwrap_or("NONE") {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            other => bail!(
                "{}: post_transform {other} is not supported (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO are)",
                node.op_type
            ),
        })
    }

    /// Applies the transform to a row of scores in place.
    pub(super) fn apply(self, scores: &mut [f32]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => softmax(scores),
            PostTransform::SoftmaxZero => softmax_zero(scores),
        }
    }
}

/// onnxruntime's `ComputeLogistic`: symmetric, so large negative inputs do
/// not overflow `exp`.
pub(super) fn logistic(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 {
        1.0 - v
    } else {
        v
    }
}

/// Softmax with the maximum subtracted first, summed in order, in f32.
pub(super) fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    scores.iter_mut().for_each(|s| *s /= sum);
}

/// onnxruntime's `ComputeSoftmaxZero`: scores within 1e-7 of zero are
/// scaled, not exponentiated, so they stay (almost) zero.
fn softmax_zero(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::MIN, f32::max);
    let exp_neg_max = (-max).exp();
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        if *s > 1e-7 || *s < -1e-7 {
            *s = (*s - max).exp();
            sum += *s;
        } else {
            *s *= exp_neg_max;
        }
    }
    scores.iter_mut().for_each(|s| *s /= sum);
}
