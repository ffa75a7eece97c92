//! `SVMClassifier` and `SVMRegressor` (ai.onnx.ml): scikit-learn's SVC, SVR,
//! NuSVC, NuSVR and OneClassSVM. tract 0.23 ships neither.
//!
//! Both follow onnxruntime's `svmclassifier.cc` / `svmregressor.cc`: kernels
//! in f32, the pairwise decision values of SVC summed in f64 from f32
//! products, one vote per pair, Platt scaling (`prob_a`, `prob_b`) and
//! libsvm's pairwise coupling for probabilities. Kernel dot products are
//! summed in row order, where onnxruntime calls a GEMM; the zoo states the
//! resulting absolute tolerance per model.

mod kernel;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::tract_ndarray::ArrayView2;
use tract_onnx::tract_hir::internal::*;

use super::labels::Labels;
use super::post_transform::PostTransform;
use super::row_op::{row_op, OutputSpec, RowModel};
use kernel::{multiclass_probability, pair_probability, Kernel};

/// Parses an `SVMClassifier` node; registered by [`super::onnx`].
pub(super) fn svm_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = Labels::parse(node, "classlabels_ints")?;
    let k = labels.len();
    node.expect_attr("classlabels", k >= 2, "at least two classes")?;
    let per_class = node
        .get_attr_opt_vec::<i64>("vectors_per_class")?
        .unwrap_or_default();
    let per_class: Vec<usize> = per_class
        .iter()
        .map(|&n| usize::try_from(n))
        .collect::<Result<_, _>>()?;
    let vectors = per_class.iter().sum::<usize>();
    node.expect_attr(
        "vectors_per_class",
        vectors > 0,
        "support vectors (the linear mode is not supported)",
    )?;
    node.expect_attr(
        "vectors_per_class",
        per_class.len() == k,
        "one count per class",
    )?;
    let support = node.get_attr_vec::<f32>("support_vectors")?;
    node.expect_attr(
        "support_vectors",
        !support.is_empty() && support.len() % vectors == 0,
        "vectors_per_class vectors",
    )?;
    let coefficients = node.get_attr_vec::<f32>("coefficients")?;
    node.expect_attr(
        "coefficients",
        coefficients.len() == (k - 1) * vectors,
        "(classes - 1) x vectors values",
    )?;
    let pairs = k * (k - 1) / 2;
    let rho = node.get_attr_vec::<f32>("rho")?;
    node.expect_attr("rho", rho.len() == pairs, "one value per pair of classes")?;
    let prob_a = node.get_attr_opt_vec::<f32>("prob_a")?.unwrap_or_default();
    let prob_b = node.get_attr_opt_vec::<f32>("prob_b")?.unwrap_or_default();
    let proba = !prob_a.is_empty();
    node.expect_attr(
        "prob_a",
        !proba || (prob_a.len() == pairs && prob_b.len() == pairs),
        "one value per pair",
    )?;
    let mut starts = Vec::with_capacity(k);
    let mut at = 0;
    for n in &per_class {
        starts.push(at);
        at += n;
    }
    let model = SvmClassifier {
        kernel: Kernel::parse(node)?,
        features: support.len() / vectors,
        support,
        per_class,
        starts,
        coefficients,
        rho,
        prob: proba.then_some((prob_a, prob_b)),
        labels,
        post_transform: PostTransform::parse(node)?,
    };
    Ok((row_op(model), vec![]))
}

/// SVC with support vectors.
#[derive(Debug)]
struct SvmClassifier {
    kernel: Kernel,
    features: usize,
    /// [vectors, features]
    support: Vec<f32>,
    per_class: Vec<usize>,
    /// First support vector of each class.
    starts: Vec<usize>,
    /// [classes - 1, vectors]
    coefficients: Vec<f32>,
    /// One per pair of classes.
    rho: Vec<f32>,
    /// Platt scaling per pair, when probabilities were asked for.
    prob: Option<(Vec<f32>, Vec<f32>)>,
    labels: Labels,
    post_transform: PostTransform,
}

impl SvmClassifier {
    /// Pairwise decision values of one row, and the class with most votes.
    fn decisions(&self, row: &[f32], kernels: &mut Vec<f32>, out: &mut Vec<f32>) -> usize {
        kernels.clear();
        kernels.extend(
            self.support
                .chunks(self.features)
                .map(|v| self.kernel.eval(row, v)),
        );
        out.clear();
        let k = self.labels.len();
        let vectors = kernels.len();
        let mut votes = vec![0usize; k];
        let mut pair = 0;
        for i in 0..k - 1 {
            for j in i + 1..k {
                // Class i's vectors weighted by coefficient row j - 1, then class
                // j's by row i: f32 products summed in f64, in onnxruntime's order.
                let block = |class: usize, row: usize| {
                    let range = self.starts[class]..self.starts[class] + self.per_class[class];
                    let weights = &self.coefficients[vectors * row..][range.clone()];
                    weights
                        .iter()
                        .zip(&kernels[range])
                        .fold(0f64, |acc, (w, k)| acc + f64::from(w * k))
                };
                let first = block(i, j - 1);
                let mut sum = first;
                let range = self.starts[j]..self.starts[j] + self.per_class[j];
                for (w, k) in self.coefficients[vectors * i..][range.clone()]
                    .iter()
                    .zip(&kernels[range])
                {
                    sum += f64::from(w * k);
                }
                sum += f64::from(self.rho[pair]);
                pair += 1;
                out.push(sum as f32);
                votes[if sum > 0.0 { i } else { j }] += 1;
            }
        }
        // The first class with the most votes, as std::max_element picks.
        let best = votes.iter().copied().max().unwrap_or(0);
        votes.iter().position(|&v| v == best).unwrap_or(0)
    }

