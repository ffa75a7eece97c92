//! The kernel shared by `SVMClassifier` and `SVMRegressor`, and onnxruntime's
//! libsvm probability estimates (`ml_common.h`).

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::super::post_transform::logistic;

/// `kernel_type` with `kernel_params` = [gamma, coef0, degree].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kernel {
    /// `x . v`
    Linear,
    /// `(gamma x . v + coef0) ^ degree`
    Poly { gamma: f32, coef0: f32, degree: f32 },
    /// `exp(-gamma |x - v|^2)`
    Rbf { gamma: f32 },
    /// `tanh(gamma x . v + coef0)`
    Sigmoid { gamma: f32, coef0: f32 },
}

impl Kernel {
    /// Reads `kernel_type` and `kernel_params`.
    pub(super) fn parse(node: &NodeProto) -> TractResult<Kernel> {
        let params = node
            .get_attr_opt_vec::<f32>("kernel_params")?
            .unwrap_or_default();
        let kind = node
            .get_attr_opt::<&str>("kernel_type")?
            .unwrap_or("LINEAR");
        if kind != "LINEAR" {
            node.expect_attr(
                "kernel_params",
                params.len() == 3,
                "gamma, coef0 and degree",
            )?;
        }
        let p = |i: usize| params.get(i).copied().unwrap_or(0.0);
        Ok(match kind {
            "LINEAR" => Kernel::Linear,
            "POLY" => Kernel::Poly {
                gamma: p(0),
                coef0: p(1),
                degree: p(2),
            },
            "RBF" => Kernel::Rbf { gamma: p(0) },
            "SIGMOID" => Kernel::Sigmoid {
                gamma: p(0),
                coef0: p(1),
            },
            other => bail!("{}: kernel_type {other} is not supported", node.op_type),
        })
    }

    /// The kernel of `x` and one support vector.
    pub(super) fn eval(self, x: &[f32], v: &[f32]) -> f32 {
        let dot = || x.iter().zip(v).fold(0f32, |acc, (a, b)| acc + a * b);
        match self {
            Kernel::Linear => dot(),
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => {
                let base = gamma * dot() + coef0;
                if degree == 2.0 {
                    base * base
                } else if degree == 3.0 {
                    base * base * base
                } else {
                    base.powf(degree)
                }
            }
            Kernel::Rbf { gamma } => {
                let sum = x.iter().zip(v).fold(0f32, |acc, (a, b)| {
                    let d = a - b;
                    acc + d * d
                });
                (-gamma * sum).exp()
            }
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot() + coef0).tanh(),
        }
    }
}

/// Platt scaling of one pairwise decision value, clipped as onnxruntime does.
pub(super) fn pair_probability(score: f32, a: f32, b: f32) -> f32 {
    let p = 1.0 - logistic(score * a + b);
    p.clamp(1e-7, 1.0 - 1e-7)
}

/// libsvm's `multiclass_probability` (Wu, Lin and Weng's pairwise coupling):
/// `r` is the k x k matrix of pairwise probabilities, `p` receives k values.
pub(super) fn multiclass_probability(k: usize, r: &[f32], p: &mut [f32]) {
    let mut q = vec![0f32; k * k];
    let mut qp = vec![0f32; k];
    let eps = 0.005 / k as f32;
    for i in 0..k {
        p[i] = 1.0 / k as f32;
        for j in 0..i {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = q[j * k + i];
        }
        for j in i + 1..k {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = -r[j * k + i] * r[i * k + j];
        }
    }
    for _ in 0..100 {
        let mut pqp = 0f32;
        for i in 0..k {
            qp[i] = (0..k).fold(0f32, |acc, j| acc + q[i * k + j] * p[j]);
            pqp += p[i] * qp[i];
        }
        let max_error = qp.iter().fold(0f32, |m, &v| m.max((v - pqp).abs()));
        if max_error < eps {
            break;
        }
        for i in 0..k {
            let diff = (-qp[i] + pqp) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
}
