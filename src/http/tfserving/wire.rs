//! TF Serving's REST body: row format (`instances`) or columnar format (`inputs`),
//! parsed straight into flat tensors, and the matching `predictions` / `outputs`.

use crate::json::fast::Scanner;
use crate::json::{Collector, Limits, Nested, NestedOut};
use crate::request::{InferResponse, InputData, InputTensor};
use crate::tensor::{RowOffsets, Tensor};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{HashMap, HashSet};
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

impl TfBody {
    /// The common body, `instances` as rows of numbers with at most `model` and
    /// `signature_name` beside it, read without serde (`crate::json::fast`); `None`
    /// for any other.
    pub(crate) fn fast(bytes: &[u8]) -> Option<TfBody> {
        let mut body = TfBody {
            signature_name: None,
            instances: None,
            inputs: None,
            model: None,
            version: None,
        };
        let mut s = Scanner::new(bytes);
        s.object(|key, s| {
            match key {
                "instances" if body.instances.is_none() => {
                    let rows = s.rows(Limits::current().max_rows)?;
                    body.instances = Some(Instances(Tensors::Plain(rows)));
                }
                "model" if body.model.is_none() => body.model = Some(s.string()?.to_owned()),
                "signature_name" if body.signature_name.is_none() => {
                    body.signature_name = Some(s.string()?.to_owned())
                }
                _ => return None,
            }
            Some(())
        })?;
        s.end()?;
        body.instances.is_some().then_some(body)
    }
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

/// Row-format accumulator: one collector for plain rows, one per name for object
/// rows, found by name in constant time so a row of many keys parses in linear time.
#[derive(Default)]
struct Rows {
    plain: Option<Collector>,
    named: Vec<NamedInput>,
    index: HashMap<String, usize>,
}

/// One named input of object rows.
struct NamedInput {
    name: String,
    collector: Collector,
    /// Rows that gave it so far.
    count: usize,
    /// The last row that gave it, to refuse a key given twice in one row.
    last_row: usize,
}

impl Rows {
    /// The input called `name`, first seen in row `row` if it is new.
    fn named<E: de::Error>(&mut self, name: String, row: usize) -> Result<&mut NamedInput, E> {
        let i = match self.index.get(name.as_str()) {
            Some(&i) => {
                if self.named[i].last_row == row {
                    return Err(E::custom(format!(
                        "instance {row} gives input `{name}` more than once"
                    )));
                }
                i
            }
            None => {
                check_names::<E>(self.index.len())?;
                self.index.insert(name.clone(), self.named.len());
                self.named.push(NamedInput {
                    name,
                    collector: Collector::default(),
                    count: 0,
                    last_row: usize::MAX,
                });
                self.named.len() - 1
            }
        };
        let input = &mut self.named[i];
        input.last_row = row;
        input.count += 1;
        Ok(input)
    }
}

/// Refuses one more name past `max_names` (a row of a million keys is no model's).
fn check_names<E: de::Error>(seen: usize) -> Result<(), E> {
    let max = Limits::current().max_names;
    if seen >= max {
        return Err(E::custom(format!(
            "more than {max} named inputs; no model here has that many"
        )));
    }
    Ok(())
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
        let max_rows = Limits::current().max_rows;
        let mut n = 0;
        while seq
            .next_element_seed(RowSeed {
                rows: &mut rows,
                row: n,
            })?
            .is_some()
        {
            n += 1;
            if n > max_rows {
                return Err(de::Error::custom(format!(
                    "`instances` has more than {max_rows} rows (batching.max_request_rows)"
                )));
            }
        }
        if rows.plain.is_some() && !rows.named.is_empty() {
            return Err(de::Error::custom(
                "`instances` mixes arrays and objects; use one form for every row",
            ));
        }
        if !rows.named.is_empty() {
            let mut out = Vec::with_capacity(rows.named.len());
            for mut input in rows.named {
                let (name, count) = (input.name, input.count);
                if count != n {
                    return Err(de::Error::custom(format!(
                        "input `{name}` is given in {count} of {n} instances; every instance needs every input"
                    )));
                }
                input.collector.sequence::<A::Error>(0, n)?;
                out.push((name, input.collector.finish()));
            }
            return Ok(Instances(Tensors::Named(out)));
        }
        let mut plain = rows.plain.unwrap_or_default();
        plain.sequence::<A::Error>(0, n)?;
        Ok(Instances(Tensors::Plain(plain.finish())))
    }
}

/// Parses row `row` of `instances` into the accumulator.
struct RowSeed<'a> {
    rows: &'a mut Rows,
    row: usize,
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
            let input = self.rows.named::<A::Error>(name, self.row)?;
            map.next_value_seed(input.collector.level(1))?;
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
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if seen.contains(name.as_str()) {
                return Err(de::Error::custom(format!(
                    "`inputs` gives input `{name}` more than once"
                )));
            }
            check_names::<A::Error>(seen.len())?;
            seen.insert(name.clone());
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
        let offsets: Vec<RowOffsets> = self.0.iter().map(|(_, t)| t.row_offsets()).collect();
        let mut seq = s.serialize_seq(Some(rows))?;
        for i in 0..rows {
            let row: Vec<(String, Tensor)> = self
                .0
                .iter()
                .zip(&offsets)
                .map(|((n, t), at)| (n.clone(), row_of(t, at, i)))
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
fn row_of(t: &Tensor, offsets: &RowOffsets, i: usize) -> Tensor {
    let mut row = t.slice_rows_at(offsets, i, i + 1);
    row.shape.remove(0);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parsed body holds, comparable: signature, model, the plain rows.
    fn summary(body: TfBody) -> (Option<String>, Option<String>, Nested) {
        let rows = match body.instances {
            Some(Instances(Tensors::Plain(rows))) => rows,
            _ => panic!("no plain instances"),
        };
        assert!(body.inputs.is_none() && body.version.is_none());
        (body.signature_name, body.model, rows)
    }

    #[test]
    fn the_fast_body_is_the_serde_body() {
        for text in [
            r#"{"instances": [[1.5, -2, 3e2], [0.25, 4, -0.0]]}"#,
            r#" { "model" : "stock-forecaster", "instances":[1,2,3] } "#,
            r#"{"signature_name": "serving_default", "instances": []}"#,
        ] {
            let fast = TfBody::fast(text.as_bytes()).unwrap_or_else(|| panic!("declined {text}"));
            let serde: TfBody = serde_json::from_str(text).unwrap();
            assert_eq!(
                format!("{:?}", summary(fast)),
                format!("{:?}", summary(serde)),
                "{text}"
            );
        }
    }

    #[test]
    fn other_bodies_are_left_to_serde() {
        for text in [
            r#"{"instances": [[1]], "version": 2}"#,
            r#"{"instances": [[1]], "instances": [[2]]}"#,
            r#"{"instances": [{"x": 1}]}"#,
            r#"{"instances": 1}"#,
            r#"{"inputs": [[1]]}"#,
            r#"{"model": "a\u0062", "instances": [[1]]}"#,
            r#"{"model": "a"}"#,
            r#"{"instances": [[1]]} x"#,
            r#"{"instances": [["a"]]}"#,
        ] {
            assert!(TfBody::fast(text.as_bytes()).is_none(), "{text}");
        }
    }
}
