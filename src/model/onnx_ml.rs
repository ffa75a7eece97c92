//! The ONNX-ML operators scikit-learn, XGBoost and LightGBM exports use, on
//! top of tract's registry.
//!
//! tract-onnx 0.23 implements a few `ai.onnx.ml` operators (LinearClassifier,
//! Normalizer, ArrayFeatureExtractor, CategoryMapper; a LinearRegressor whose
//! EinSum breaks its declutter pass behind PolynomialFeatures, and a
//! TreeEnsembleClassifier that answers binary forests wrongly); it lacks the
//! rest. Its operator registry is public, so instead of forking tract we
//! register ours here, each following onnxruntime's arithmetic (the reference
//! every export is tested against): one file per operator family. Every zoo
//! model under `tests/zoo/` (made by `scripts/make_zoo.py`) is checked
//! against onnxruntime's outputs by `tests/zoo.rs`.
//!
//! [`check`] refuses, before tract sees the model, any operator we do not
//! register and any attribute of an `ai.onnx.ml` operator we do not read, so
//! an unsupported model fails at load with the operator's name instead of
//! answering wrong.
//!
//! Load every model through [`onnx()`], never `tract_onnx::onnx()` directly.

mod array_feature_extractor;
pub(crate) mod check;
mod elementwise;
mod encoders;
mod forest;
mod labels;
mod linear;
mod linear_classifier;
mod post_transform;
mod row_op;
mod scaler;
mod svm;
mod tree_classifier;
mod tree_regressor;

#[cfg(test)]
mod tests;

use tract_onnx::prelude::tract_ndarray::ArrayView1;
use tract_onnx::tract_hir::internal::*;

/// tract's ONNX front end with our `ai.onnx.ml` operators registered.
///
/// Building it is cheap (a hash map of function pointers), so callers may
/// create one per model load rather than sharing it.
pub(crate) fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    let reg = &mut onnx.op_register;
    reg.insert("Scaler", scaler::scaler);
    reg.insert(
        "ArrayFeatureExtractor",
        array_feature_extractor::array_feature_extractor,
    );
    reg.insert("Normalizer", elementwise::normalizer);
    reg.insert(
        "TreeEnsembleRegressor",
        tree_regressor::tree_ensemble_regressor,
    );
    reg.insert(
        "TreeEnsembleClassifier",
        tree_classifier::tree_ensemble_classifier,
    );
    reg.insert("TreeEnsemble", tree_regressor::tree_ensemble);
    reg.insert("LinearRegressor", linear::linear_regressor);
    reg.insert("LinearClassifier", linear_classifier::linear_classifier);
    reg.insert("SVMClassifier", svm::svm_classifier);
    reg.insert("SVMRegressor", svm::svm_regressor);
    reg.insert("Binarizer", elementwise::binarizer);
    reg.insert("Imputer", elementwise::imputer);
    reg.insert("ZipMap", elementwise::zipmap);
    reg.insert("OneHotEncoder", encoders::one_hot_encoder);
    reg.insert("LabelEncoder", encoders::label_encoder);
    onnx
}

/// Casts `x` to f32 when it is not already (the ONNX-ML operators accept
/// doubles and integers, and compute in f32 as onnxruntime does).
fn to_f32(model: &mut TypedModel, prefix: &str, x: OutletId) -> TractResult<OutletId> {
    if model.outlet_fact(x)?.datum_type == f32::datum_type() {
        return Ok(x);
    }
    let cast = tract_onnx::tract_core::ops::cast::cast(f32::datum_type());
    Ok(model.wire_node(format!("{prefix}.to_f32"), cast, &[x])?[0])
}

/// Fails at load when the input's known width is too narrow for feature `max`.
fn check_width(model: &TypedModel, x: OutletId, op: &str, max: usize) -> TractResult<()> {
    let fact = model.outlet_fact(x)?;
    if let Some(Ok(features)) = fact.shape.last().map(|d| d.to_usize()) {
        ensure!(
            features > max,
            "{op} reads feature #{max}, input has {features}"
        );
    }
    Ok(())
}

/// A tree ensemble's input as rows of features, refused when narrower than the
/// highest feature the forest reads (the same check as `check_width`, for inputs
/// whose width was unknown at load).
fn forest_rows<'a>(
    input: &'a TValue,
    op: &str,
    forest: &forest::Forest,
) -> TractResult<tract_onnx::prelude::tract_ndarray::ArrayView2<'a, f32>> {
    let rows = input
        .to_plain_array_view::<f32>()?
        .into_dimensionality::<tract_onnx::prelude::tract_ndarray::Ix2>()?;
    let (features, max) = (rows.ncols(), forest.max_feature());
    ensure!(
        features > max,
        "{op} reads feature #{max}, input has {features}"
    );
    Ok(rows)
}

/// A row as a slice: rows of a tract tensor are contiguous, the copy into
/// `buffer` is only a fallback.
fn row_slice<'a>(row: &'a ArrayView1<f32>, buffer: &'a mut Vec<f32>) -> &'a [f32] {
    match row.as_slice() {
        Some(slice) => slice,
        None => {
            buffer.clear();
            buffer.extend(row.iter());
            buffer
        }
    }
}
