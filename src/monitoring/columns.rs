//! Which columns of a model's tensors are features, their names, and how to read one
//! value of a served row.

use crate::model::Signature;
use crate::tensor::{element_to_f64, Tensor};

/// Where a feature's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Column `col` of the model's only input, `width` columns wide.
    Input {
        /// Column index.
        col: usize,
        /// Columns per row.
        width: usize,
    },
    /// Column `col` of output `index`, `width` columns wide.
    Output {
        /// Output index in the signature.
        index: usize,
        /// Column index.
        col: usize,
        /// Columns per row.
        width: usize,
    },
}

/// A named feature column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// `feature_names[i]` or `f<i>` for inputs, `out:<output>[:<i>]` for outputs.
    pub name: String,
    /// Where its values are.
    pub source: Source,
}

impl Column {
    /// Whether this column is a model output (prediction drift).
    pub fn is_output(&self) -> bool {
        matches!(self.source, Source::Output { .. })
    }

    /// The value of row `row`, or `None` if the tensor is too short (never expected:
    /// shapes were checked, but monitoring must not be able to fail a request).
    pub fn value(&self, inputs: &[Tensor], outputs: &[Tensor], row: usize) -> Option<f64> {
        let (tensor, col, width) = match self.source {
            Source::Input { col, width } => (inputs.first()?, col, width),
            Source::Output { index, col, width } => (outputs.get(index)?, col, width),
        };
        let size = tensor.dtype.size();
        let at = (row * width + col) * size;
        let bytes = tensor.data.get(at..at + size)?;
        Some(element_to_f64(tensor.dtype, bytes))
    }
}

/// Columns per row of a `[-1]` or `[-1, n]` tensor; `None` for other shapes.
fn width(shape: &[i64]) -> Option<usize> {
    match shape {
        [_] => Some(1),
        [_, n] => usize::try_from(*n).ok().filter(|&n| n > 0),
        _ => None,
    }
}

/// Every feature of a model: its one input's columns, then each output's columns.
/// Outputs that are not `[-1]` or `[-1, n]`, or hold strings (a classifier's
/// string labels), are left out; a model whose inputs are
/// not one such tensor cannot be monitored.
pub fn columns(sig: &Signature, feature_names: Option<&[String]>) -> Result<Vec<Column>, String> {
    let [input] = sig.inputs.as_slice() else {
        return Err(format!(
            "monitoring needs a model with one 2-D input, and this one has {} inputs",
            sig.inputs.len()
        ));
    };
    if input.dtype.is_bytes() {
        return Err(format!(
            "monitoring compares numeric features, and input `{}` holds strings (BYTES)",
            input.name
        ));
    }
    let width = width(&input.shape).ok_or_else(|| {
        format!(
            "monitoring needs a 2-D input of fixed width, and input `{}` has shape {:?}",
            input.name, input.shape
        )
    })?;
    let names: Vec<String> = match feature_names {
        Some(names) if names.len() != width => {
            return Err(format!(
                "model.toml lists {} feature_names but input `{}` has {width} columns",
                names.len(),
                input.name
            ))
        }
        Some(names) => names.to_vec(),
        None => (0..width).map(|i| format!("f{i}")).collect(),
    };
    let mut columns: Vec<Column> = names
        .into_iter()
        .enumerate()
        .map(|(col, name)| Column {
            name,
            source: Source::Input { col, width },
        })
        .collect();
    for (index, output) in sig.outputs.iter().enumerate() {
        let Some(width) = self::width(&output.shape).filter(|_| !output.dtype.is_bytes()) else {
            continue;
        };
        for col in 0..width {
            let name = match width {
                1 => format!("out:{}", output.name),
                _ => format!("out:{}:{col}", output.name),
            };
            let source = Source::Output { index, col, width };
            columns.push(Column { name, source });
        }
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TensorSpec;
    use crate::tensor::DataType;

    fn spec(name: &str, shape: Vec<i64>) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dtype: DataType::F32,
            shape,
        }
    }

    #[test]
    fn names_inputs_then_outputs() {
        let sig = Signature {
            inputs: vec![spec("x", vec![-1, 2])],
            outputs: vec![
                spec("y", vec![-1, 1]),
                spec("p", vec![-1, 3]),
                spec("img", vec![-1, 2, 2]),
            ],
        };
        let names: Vec<String> = columns(&sig, None)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            ["f0", "f1", "out:y", "out:p:0", "out:p:1", "out:p:2"]
        );
        let named = columns(&sig, Some(&["a".into(), "b".into()])).unwrap();
        assert_eq!(named[1].name, "b");
        let wrong = columns(&sig, Some(&["a".into()])).unwrap_err();
        assert!(
            wrong.contains("lists 1 feature_names but input `x` has 2 columns"),
            "{wrong}"
        );
    }

    #[test]
    fn reads_the_value_of_a_row_and_column() {
        let sig = Signature {
            inputs: vec![spec("x", vec![-1, 2])],
            outputs: vec![spec("y", vec![-1, 1])],
        };
        let cols = columns(&sig, None).unwrap();
        let x = Tensor::from_f32(vec![2, 2], &[1., 2., 3., 4.]).unwrap();
        let y = Tensor::from_f32(vec![2, 1], &[5., 6.]).unwrap();
        let (inputs, outputs) = (vec![x], vec![y]);
        assert_eq!(cols[1].value(&inputs, &outputs, 1), Some(4.0));
        assert_eq!(cols[2].value(&inputs, &outputs, 1), Some(6.0));
        assert_eq!(cols[2].value(&inputs, &outputs, 2), None, "past the end");
        assert_eq!(cols[2].value(&inputs, &[], 0), None, "missing output");
    }

    #[test]
    fn refuses_models_with_several_inputs() {
        let sig = Signature {
            inputs: vec![spec("a", vec![-1, 1]), spec("b", vec![-1, 1])],
            outputs: vec![],
        };
        assert!(columns(&sig, None).unwrap_err().contains("has 2 inputs"));
    }

    #[test]
    fn string_labels_are_left_out_and_string_inputs_refused() {
        let label = TensorSpec {
            name: "label".into(),
            dtype: DataType::Bytes,
            shape: vec![-1],
        };
        let sig = Signature {
            inputs: vec![spec("x", vec![-1, 1])],
            outputs: vec![label.clone(), spec("p", vec![-1, 1])],
        };
        let names: Vec<String> = columns(&sig, None)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["f0", "out:p"]);
        let sig = Signature {
            inputs: vec![label],
            outputs: vec![],
        };
        let err = columns(&sig, None).unwrap_err();
        assert!(err.contains("input `label` holds strings (BYTES)"), "{err}");
    }
}
