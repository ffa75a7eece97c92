//! Class labels of ONNX-ML classifiers: `classlabels_int64s` or
//! `classlabels_strings` (`classlabels_ints` for SVMClassifier), and the
//! label output built from the winning class of each row.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::tract_ndarray::ArrayView2;
use tract_onnx::tract_hir::internal::*;

/// The labels a classifier answers with, in class order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Labels {
    /// INT64 labels.
    Ints(Arc<[i64]>),
    /// String labels (served as BYTES).
    Strings(Arc<[String]>),
}

impl Labels {
    /// Reads the labels from `ints_attr` or `classlabels_strings`; exactly one
    /// must be present and non-empty.
    pub(super) fn parse(node: &NodeProto, ints_attr: &str) -> TractResult<Labels> {
        let ints = node
            .get_attr_opt_vec::<i64>(ints_attr)?
            .filter(|v| !v.is_empty());
        let strings = node
            .get_attr_opt_vec::<String>("classlabels_strings")?
            .filter(|v| !v.is_empty());
        match (ints, strings) {
            (Some(ints), None) => Ok(Labels::Ints(ints.into())),
            (None, Some(strings)) => Ok(Labels::Strings(strings.into())),
            _ => bail!(
                "{}: exactly one of {ints_attr} and classlabels_strings must be given",
                node.op_type
            ),
        }
    }

    /// Number of classes.
    pub(super) fn len(&self) -> usize {
        match self {
            Labels::Ints(v) => v.len(),
            Labels::Strings(v) => v.len(),
        }
    }

    /// Element type of the label output.
    pub(super) fn datum_type(&self) -> DatumType {
        match self {
            Labels::Ints(_) => i64::datum_type(),
            Labels::Strings(_) => String::datum_type(),
        }
    }

    /// The label output for `winners`, one class index per row; `None` stands
    /// for onnxruntime's literal 0/1 answers (see [`Winner`]).
    pub(super) fn tensor(&self, winners: &[Winner]) -> TractResult<Tensor> {
        Ok(match self {
            Labels::Ints(labels) => {
                let values: Vec<i64> = winners
                    .iter()
                    .map(|w| match *w {
                        Winner::Class(i) => labels[i],
                        Winner::Literal(v) => v as i64,
                    })
                    .collect();
                tensor1(&values)
            }
            Labels::Strings(labels) => {
                let values: Vec<String> = winners
                    .iter()
                    .map(|w| match *w {
                        Winner::Class(i) | Winner::Literal(i) => labels[i].clone(),
                    })
                    .collect();
                tensor1(&values)
            }
        })
    }
}

impl Labels {
    /// A classifier's two outputs over `x`'s rows: each row's label and the
    /// [rows, `width`] scores. `score` gets a row's first `features` values and
    /// its `width` scores to write, and names the winning class.
    pub(super) fn classify_rows(
        &self,
        x: ArrayView2<f32>,
        features: usize,
        width: usize,
        mut score: impl FnMut(&[f32], &mut [f32]) -> usize,
    ) -> TractResult<TVec<Tensor>> {
        let n = x.nrows();
        let mut scores = vec![0f32; n * width];
        let mut winners = Vec::with_capacity(n);
        let mut buffer = Vec::new();
        for (row, out) in x.outer_iter().zip(scores.chunks_mut(width)) {
            let row = super::row_slice(&row, &mut buffer);
            winners.push(Winner::Class(score(&row[..features], out)));
        }
        Ok(tvec!(
            self.tensor(&winners)?,
            Tensor::from_shape(&[n, width], &scores)?
        ))
    }
}

/// Which label a row gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Winner {
    /// The label of this class index.
    Class(usize),
    /// onnxruntime answers a two-class model whose votes go to both classes
    /// with the value 1 or 0 itself for integer labels (its positive and
    /// negative label), and with the label of class 1 or 0 for strings.
    Literal(usize),
}
