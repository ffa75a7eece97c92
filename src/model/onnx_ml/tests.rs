//! tract against onnxruntime on the committed fixtures (their reference.json
//! is written by scripts/make_fixtures.py), plus hand-built one-node models
//! for the operator semantics those fixtures do not exercise.

use std::path::PathBuf;

use serde::Deserialize;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TypeProto,
    ValueInfoProto,
};
use tract_onnx::prelude::*;

use super::onnx;

/// Tolerance against onnxruntime, relative to the larger of the expected
/// value and the largest expected magnitude in its row. The row scale matters
/// for the dense net: a 2048-long f32 dot product summed in another order is
/// off by a few ulps of its *terms*, so a logit that cancels to ~0.02 differs
/// by up to 5.5e-5 relative between tract and onnxruntime (onnxruntime alone
/// is 2.2e-5 away from an f64 evaluation), but by under 3e-6 of the row's
/// largest logit. Rows of the stock forecaster have one value, so for it this
/// is plain relative error; its trees sum in the same order in both engines,
/// and it matches bit for bit.
const REL_TOL: f32 = 1e-5;
/// Absolute floor, so values that are nearly 0 are not held to a relative
/// bound that rounding alone can break.
const ABS_TOL: f32 = 1e-6;

/// `models/<name>/1/reference.json`, as written by the fixture script.
#[derive(Deserialize)]
struct Reference {
    /// Name of the model's single input.
    input_name: String,
    /// Input rows; every value is an exact f32.
    inputs: Vec<Vec<f64>>,
    /// onnxruntime's output rows.
    outputs: Vec<Vec<f64>>,
}

fn fixture(name: &str) -> (PathBuf, Reference) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
        .join("1");
    let json = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    (dir.join("model.onnx"), serde_json::from_str(&json).unwrap())
}

/// Optimises `model` for f32 inputs of shape [N, width], N symbolic.
fn runnable(mut model: InferenceModel, width: usize) -> TractResult<Arc<TypedRunnableModel>> {
    let batch = model.sym("N");
    model.set_input_fact(0, f32::fact([batch.to_dim(), width.to_dim()]).into())?;
    model.into_optimized()?.into_runnable()
}

fn run(model: &Arc<TypedRunnableModel>, rows: &[Vec<f64>]) -> TractResult<Vec<f32>> {
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    let input = Tensor::from_shape(&[rows.len(), rows[0].len()], &flat)?;
    let output = model.run(tvec!(input.into()))?;
    Ok(output[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect())
}

/// Asserts `got` matches `want` within tolerance; returns the max errors,
/// relative (to the tolerance's scale) and absolute, for the test to report.
fn assert_close(got: &[f32], want: &[Vec<f64>]) -> (f32, f32) {
    assert_eq!(got.len(), want.iter().map(Vec::len).sum::<usize>());
    let (mut max_rel, mut max_abs) = (0f32, 0f32);
    let width = want[0].len();
    for (row, (got, want)) in got.chunks(width).zip(want).enumerate() {
        let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        let row_scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (col, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let (err, scale) = ((g - w).abs(), w.abs().max(row_scale));
            let msg = format!("row {row} col {col}: tract {g}, onnxruntime {w}");
            assert!(err <= (REL_TOL * scale).max(ABS_TOL), "{msg}");
            max_abs = max_abs.max(err);
            max_rel = max_rel.max(err / scale.max(f32::MIN_POSITIVE));
        }
    }
    (max_rel, max_abs)
}

/// Runs the fixture as one batch, then row by row.
fn check_fixture(name: &str) -> TractResult<Arc<TypedRunnableModel>> {
    let (path, reference) = fixture(name);
    let model = onnx().model_for_path(path)?;
    let input = model.input_outlets()?[0].node;
    assert_eq!(model.node(input).name, reference.input_name);
    let model = runnable(model, reference.inputs[0].len())?;

    let (rel, abs) = assert_close(&run(&model, &reference.inputs)?, &reference.outputs);
    eprintln!(
        "{name}, batch of {}: max rel {rel:e}, max abs {abs:e}",
        reference.inputs.len()
    );
    let (mut rel, mut abs) = (0f32, 0f32);
    for (row, want) in reference.inputs.iter().zip(&reference.outputs) {
        let got = run(&model, std::slice::from_ref(row))?;
        let (r, a) = assert_close(&got, std::slice::from_ref(want));
        (rel, abs) = (rel.max(r), abs.max(a));
    }
    eprintln!("{name}, row by row: max rel {rel:e}, max abs {abs:e}");
    Ok(model)
}

#[test]
fn stock_forecaster_matches_onnxruntime() -> TractResult<()> {
    check_fixture("stock-forecaster")?;
    Ok(())
}

#[test]
fn dense_net_matches_onnxruntime() -> TractResult<()> {
    let model = check_fixture("dense-net")?;
    // The weights are computed in-graph; the benchmarks rely on tract folding
    // that into constants at load time rather than recomputing it per call.
    let ops: Vec<_> = model
        .model()
        .nodes()
        .iter()
        .map(|n| n.op().name())
        .collect();
    assert!(
        !ops.iter()
            .any(|op| op.contains("Range") || op.contains("Rem")),
        "{ops:?}"
    );
    Ok(())
}

fn attr(name: &str, kind: AttributeType, fill: impl FnOnce(&mut AttributeProto)) -> AttributeProto {
    let mut attr = AttributeProto {
        name: name.into(),
        r#type: kind as i32,
        ..Default::default()
    };
    fill(&mut attr);
    attr
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    attr(name, AttributeType::Ints, |a| a.ints = v.to_vec())
}

fn floats(name: &str, v: &[f32]) -> AttributeProto {
    attr(name, AttributeType::Floats, |a| a.floats = v.to_vec())
}

fn strings(name: &str, v: &[&str]) -> AttributeProto {
    attr(name, AttributeType::Strings, |a| {
        a.strings = v.iter().map(|s| s.as_bytes().into()).collect()
    })
}

fn string(name: &str, v: &str) -> AttributeProto {
    attr(name, AttributeType::String, |a| a.s = v.as_bytes().into())
}

/// A model made of one `ai.onnx.ml` node from input `x` to output `y`.
fn one_node_model(op_type: &str, attribute: Vec<AttributeProto>) -> ModelProto {
    // tract wants every graph input and output typed; shapes come later.
    let tensor = type_proto::Tensor {
        elem_type: DataType::Float as i32,
        shape: None,
    };
    let value = |name: &str| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor.clone())),
            ..Default::default()
        }),
        ..Default::default()
    };
    let node = NodeProto {
        input: vec!["x".into()],
        output: vec!["y".into()],
        op_type: op_type.into(),
        domain: "ai.onnx.ml".into(),
        attribute,
        ..Default::default()
    };
    let graph = GraphProto {
        node: vec![node],
        input: vec![value("x")],
        output: vec![value("y")],
        ..Default::default()
    };
    let opset = |domain: &str, version| OperatorSetIdProto {
        domain: domain.into(),
        version,
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![opset("", 17), opset("ai.onnx.ml", 1)],
        graph: Some(graph),
        ..Default::default()
    }
}

