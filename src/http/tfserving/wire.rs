//! TF Serving's REST body: row format (`instances`) or columnar format (`inputs`),
//! parsed straight into flat tensors, and the matching `predictions` / `outputs`.

use crate::json::{Collector, Nested, NestedOut};
use crate::request::{InferResponse, InputData, InputTensor};
use crate::tensor::Tensor;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// The request body of TF Serving's predict (and of `/predict`, which adds `model`
/// and `version`). Other fields are skipped unread, as TF Serving's REST front does;
/// the fields named here are checked strictly.
#[derive(Deserialize)]
pub(crate) struct TfBody {
    /// `serving_default`, the one signature an ONNX model has; others are refused.
    #[serde(default)]
    pub signature_name: Option<String>,
    /// Row format.
    #[serde(default)]
    pub instances: Option<Instances>,
    /// Columnar format.
    #[serde(default)]
    pub inputs: Option<Columns>,
    /// `/predict` only: which model.
    #[serde(default)]
    pub model: Option<String>,
    /// `/predict` only: which version (number or numeric string).
    #[serde(default)]
    pub version: Option<VersionField>,
}

/// Inputs of a body: one unnamed tensor, or named ones.
pub(crate) enum Tensors {
    /// A bare array, for a one-input model.
    Plain(Nested),
    /// Named tensors.
    Named(Vec<(String, Nested)>),
}

impl Tensors {
    /// As protocol-independent inputs.
    pub(crate) fn into_inputs(self) -> Vec<InputTensor> {
        let input = |name, nested| InputTensor {
            name,
            datatype: None,
            shape: None,
            data: InputData::Json(nested),
        };
        match self {
            Tensors::Plain(n) => vec![input(None, n)],
            Tensors::Named(v) => v.into_iter().map(|(k, n)| input(Some(k), n)).collect(),
        }
    }
}

/// `instances`: a list of rows, each an array (one input) or an object (named inputs).
pub(crate) struct Instances(pub Tensors);

/// `inputs`: an array (one input) or an object of named arrays.
pub(crate) struct Columns(pub Tensors);

/// A version given as `2` or `"2"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum VersionField {
    /// `2`
    Number(u64),
    /// `"2"`
    Text(String),
}

impl VersionField {
    /// The version number, or a 400 saying why not.
    pub(crate) fn number(&self) -> Result<u64, crate::error::ApiError> {
        match self {
            VersionField::Number(n) => Ok(*n),
            VersionField::Text(s) => super::super::body::version_number(s),
        }
    }
}

/// Row-format accumulator: one collector for plain rows, one per name for object rows.
#[derive(Default)]
struct Rows {
    plain: Option<Collector>,
    named: Vec<(String, Collector, usize)>,
}

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Instances, D::Error> {
        d.deserialize_seq(InstancesVisitor)
    }
}

struct InstancesVisitor;

impl<'de> Visitor<'de> for InstancesVisitor {
    type Value = Instances;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`instances` as a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Instances, A::Error> {
        let mut rows = Rows::default();
        let mut n = 0;
        while seq
            .next_element_seed(RowSeed { rows: &mut rows })?
            .is_some()
        {
            n += 1;
        }
        if rows.plain.is_some() && !rows.named.is_empty() {
            return Err(de::Error::custom(
                "`instances` mixes arrays and objects; use one form for every row",
            ));
        }
        if !rows.named.is_empty() {
            let mut out = Vec::with_capacity(rows.named.len());
            for (name, mut c, count) in rows.named {
                if count != n {
                    return Err(de::Error::custom(format!(
                        "input `{name}` is given in {count} of {n} instances; every instance needs every input"
                    )));
                }
                c.sequence::<A::Error>(0, n)?;
                out.push((name, c.finish()));
            }
            return Ok(Instances(Tensors::Named(out)));
        }
        let mut plain = rows.plain.unwrap_or_default();
        plain.sequence::<A::Error>(0, n)?;
        Ok(Instances(Tensors::Plain(plain.finish())))
    }
}

/// Parses one row of `instances` into the accumulator.
struct RowSeed<'a> {
    rows: &'a mut Rows,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl RowSeed<'_> {
    fn plain(&mut self) -> &mut Collector {
        self.rows.plain.get_or_insert_with(Collector::default)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an instance: a number, an array or an object of named inputs")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            let index = match self.rows.named.iter().position(|(n, _, _)| *n == name) {
                Some(i) => i,
                None => {
                    self.rows.named.push((name, Collector::default(), 0));
                    self.rows.named.len() - 1
                }
            };
            let (_, collector, count) = &mut self.rows.named[index];
            map.next_value_seed(collector.level(1))?;
            *count += 1;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<(), A::Error> {
        self.plain().level(1).visit_seq(seq)
    }
    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.plain().level(1).visit_f64(v)
    }
    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.plain().level(1).visit_i64(v)
    }
    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.plain().level(1).visit_u64(v)
    }
    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        self.plain().level(1).visit_bool(v)
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.plain().level(1).visit_str(v)
    }
}

impl<'de> Deserialize<'de> for Columns {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Columns, D::Error> {
        d.deserialize_any(ColumnsVisitor)
    }
}

struct ColumnsVisitor;

impl<'de> Visitor<'de> for ColumnsVisitor {
    type Value = Columns;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`inputs` as an array or an object of named arrays")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Columns, A::Error> {
        let mut out = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let mut c = Collector::default();
            map.next_value_seed(c.level(0))?;
            out.push((name, c.finish()));
        }
        Ok(Columns(Tensors::Named(out)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Columns, A::Error> {
        let mut c = Collector::default();
        c.level(0).visit_seq(seq)?;
        Ok(Columns(Tensors::Plain(c.finish())))
    }
}

/// The answer in the format the request used.
pub(crate) enum TfAnswer<'a> {
    /// `{"predictions": [...]}`, one entry per row.
    Rows(&'a InferResponse),
    /// `{"outputs": ...}`.
    Columns(&'a InferResponse),
}

impl Serialize for TfAnswer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            TfAnswer::Rows(a) => map.serialize_entry("predictions", &Predictions(&a.outputs))?,
            TfAnswer::Columns(a) if a.outputs.len() == 1 => map.serialize_entry(
                "outputs",
                &NestedOut {
                    tensor: &a.outputs[0].1,
                },
            )?,
            TfAnswer::Columns(a) => map.serialize_entry("outputs", &Named(&a.outputs))?,
        }
        map.end()
    }
}

/// One entry per row: the row itself for one output, an object for several.
struct Predictions<'a>(&'a [(String, Tensor)]);

impl Serialize for Predictions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let [(_, only)] = self.0 {
            return NestedOut { tensor: only }.serialize(s);
        }
        let rows = self.0.first().map_or(0, |(_, t)| t.rows());
        let mut seq = s.serialize_seq(Some(rows))?;
        for i in 0..rows {
            let row: Vec<(String, Tensor)> = self
                .0
                .iter()
                .map(|(n, t)| (n.clone(), row_of(t, i)))
                .collect();
            seq.serialize_element(&Named(&row))?;
        }
        seq.end()
    }
}

/// `{"name": nested, ...}`.
struct Named<'a>(&'a [(String, Tensor)]);

impl Serialize for Named<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, tensor) in self.0 {
            map.serialize_entry(name, &NestedOut { tensor })?;
        }
        map.end()
    }
}

/// Row `i` without its batch dimension.
fn row_of(t: &Tensor, i: usize) -> Tensor {
    let mut row = t.slice_rows(i, i + 1);
    row.shape.remove(0);
    row
}
