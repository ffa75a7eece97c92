//! `LinearClassifier` (ai.onnx.ml): scikit-learn's LogisticRegression,
//! LinearSVC, RidgeClassifier and SGDClassifier. Scores `x . W^T + b` per
//! class, the post transform, and the label of the best score, row by row.
//!
//! tract 0.23 ships one, wired as several tract nodes (EinSum, Add, the
//! transform, ArgMax, Cast, a lookup). It cannot answer string labels (its
//! lookup needs a zero of the label type), and for the few features of these
//! models its per-node dispatch costs more than the arithmetic. The layout
//! follows it: with two labels, one coefficient row and `multi_class` 0, the
//! one score `s` becomes the two columns [-s, s] (NONE, SOFTMAX) or
//! [1 - p, p] with p the logistic of `s` (LOGISTIC), as onnxruntime answers.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::tract_ndarray::ArrayView2;
use tract_onnx::tract_hir::internal::*;

use super::labels::Labels;
use super::post_transform::{logistic, PostTransform};
use super::row_op::{row_op, OutputSpec, RowModel};

/// Parses a `LinearClassifier` node; registered by [`super::onnx`].
pub(super) fn linear_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = Labels::parse(node, "classlabels_ints")?;
    let classes = labels.len();
    let multi_class = node.get_attr_opt::<i64>("multi_class")?.unwrap_or(0);
    let coefficients = node.get_attr_vec::<f32>("coefficients")?;
    node.expect_attr(
        "coefficients",
        !coefficients.is_empty(),
        "at least one value",
    )?;
    let intercepts = node.get_attr_opt_vec::<f32>("intercepts")?;
    let rows = match &intercepts {
        Some(b) => b.len(),
        None if classes == 2 && multi_class == 0 => 1,
        None => classes,
    };
    let fits = rows > 0 && coefficients.len() % rows == 0;
    node.expect_attr("coefficients", fits, "a multiple of the intercepts' count")?;
    let binary = classes == 2 && rows == 1 && multi_class == 0;
    node.expect_attr(
        "classlabels",
        binary || classes == rows,
        "one label per coefficient row (or two labels for one row)",
    )?;
    let model = LinearClassifier {
        features: coefficients.len() / rows,
        coefficients,
        intercepts: intercepts.unwrap_or_else(|| vec![0.0; rows]),
        binary,
        labels,
        post_transform: PostTransform::parse(node)?,
    };
    Ok((row_op(model), vec![]))
}

#[derive(Debug)]
struct LinearClassifier {
    features: usize,
    /// [rows, features]
    coefficients: Vec<f32>,
    /// One per coefficient row.
    intercepts: Vec<f32>,
    /// One score row answered as two columns.
    binary: bool,
    labels: Labels,
    post_transform: PostTransform,
}

impl LinearClassifier {
    /// Score columns per row.
    fn width(&self) -> usize {
        if self.binary {
            2
        } else {
            self.intercepts.len()
        }
    }

    /// The transformed scores of one row, written into `out` (`width` long).
    fn scores(&self, row: &[f32], out: &mut [f32]) {
        let mut raw = self
            .coefficients
            .chunks(self.features)
            .zip(&self.intercepts)
            .map(|(w, b)| row.iter().zip(w).fold(0f32, |acc, (a, c)| acc + a * c) + b);
        if !self.binary {
            out.iter_mut().zip(raw).for_each(|(o, s)| *o = s);
            self.post_transform.apply(out);
            return;
        }
        let s = raw.next().unwrap_or(0.0);
        if self.post_transform == PostTransform::Logistic {
            let p = logistic(s);
            out.copy_from_slice(&[1.0 - p, p]);
        } else {
            out.copy_from_slice(&[-s, s]);
            self.post_transform.apply(out);
        }
    }
}

impl RowModel for LinearClassifier {
    fn name(&self) -> &'static str {
        "LinearClassifier"
    }

    fn min_features(&self) -> usize {
        self.features
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        OutputSpec::classifier(self.labels.datum_type(), self.width())
    }

    fn run(&self, x: ArrayView2<f32>) -> TractResult<TVec<Tensor>> {
        self.labels
            .classify_rows(x, self.features, self.width(), |row, out| {
                self.scores(row, out);
                // The first best score wins, as an arg max does.
                out.iter()
                    .enumerate()
                    .fold(0, |best, (i, &v)| if v > out[best] { i } else { best })
            })
    }
}