/// Two trees over two features, base value 10:
/// - tree 0: `x0 <= 0.5` (NaN goes true) ? -1 : 3
/// - tree 1: `x1 >= 2` (NaN goes false) ? -2 : 5.
///
/// Nodes are listed root first, as exporters do: onnxruntime takes each
/// tree's first listed node as its root, we the node nothing points to.
fn forest(aggregate: &str, post_transform: &str) -> ModelProto {
    one_node_model(
        "TreeEnsembleRegressor",
        vec![
            attr("n_targets", AttributeType::Int, |a| a.i = 1),
            string("aggregate_function", aggregate),
            string("post_transform", post_transform),
            floats("base_values", &[10.0]),
            ints("nodes_treeids", &[0, 0, 0, 1, 1, 1]),
            ints("nodes_nodeids", &[0, 1, 2, 0, 1, 2]),
            ints("nodes_featureids", &[0, 0, 0, 1, 0, 0]),
            strings(
                "nodes_modes",
                &["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_GTE", "LEAF", "LEAF"],
            ),
            floats("nodes_values", &[0.5, 0.0, 0.0, 2.0, 0.0, 0.0]),
            ints("nodes_truenodeids", &[1, 0, 0, 1, 0, 0]),
            ints("nodes_falsenodeids", &[2, 0, 0, 2, 0, 0]),
            ints("nodes_missing_value_tracks_true", &[1, 0, 0, 0, 0, 0]),
            ints("target_treeids", &[0, 0, 1, 1]),
            ints("target_nodeids", &[1, 2, 1, 2]),
            ints("target_ids", &[0, 0, 0, 0]),
            floats("target_weights", &[-1.0, 3.0, -2.0, 5.0]),
        ],
    )
}

fn run_proto(proto: &ModelProto, rows: &[Vec<f64>]) -> TractResult<Vec<f32>> {
    run(
        &runnable(onnx().model_for_proto_model(proto)?, rows[0].len())?,
        rows,
    )
}

