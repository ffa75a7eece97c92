//! Refuses, before tract builds anything, the models we could only run
//! wrongly: an operator no parser is registered for (tract would keep it as
//! a placeholder and fail later with a vaguer message), an operator domain
//! other than ONNX's and ONNX-ML's, and any `ai.onnx.ml` attribute the parser
//! of its operator does not read (an attribute silently ignored is a model
//! silently misread).

use tract_onnx::pb::{GraphProto, ModelProto, NodeProto};

/// Attributes each `ai.onnx.ml` operator's parser reads; anything else is refused.
const ML_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("ArrayFeatureExtractor", &[]),
    ("Binarizer", &["threshold"]),
    (
        "CategoryMapper",
        &[
            "cats_int64s",
            "cats_strings",
            "default_int64",
            "default_string",
        ],
    ),
    ("Imputer", &["imputed_value_floats", "replaced_value_float"]),
    (
        "LabelEncoder",
        &[
            "keys_int64s",
            "keys_floats",
            "keys_strings",
            "values_int64s",
            "values_floats",
            "values_strings",
            "default_int64",
            "default_float",
            "default_string",
        ],
    ),
    (
        "LinearClassifier",
        &[
            "coefficients",
            "intercepts",
            "multi_class",
            "classlabels_ints",
            "classlabels_strings",
            "post_transform",
        ],
    ),
    (
        "LinearRegressor",
        &["coefficients", "intercepts", "targets", "post_transform"],
    ),
    ("Normalizer", &["norm"]),
    ("OneHotEncoder", &["cats_int64s", "cats_strings", "zeros"]),
    ("Scaler", &["offset", "scale"]),
    (
        "SVMClassifier",
        &[
            "classlabels_ints",
            "classlabels_strings",
            "coefficients",
            "kernel_params",
            "kernel_type",
            "post_transform",
            "prob_a",
            "prob_b",
            "rho",
            "support_vectors",
            "vectors_per_class",
        ],
    ),
    (
        "SVMRegressor",
        &[
            "coefficients",
            "kernel_params",
            "kernel_type",
            "n_supports",
            "one_class",
            "post_transform",
            "rho",
            "support_vectors",
        ],
    ),
    (
        "TreeEnsembleClassifier",
        &[
            "base_values",
            "class_ids",
            "class_nodeids",
            "class_treeids",
            "class_weights",
            "classlabels_int64s",
            "classlabels_strings",
            "post_transform",
            "nodes_falsenodeids",
            "nodes_featureids",
            "nodes_hitrates",
            "nodes_missing_value_tracks_true",
            "nodes_modes",
            "nodes_nodeids",
            "nodes_treeids",
            "nodes_truenodeids",
            "nodes_values",
        ],
    ),
    (
        "TreeEnsembleRegressor",
        &[
            "aggregate_function",
            "base_values",
            "n_targets",
            "post_transform",
            "target_ids",
            "target_nodeids",
            "target_treeids",
            "target_weights",
            "nodes_falsenodeids",
            "nodes_featureids",
            "nodes_hitrates",
            "nodes_missing_value_tracks_true",
            "nodes_modes",
            "nodes_nodeids",
            "nodes_treeids",
            "nodes_truenodeids",
            "nodes_values",
        ],
    ),
    (
        "TreeEnsemble",
        &[
            "aggregate_function",
            "leaf_targetids",
            "leaf_weights",
            "n_targets",
            "nodes_falseleafs",
            "nodes_falsenodeids",
            "nodes_featureids",
            "nodes_hitrates",
            "nodes_missing_value_tracks_true",
            "nodes_modes",
            "nodes_splits",
            "nodes_trueleafs",
            "nodes_truenodeids",
            "post_transform",
            "tree_roots",
        ],
    ),
    ("ZipMap", &["classlabels_int64s", "classlabels_strings"]),
];

/// Checks every node of `model`, subgraphs included, against `onnx`'s registry.
pub(crate) fn check_model(onnx: &tract_onnx::Onnx, model: &ModelProto) -> Result<(), String> {
    match &model.graph {
        Some(graph) => check_graph(onnx, graph),
        None => Err("the file has no graph".into()),
    }
}

fn check_graph(onnx: &tract_onnx::Onnx, graph: &GraphProto) -> Result<(), String> {
    for node in &graph.node {
        check_node(onnx, node)?;
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                check_graph(onnx, sub)?;
            }
        }
    }
    Ok(())
}

fn check_node(onnx: &tract_onnx::Onnx, node: &NodeProto) -> Result<(), String> {
    let op = node.op_type.as_str();
    let domain = match node.domain.as_str() {
        "" | "ai.onnx" => "ai.onnx",
        "ai.onnx.ml" => "ai.onnx.ml",
        other => {
            return Err(format!(
                "operator `{other}:{op}` (node `{}`) is not supported: only the ai.onnx and ai.onnx.ml domains are",
                node.name
            ))
        }
    };
    let unsupported = || {
        format!(
            "operator `{domain}:{op}` (node `{}`) is not supported",
            node.name
        )
    };
    if !onnx.op_register.0.contains_key(op) {
        return Err(unsupported());
    }
    if domain != "ai.onnx.ml" {
        return Ok(());
    }
    let Some((_, known)) = ML_ATTRIBUTES.iter().find(|(name, _)| *name == op) else {
        return Err(unsupported());
    };
    match node
        .attribute
        .iter()
        .find(|a| !known.contains(&a.name.as_str()))
    {
        Some(attr) => Err(format!(
            "operator `{domain}:{op}` (node `{}`): attribute `{}` is not supported",
            node.name, attr.name
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::AttributeProto;

    fn model(domain: &str, op: &str, attributes: &[&str]) -> ModelProto {
        let node = NodeProto {
            name: "n1".into(),
            op_type: op.into(),
            domain: domain.into(),
            attribute: attributes
                .iter()
                .map(|a| AttributeProto {
                    name: (*a).into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        ModelProto {
            graph: Some(GraphProto {
                node: vec![node],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn refuses_what_it_cannot_run_by_name() {
        let onnx = super::super::onnx();
        let check = |m: ModelProto| check_model(&onnx, &m);
        assert_eq!(
            check(model("ai.onnx.ml", "Binarizer", &["threshold"])),
            Ok(())
        );
        assert_eq!(check(model("", "Relu", &[])), Ok(()));
        assert_eq!(
            check(model(
                "ai.onnx.ml",
                "LinearClassifier",
                &["classlabels_strings"]
            )),
            Ok(())
        );
        for (m, needle) in [
            (
                model("ai.onnx.ml", "DictVectorizer", &[]),
                "operator `ai.onnx.ml:DictVectorizer` (node `n1`) is not supported",
            ),
            (model("", "NoSuchOp", &[]), "operator `ai.onnx:NoSuchOp`"),
            (
                model("com.microsoft", "FusedGemm", &[]),
                "`com.microsoft:FusedGemm`",
            ),
            (
                model(
                    "ai.onnx.ml",
                    "TreeEnsembleRegressor",
                    &["nodes_values_as_tensor"],
                ),
                "attribute `nodes_values_as_tensor` is not supported",
            ),
        ] {
            let err = check(m).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
