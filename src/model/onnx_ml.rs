//! Placeholder until the ONNX-ML operators land.
pub(crate) fn onnx() -> tract_onnx::Onnx {
    tract_onnx::onnx()
}
