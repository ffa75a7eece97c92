//! `OneHotEncoder` and `LabelEncoder` (ai.onnx.ml) over numbers, as
//! onnxruntime computes them. tract 0.23 ships neither.
//!
//! String categories are refused at load with the attribute's name: inferd
//! does not carry string tensors yet (see the README's "Supported models").

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// Refuses the string form of an encoder attribute.
fn refuse_strings(node: &NodeProto, names: &[&str]) -> TractResult<()> {
    for name in names {
        let present = node.attribute.iter().any(|a| a.name == *name);
        node.expect_attr(
            name,
            !present,
            "to be absent: string categories are not supported",
        )?;
    }
    Ok(())
}

/// Parses a `OneHotEncoder` node; registered by [`super::onnx`].
pub(super) fn one_hot_encoder(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    refuse_strings(node, &["cats_strings"])?;
    let cats = node.get_attr_vec::<i64>("cats_int64s")?;
    node.expect_attr("cats_int64s", !cats.is_empty(), "at least one category")?;
    let zeros = node.get_attr_opt::<i64>("zeros")?.unwrap_or(1) != 0;
    Ok((
        expand(Encoder::OneHot {
            cats: cats.into(),
            zeros,
        }),
        vec![],
    ))
}

/// Parses a `LabelEncoder` node (numeric keys and values); registered by [`super::onnx`].
pub(super) fn label_encoder(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    refuse_strings(
        node,
        &[
            "keys_strings",
            "values_strings",
            "classes_strings",
            "keys_tensor",
            "values_tensor",
        ],
    )?;
    let keys = match node.get_attr_opt_vec::<i64>("keys_int64s")? {
        Some(ints) => Keys::Ints(ints.into()),
        None => Keys::Floats(node.get_attr_vec::<f32>("keys_floats")?.into()),
    };
    let values = match node.get_attr_opt_vec::<i64>("values_int64s")? {
        Some(ints) => Values::Ints(
            ints.into(),
            node.get_attr_opt::<i64>("default_int64")?.unwrap_or(-1),
        ),
        None => Values::Floats(
            node.get_attr_vec::<f32>("values_floats")?.into(),
            node.get_attr_opt::<f32>("default_float")?.unwrap_or(-0.0),
        ),
    };
    node.expect_attr(
        "values",
        keys.len() == values.len(),
        "as many values as keys",
    )?;
    Ok((expand(Encoder::Label { keys, values }), vec![]))
}

#[derive(Debug, Clone, PartialEq)]
enum Keys {
    Ints(Arc<[i64]>),
    Floats(Arc<[f32]>),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Keys::Ints(k) => k.len(),
            Keys::Floats(k) => k.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Keys::Ints(_) => i64::datum_type(),
            Keys::Floats(_) => f32::datum_type(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// Values and the default for unknown keys.
    Ints(Arc<[i64]>, i64),
    Floats(Arc<[f32]>, f32),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Ints(v, _) => v.len(),
            Values::Floats(v, _) => v.len(),
        }
    }
}

/// The operator.
#[derive(Debug, Clone, PartialEq)]
enum Encoder {
    /// i64 [..] -> f32 [.., categories]; unknown values give zeros, or an
    /// error when `zeros` is false.
    OneHot { cats: Arc<[i64]>, zeros: bool },
    /// Same shape, each key replaced by its value (the default if unknown).
    Label { keys: Keys, values: Values },
}

impl Eq for Encoder {}

impl Encoder {
    fn op_name(&self) -> &'static str {
        match self {
            Encoder::OneHot { .. } => "OneHotEncoder",
            Encoder::Label { .. } => "LabelEncoder",
        }
    }

    fn input_type(&self) -> DatumType {
        match self {
            Encoder::OneHot { .. } => i64::datum_type(),
            Encoder::Label { keys, .. } => keys.datum_type(),
        }
    }

    fn output_type(&self) -> DatumType {
        match self {
            Encoder::OneHot { .. }
            | Encoder::Label {
                values: Values::Floats(..),
                ..
            } => f32::datum_type(),
            Encoder::Label {
                values: Values::Ints(..),
                ..
            } => i64::datum_type(),
        }
    }

    fn output_shape(&self, input: &[TDim]) -> TVec<TDim> {
        let mut shape: TVec<TDim> = input.into();
        if let Encoder::OneHot { cats, .. } = self {
            shape.push(cats.len().to_dim());
        }
        shape
    }

    fn one_hot(cats: &[i64], zeros: bool, x: &Tensor) -> TractResult<Tensor> {
        let mut shape: Vec<usize> = x.shape().to_vec();
        shape.push(cats.len());
        let mut data = vec![0f32; shape.iter().product()];
        for (i, v) in x.to_plain_array_view::<i64>()?.iter().enumerate() {
            match cats.iter().position(|c| c == v) {
                Some(k) => data[i * cats.len() + k] = 1.0,
                None => ensure!(zeros, "OneHotEncoder: unknown category {v}"),
            }
        }
        Tensor::from_shape(&shape, &data)
    }

    fn label<K: PartialEq + Datum + Copy>(
        keys: &[K],
        values: &Values,
        x: &Tensor,
    ) -> TractResult<Tensor> {
        let found = |v: &K| keys.iter().position(|k| k == v);
        let input = x.to_plain_array_view::<K>()?;
        Ok(match values {
            Values::Ints(vals, default) => {
                let out: Vec<i64> = input
                    .iter()
                    .map(|v| found(v).map_or(*default, |i| vals[i]))
                    .collect();
                Tensor::from_shape(x.shape(), &out)?
            }
            Values::Floats(vals, default) => {
                let out: Vec<f32> = input
                    .iter()
                    .map(|v| found(v).map_or(*default, |i| vals[i]))
                    .collect();
                Tensor::from_shape(x.shape(), &out)?
            }
        })
    }
}

impl Expansion for Encoder {
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
        s.equals(&outputs[0].datum_type, self.output_type())?;
        s.given(&inputs[0].shape, move |s, shape| {
            s.equals(&outputs[0].shape, self.output_shape(&shape))
        })?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut x = inputs[0];
        let have = model.outlet_fact(x)?.datum_type;
        ensure!(
            have != String::datum_type(),
            "{}: string inputs are not supported",
            self.op_name()
        );
        if have != self.input_type() {
            let cast = tract_onnx::tract_core::ops::cast::cast(self.input_type());
            x = model.wire_node(format!("{prefix}.cast"), cast, &[x])?[0];
        }
        model.wire_node(prefix, self.clone(), &[x])
    }
}

impl Op for Encoder {
    fn name(&self) -> StaticName {
        self.op_name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for Encoder {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let out = match self {
            Encoder::OneHot { cats, zeros } => Self::one_hot(cats, *zeros, &x)?,
            Encoder::Label {
                keys: Keys::Ints(k),
                values,
            } => Self::label(k, values, &x)?,
            Encoder::Label {
                keys: Keys::Floats(k),
                values,
            } => Self::label(k, values, &x)?,
        };
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Encoder {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        let shape = self.output_shape(&input);
        Ok(tvec!(self.output_type().fact(shape)))
    }

    as_op!();
}