#[test]
fn tree_regressor_aggregates_like_onnxruntime() -> TractResult<()> {
    // Votes per row: (-1, 5), (3, -2), (-1, -2) on the threshold, (-1, 5) for NaN.
    let rows = [
        vec![0.0, 0.0],
        vec![1.0, 3.0],
        vec![0.5, 2.0],
        vec![f64::NAN, f64::NAN],
    ];
    // Expected values checked with onnxruntime 1.32 on the same graph.
    for (aggregate, want) in [
        ("SUM", [14.0, 11.0, 7.0, 14.0]),
        ("AVERAGE", [12.0, 10.5, 8.5, 12.0]),
        ("MIN", [9.0, 8.0, 8.0, 9.0]),
        ("MAX", [15.0, 13.0, 9.0, 15.0]),
    ] {
        assert_eq!(
            run_proto(&forest(aggregate, "NONE"), &rows)?,
            want,
            "{aggregate}"
        );
    }
    Ok(())
}

#[test]
fn tree_regressor_refuses_post_transforms() {
    let err = onnx()
        .model_for_proto_model(&forest("SUM", "LOGISTIC"))
        .unwrap_err();
    assert!(format!("{err:?}").contains("post_transform"), "{err:?}");
}

#[test]
fn tree_regressor_refuses_malformed_trees() {
    let modes = [
        "BRANCH_LEQ",
        "BRANCH_LEQ",
        "LEAF",
        "BRANCH_GTE",
        "LEAF",
        "LEAF",
    ];
    let malformed = [
        // Tree 0's root sends `true` to a node that does not exist.
        (
            "nodes_truenodeids",
            ints("nodes_truenodeids", &[7, 0, 0, 1, 0, 0]),
            "no node 7",
        ),
        // Tree 0's root ignores node 2, which becomes a second root.
        (
            "nodes_falsenodeids",
            ints("nodes_falsenodeids", &[1, 0, 0, 2, 0, 0]),
            "one root",
        ),
        // Tree 0's node 1 becomes a branch, yet still gets a vote.
        (
            "nodes_modes",
            strings("nodes_modes", &modes),
            "points at a branch",
        ),
        ("target_ids", ints("target_ids", &[0, 0, 1, 0]), "n_targets"),
    ];
    for (name, replacement, expected) in malformed {
        let mut proto = forest("SUM", "NONE");
        let node = &mut proto.graph.as_mut().unwrap().node[0];
        *node.attribute.iter_mut().find(|a| a.name == name).unwrap() = replacement;
        let err = onnx().model_for_proto_model(&proto).unwrap_err();
        assert!(format!("{err:?}").contains(expected), "{name}: {err:?}");
    }
}

#[test]
fn scaler_applies_per_feature_or_shared_coefficients() -> TractResult<()> {
    let rows = [vec![3.0, 3.0, 3.0], vec![0.0, 1.0, 2.0]];
    // Expected values checked with onnxruntime 1.32 on the same graphs.
    for (offset, scale, want) in [
        (
            &[1.0, 0.0, -1.0][..],
            &[2.0, -0.5, 0.25][..],
            [4.0, -1.5, 1.0, -2.0, -0.5, 0.75],
        ),
        (&[1.0][..], &[2.0][..], [4.0, 4.0, 4.0, -2.0, 0.0, 2.0]),
    ] {
        let proto = one_node_model(
            "Scaler",
            vec![floats("offset", offset), floats("scale", scale)],
        );
        assert_eq!(
            run_proto(&proto, &rows)?,
            want,
            "offset {offset:?}, scale {scale:?}"
        );
    }
    Ok(())
}

/// tract's own LinearRegressor fails to load behind PolynomialFeatures (its
/// declutter pass trips on the EinSum it wires); ours loads and answers.
/// tests/fixtures/poly_declutter_repro.onnx is the smallest such graph:
/// x [N, 2] -> ReduceProd(axes 1) -> Shape -> ConstantOfShape(1.0), Concat
/// with the product -> LinearRegressor(coefficients [0.5, 2], intercept 1).
#[test]
fn our_linear_regressor_loads_where_tracts_fails() -> TractResult<()> {
    for path in [
        "tests/fixtures/poly_declutter_repro.onnx",
        "tests/zoo/poly-ridge/model.onnx",
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
        let width = if path.ends_with("poly_declutter_repro.onnx") {
            2
        } else {
            5
        };
        let theirs = tract_onnx::onnx()
            .model_for_path(&path)
            .and_then(|m| runnable(m, width));
        let err = theirs.err().map(|e| format!("{e:#}"));
        eprintln!("tract's own on {}: {err:?}", path.display());
        assert!(
            err.is_some(),
            "tract's LinearRegressor now loads {}",
            path.display()
        );
        runnable(onnx().model_for_path(&path)?, width)?;
    }
    // onnxruntime: 1 + 0.5 * 1 + 2 * (x0 * x1).
    let model = runnable(
        onnx().model_for_path(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/poly_declutter_repro.onnx"),
        )?,
        2,
    )?;
    assert_eq!(run(&model, &[vec![1.0, 2.0], vec![3.0, 4.0]])?, [5.5, 25.5]);
    Ok(())
}
