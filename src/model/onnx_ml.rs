//! The ONNX-ML operators our models use that tract does not ship.
//!
//! scikit-learn pipelines exported with skl2onnx are built from `ai.onnx.ml`
//! operators. tract-onnx 0.23 implements a few of them (TreeEnsembleClassifier,
//! LinearRegressor, Normalizer, ...) but not `Scaler`, which every
//! `StandardScaler` becomes, nor `TreeEnsembleRegressor`, which every tree
//! regressor becomes, so it refuses to load models such as
//! `models/stock-forecaster`. Its operator registry is public, so instead of
//! forking tract we register the two missing operators here: `Scaler` expands
//! into tract's own `Sub` and `Mul`; `TreeEnsembleRegressor` is an op of ours
//! (tract's forest code is built for classifiers; `tree_regressor` says why
//! it does not fit). Both are checked against onnxruntime's outputs for the
//! committed fixtures (`scripts/make_fixtures.py`).
//!
//! Load every model through [`onnx()`], never `tract_onnx::onnx()` directly.

mod scaler;
mod tree_regressor;

#[cfg(test)]
mod tests;

/// tract's ONNX front end with our `ai.onnx.ml` operators registered.
///
/// Building it is cheap (a hash map of function pointers), so callers may
/// create one per model load rather than sharing it.
pub(crate) fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("Scaler", scaler::scaler);
    onnx.op_register.insert(
        "TreeEnsembleRegressor",
        tree_regressor::tree_ensemble_regressor,
    );
    onnx
}