    fn probabilities(&self, (a, b): &(Vec<f32>, Vec<f32>), decisions: &[f32], out: &mut [f32]) {
        let k = self.labels.len();
        let mut r = vec![0f32; k * k];
        let mut index = 0;
        for i in 0..k - 1 {
            for j in i + 1..k {
                let p = pair_probability(decisions[index], a[index], b[index]);
                r[i * k + j] = p;
                r[j * k + i] = 1.0 - p;
                index += 1;
            }
        }
        multiclass_probability(k, &r, out);
        self.post_transform.apply(out);
    }

    /// Score columns: classes with probabilities, else pairs (two for two classes).
    fn width(&self) -> usize {
        let k = self.labels.len();
        match (&self.prob, k) {
            (Some(_), _) | (None, 2) => k,
            (None, _) => k * (k - 1) / 2,
        }
    }

    fn binary_scores(&self, s: f32, out: &mut [f32]) {
        // onnxruntime writes [-s, s] under NONE and [1 - t, t] otherwise.
        let mut v = [s];
        self.post_transform.apply(&mut v);
        if self.post_transform == PostTransform::None {
            out.copy_from_slice(&[-s, s]);
        } else {
            out.copy_from_slice(&[1.0 - v[0], v[0]]);
        }
    }
}

impl RowModel for SvmClassifier {
    fn name(&self) -> &'static str {
        "SVMClassifier"
    }

    fn min_features(&self) -> usize {
        self.features
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        OutputSpec::classifier(self.labels.datum_type(), self.width())
    }

    fn run(&self, x: ArrayView2<f32>) -> TractResult<TVec<Tensor>> {
        let (mut kernels, mut decisions) = (Vec::new(), Vec::new());
        self.labels
            .classify_rows(x, self.features, self.width(), |row, out| {
                let best = self.decisions(row, &mut kernels, &mut decisions);
                match &self.prob {
                    Some(prob) => self.probabilities(prob, &decisions, out),
                    None if decisions.len() == 1 => self.binary_scores(decisions[0], out),
                    None => {
                        out.copy_from_slice(&decisions);
                        self.post_transform.apply(out);
                    }
                }
                best
            })
    }
}

/// Parses an `SVMRegressor` node; registered by [`super::onnx`].
pub(super) fn svm_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let post = PostTransform::parse(node)?;
    node.expect_attr("post_transform", post == PostTransform::None, "NONE")?;
    let vectors: usize = node
        .get_attr_opt::<i64>("n_supports")?
        .unwrap_or(0)
        .try_into()?;
    let coefficients = node.get_attr_vec::<f32>("coefficients")?;
    let rho = node.get_attr_vec::<f32>("rho")?;
    node.expect_attr("rho", rho.len() == 1, "one value")?;
    let (kernel, support) = if vectors > 0 {
        let support = node.get_attr_vec::<f32>("support_vectors")?;
        node.expect_attr(
            "coefficients",
            coefficients.len() == vectors,
            "one per support vector",
        )?;
        node.expect_attr(
            "support_vectors",
            support.len() % vectors == 0 && !support.is_empty(),
            "n_supports vectors",
        )?;
        (Kernel::parse(node)?, support)
    } else {
        // Linear mode: the coefficients are the one "support vector".
        (Kernel::Linear, coefficients.clone())
    };
    let n = if vectors > 0 { vectors } else { 1 };
    let model = SvmRegressor {
        kernel,
        features: support.len() / n,
        support,
        coefficients: if vectors > 0 { coefficients } else { vec![1.0] },
        rho: rho[0],
        one_class: node.get_attr_opt::<i64>("one_class")?.unwrap_or(0) != 0,
    };
    Ok((row_op(model), vec![]))
}

/// SVR, linear SVR and one-class SVM.
#[derive(Debug)]
struct SvmRegressor {
    kernel: Kernel,
    features: usize,
    support: Vec<f32>,
    coefficients: Vec<f32>,
    rho: f32,
    /// Answer +1 / -1 instead of the decision value.
    one_class: bool,
}

impl RowModel for SvmRegressor {
    fn name(&self) -> &'static str {
        "SVMRegressor"
    }

    fn min_features(&self) -> usize {
        self.features
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec {
            datum_type: f32::datum_type(),
            width: Some(1),
        }]
    }

    fn run(&self, x: ArrayView2<f32>) -> TractResult<TVec<Tensor>> {
        let mut buffer = Vec::new();
        let values: Vec<f32> = x
            .outer_iter()
            .map(|row| {
                let row = super::row_slice(&row, &mut buffer);
                let row = &row[..self.features];
                let sum = self
                    .support
                    .chunks(self.features)
                    .zip(&self.coefficients)
                    .fold(0f32, |acc, (v, c)| acc + c * self.kernel.eval(row, v));
                let score = sum + self.rho;
                match (self.one_class, score > 0.0) {
                    (false, _) => score,
                    (true, true) => 1.0,
                    (true, false) => -1.0,
                }
            })
            .collect();
        Ok(tvec!(Tensor::from_shape(&[x.nrows(), 1], &values)?))
    }
}
