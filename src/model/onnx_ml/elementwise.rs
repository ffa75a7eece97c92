//! `Imputer`, `Binarizer`, `Normalizer` and `ZipMap` (ai.onnx.ml): f32 in,
//! f32 out, same shape, one element or one row at a time. tract 0.23 ships
//! only a Normalizer, and its `MAX` divides by the largest magnitude where
//! onnxruntime divides by the largest value, so ours replaces it.
//!
//! `ZipMap` turns a probability matrix into a list of {label: probability}
//! maps, which no serving protocol here can carry. inferd serves the matrix
//! itself instead (ZipMap becomes the identity): the columns are in the
//! order of the model's class labels, which is what the converters'
//! `zipmap=False` option produces too.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// What happens to each element.
#[derive(Debug, Clone, PartialEq)]
enum Map {
    /// `x > threshold ? 1 : 0`.
    Binarize(f32),
    /// Replaces `replaced` (NaN matches NaN) by the column's value; one value
    /// means every column.
    Impute { values: Arc<[f32]>, replaced: f32 },
    /// Each row divided by its norm; rows whose norm is 0 are kept.
    Normalize(Norm),
}

/// onnxruntime's `Normalizer` norms (`normalizer.cc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    /// Divide by the row's largest value (not magnitude).
    Max,
    /// Divide by the sum of magnitudes.
    L1,
    /// `sign(x) * sqrt(x^2 / sum(x^2))`.
    L2,
}

impl Norm {
    fn apply(self, row: &mut [f32]) {
        match self {
            Norm::Max => {
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                if max != 0.0 {
                    row.iter_mut().for_each(|v| *v /= max);
                }
            }
            Norm::L1 => {
                let sum = row.iter().fold(0f32, |acc, v| acc + v.abs());
                if sum != 0.0 {
                    row.iter_mut().for_each(|v| *v /= sum);
                }
            }
            Norm::L2 => {
                let sum = row.iter().fold(0f32, |acc, v| acc + v * v);
                if sum != 0.0 {
                    row.iter_mut().for_each(|v| {
                        let r = (*v * *v / sum).sqrt();
                        *v = if *v < 0.0 { -r } else { r };
                    });
                }
            }
        }
    }
}

/// Parses a `Normalizer` node; registered by [`super::onnx`].
pub(super) fn normalizer(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let norm = match node.get_attr_opt::<&str>("norm")?.unwrap_or("MAX") {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        other => bail!("Normalizer: invalid norm {other}"),
    };
    Ok((expand(Elementwise(Map::Normalize(norm))), vec![]))
}

/// Parses a `Binarizer` node; registered by [`super::onnx`].
pub(super) fn binarizer(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let threshold = node.get_attr_opt::<f32>("threshold")?.unwrap_or(0.0);
    Ok((expand(Elementwise(Map::Binarize(threshold))), vec![]))
}

/// Parses an `Imputer` node; registered by [`super::onnx`].
pub(super) fn imputer(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let values = node
        .get_attr_opt_vec::<f32>("imputed_value_floats")?
        .unwrap_or_default();
    node.expect_attr(
        "imputed_value_floats",
        !values.is_empty(),
        "at least one value (integer imputation is not supported)",
    )?;
    let replaced = node
        .get_attr_opt::<f32>("replaced_value_float")?
        .unwrap_or(0.0);
    let map = Map::Impute {
        values: values.into(),
        replaced,
    };
    Ok((expand(Elementwise(map)), vec![]))
}

/// Parses a `ZipMap` node; registered by [`super::onnx`].
pub(super) fn zipmap(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(ZipMapAsTensor), vec![]))
}

/// The operator: f32 in, f32 of the same shape out.
#[derive(Debug, Clone, PartialEq)]
struct Elementwise(Map);

impl Eq for Elementwise {}

impl Elementwise {
    fn op_name(&self) -> &'static str {
        match self.0 {
            Map::Binarize(_) => "Binarizer",
            Map::Impute { .. } => "Imputer",
            Map::Normalize(_) => "Normalizer",
        }
    }
}

impl Expansion for Elementwise {
    fn name(&self) -> StaticName {
        self.op_name().into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = super::to_f32(model, prefix, inputs[0])?;
        if let Map::Impute { values, .. } = &self.0 {
            let fact = model.outlet_fact(x)?;
            if let (true, Some(Ok(width))) =
                (values.len() > 1, fact.shape.last().map(|d| d.to_usize()))
            {
                ensure!(
                    values.len() == width,
                    "Imputer has {} values, input has {width} columns",
                    values.len()
                );
            }
        }
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl Op for Elementwise {
    fn name(&self) -> StaticName {
        self.op_name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for Elementwise {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        let width = x.shape().last().copied().unwrap_or(1).max(1);
        let mut data = x.to_plain_array_view_mut::<f32>()?;
        match &self.0 {
            Map::Binarize(t) => data
                .iter_mut()
                .for_each(|v| *v = if *v > *t { 1.0 } else { 0.0 }),
            Map::Impute { values, replaced } => {
                ensure!(
                    values.len() == 1 || values.len() == width,
                    "Imputer has {} values, input has {width} columns",
                    values.len()
                );
                let hit = |v: f32| {
                    if replaced.is_nan() {
                        v.is_nan()
                    } else {
                        v == *replaced
                    }
                };
                for (i, v) in data.iter_mut().enumerate() {
                    if hit(*v) {
                        *v = values[if values.len() == 1 { 0 } else { i % width }];
                    }
                }
            }
            Map::Normalize(norm) => {
                let rows = data
                    .as_slice_mut()
                    .context("Normalizer: non-contiguous input")?;
                rows.chunks_mut(width).for_each(|row| norm.apply(row));
            }
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for Elementwise {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// ZipMap served as its input matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ZipMapAsTensor;

impl Expansion for ZipMapAsTensor {
    fn name(&self) -> StaticName {
        "ZipMap".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        _prefix: &str,
        _model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        Ok(inputs.into())
    }
}
