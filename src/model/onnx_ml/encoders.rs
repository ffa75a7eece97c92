//! `OneHotEncoder` and `LabelEncoder` (ai.onnx.ml) over numbers and strings,
//! as onnxruntime computes them. tract 0.23 ships neither.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// Parses a `OneHotEncoder` node; registered by [`super::onnx`].
pub(super) fn one_hot_encoder(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ints = node.get_attr_opt_vec::<i64>("cats_int64s")?;
    let strings = node.get_attr_opt_vec::<String>("cats_strings")?;
    let cats = match (ints, strings) {
        (Some(ints), None) if !ints.is_empty() => Keys::Ints(ints.into()),
        (None, Some(strings)) if !strings.is_empty() => Keys::Strings(strings.into()),
        _ => {
            bail!("OneHotEncoder: exactly one of cats_int64s and cats_strings must list categories")
        }
    };
    let zeros = node.get_attr_opt::<i64>("zeros")?.unwrap_or(1) != 0;
    Ok((expand(Encoder::OneHot { cats, zeros }), vec![]))
}

/// Parses a `LabelEncoder` node; registered by [`super::onnx`].
pub(super) fn label_encoder(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    // Opset 4's tensor-valued keys and values are not read: refused by name.
    for name in ["keys_tensor", "values_tensor"] {
        let present = node.attribute.iter().any(|a| a.name == name);
        node.expect_attr(name, !present, "to be absent: not supported")?;
    }
    let keys = if let Some(ints) = node.get_attr_opt_vec::<i64>("keys_int64s")? {
        Keys::Ints(ints.into())
    } else if let Some(strings) = node.get_attr_opt_vec::<String>("keys_strings")? {
        Keys::Strings(strings.into())
    } else {
        Keys::Floats(node.get_attr_vec::<f32>("keys_floats")?.into())
    };
    // Defaults for unknown keys as the ONNX-ML operator defines them.
    let values = if let Some(ints) = node.get_attr_opt_vec::<i64>("values_int64s")? {
        Values::Ints(
            ints.into(),
            node.get_attr_opt::<i64>("default_int64")?.unwrap_or(-1),
        )
    } else if let Some(strings) = node.get_attr_opt_vec::<String>("values_strings")? {
        let default = node.get_attr_opt::<String>("default_string")?;
        Values::Strings(
            strings.into(),
            default.unwrap_or_else(|| "_Unused".to_string()),
        )
    } else {
        Values::Floats(
            node.get_attr_vec::<f32>("values_floats")?.into(),
            node.get_attr_opt::<f32>("default_float")?.unwrap_or(-0.0),
        )
    };
    node.expect_attr(
        "values",
        keys.len() == values.len(),
        "as many values as keys",
    )?;
    Ok((expand(Encoder::Label { keys, values }), vec![]))
}

/// Categories of a `OneHotEncoder`, keys of a `LabelEncoder`.
#[derive(Debug, Clone, PartialEq)]
enum Keys {
    Ints(Arc<[i64]>),
    Floats(Arc<[f32]>),
    Strings(Arc<[String]>),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Keys::Ints(k) => k.len(),
            Keys::Floats(k) => k.len(),
            Keys::Strings(k) => k.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Keys::Ints(_) => i64::datum_type(),
            Keys::Floats(_) => f32::datum_type(),
            Keys::Strings(_) => String::datum_type(),
        }
    }

    /// Index in the keys of each element of `x` (`x` of the keys' type).
    fn positions(&self, x: &Tensor) -> TractResult<Vec<Option<usize>>> {
        fn find<K: Datum + PartialEq>(keys: &[K], x: &Tensor) -> TractResult<Vec<Option<usize>>> {
            Ok(x.to_plain_array_view::<K>()?
                .iter()
                .map(|v| keys.iter().position(|k| k == v))
                .collect())
        }
        match self {
            Keys::Ints(k) => find(k, x),
            Keys::Floats(k) => find(k, x),
            Keys::Strings(k) => find(k, x),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// Values and the default for unknown keys.
    Ints(Arc<[i64]>, i64),
    Floats(Arc<[f32]>, f32),
    Strings(Arc<[String]>, String),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Ints(v, _) => v.len(),
            Values::Floats(v, _) => v.len(),
            Values::Strings(v, _) => v.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Values::Ints(..) => i64::datum_type(),
            Values::Floats(..) => f32::datum_type(),
            Values::Strings(..) => String::datum_type(),
        }
    }

    /// The value at each position, the default where there is none.
    fn pick(&self, shape: &[usize], found: &[Option<usize>]) -> TractResult<Tensor> {
        fn pick<V: Datum + Clone>(
            vals: &[V],
            default: &V,
            shape: &[usize],
            found: &[Option<usize>],
        ) -> TractResult<Tensor> {
            let out: Vec<V> = found
                .iter()
                .map(|f| f.map_or_else(|| default.clone(), |i| vals[i].clone()))
                .collect();
            let array = tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, out)?;
            Ok(Tensor::from(array))
        }
        match self {
            Values::Ints(v, d) => pick(v, d, shape, found),
            Values::Floats(v, d) => pick(v, d, shape, found),
            Values::Strings(v, d) => pick(v, d, shape, found),
        }
    }
}

/// The operator.
#[derive(Debug, Clone, PartialEq)]
enum Encoder {
    /// i64 or string [..] -> f32 [.., categories]; unknown values give zeros,
    /// or an error when `zeros` is false.
    OneHot { cats: Keys, zeros: bool },
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
            Encoder::OneHot { cats: keys, .. } | Encoder::Label { keys, .. } => keys.datum_type(),
        }
    }

    fn output_type(&self) -> DatumType {
        match self {
            Encoder::OneHot { .. } => f32::datum_type(),
            Encoder::Label { values, .. } => values.datum_type(),
        }
    }

    fn output_shape(&self, input: &[TDim]) -> TVec<TDim> {
        let mut shape: TVec<TDim> = input.into();
        if let Encoder::OneHot { cats, .. } = self {
            shape.push(cats.len().to_dim());
        }
        shape
    }

    fn one_hot(cats: &Keys, zeros: bool, x: &Tensor) -> TractResult<Tensor> {
        let mut shape: Vec<usize> = x.shape().to_vec();
        shape.push(cats.len());
        let mut data = vec![0f32; shape.iter().product()];
        for (i, found) in cats.positions(x)?.into_iter().enumerate() {
            match found {
                Some(k) => data[i * cats.len() + k] = 1.0,
                None if zeros => {}
                None => {
                    let text = x.cast_to::<String>()?;
                    let value = text.to_plain_array_view::<String>()?.iter().nth(i).cloned();
                    let value = value.unwrap_or_default();
                    let why = format!("OneHotEncoder: unknown category {value:?}");
                    return Err(crate::model::InputError(why).into());
                }
            }
        }
        Tensor::from_shape(&shape, &data)
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
        let want = self.input_type();
        // Numbers are cast to the keys' type, as onnxruntime does; strings and
        // numbers never match each other.
        ensure!(
            (have == String::datum_type()) == (want == String::datum_type()),
            "{}: input is {have:?} but its categories are {want:?}",
            self.op_name()
        );
        if have != want {
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
            Encoder::Label { keys, values } => values.pick(x.shape(), &keys.positions(&x)?)?,
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
