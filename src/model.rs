//! What a servable model is: a signature and a batch prediction.
//!
//! The trait is small on purpose (as in text-embeddings-inference's `Backend`): the
//! batcher, the cache and the tests only need `signature()` and `predict()`, so a test
//! can count calls on a fake model and the engine can change without touching them.

pub mod local;
pub mod onnx;
mod onnx_ml;

use crate::tensor::{DataType, Tensor};

/// One named input or output of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Name in the model file.
    pub name: String,
    /// Element type.
    pub dtype: DataType,
    /// Dimensions, `-1` where dynamic (the batch dimension first, for batched models).
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// Whether a concrete shape fits this spec (dynamic dimensions match anything).
    pub fn accepts_shape(&self, shape: &[usize]) -> bool {
        shape.len() == self.shape.len()
            && self
                .shape
                .iter()
                .zip(shape)
                .all(|(&want, &got)| want < 0 || want as usize == got)
    }

    /// Number of elements in one row, when every dimension after the first is fixed.
    pub fn row_len(&self) -> Option<usize> {
        self.shape
            .iter()
            .skip(1)
            .map(|&d| usize::try_from(d).ok())
            .product()
    }
}

/// Inputs and outputs of a model, in the model's own order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Inputs, in the order `predict` takes them.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, in the order `predict` returns them.
    pub outputs: Vec<TensorSpec>,
}

impl Signature {
    /// Zeros in every input's shape: `rows` rows where the first dimension is free,
    /// one element where any later dimension is. The warm-up and the batch-size
    /// sweep run on these: dense layers do the same arithmetic on any value, and
    /// trees walk one path per row.
    pub fn zeros(&self, rows: usize) -> Result<Vec<Tensor>, String> {
        self.inputs
            .iter()
            .map(|spec| {
                let shape: Vec<usize> = spec
                    .shape
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| usize::try_from(d).unwrap_or(if i == 0 { rows } else { 1 }))
                    .collect();
                let elements: usize = shape.iter().product();
                let data = bytes::Bytes::from(vec![0u8; elements * spec.dtype.size()]);
                Tensor::new(spec.dtype, shape, data)
            })
            .collect()
    }

    /// Whether rows are independent along a dynamic first dimension on every input
    /// and output, so requests can be stacked into batches and split per row.
    pub fn is_batched(&self) -> bool {
        self.inputs
            .iter()
            .chain(&self.outputs)
            .all(|t| t.shape.first() == Some(&-1))
    }
}

/// Why a model run failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The engine failed (a bug, a broken model): an internal error at the
    /// request boundary, its detail logged and not shown to the client.
    #[error("{0}")]
    Engine(String),
    /// The request's values are outside what the model answers for (a
    /// category a strict encoder has never seen): the client's error, told to
    /// the client.
    #[error("{0}")]
    Input(String),
}

/// Raised by our operators for input values the model has no answer for.
/// tract carries it up its error chain, where [`onnx::OnnxModel`] finds it and
/// answers [`ModelError::Input`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A loaded model that can answer a batch.
pub trait Model: Send + Sync + 'static {
    /// Names, types and shapes of inputs and outputs.
    fn signature(&self) -> &Signature;

    /// The most rows one run should take: past it the engine's cost per row jumps
    /// (tract's matmul walk, [`onnx::walk`]). `None` where nothing limits it.
    fn max_run_rows(&self) -> Option<usize> {
        None
    }

    /// Runs the model on inputs in signature order (validated by the caller) and
    /// returns outputs in signature order, with the same number of rows.
    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ModelError>;
}
