//! The ai.onnx.ml opset 5 `TreeEnsemble` layout, read into the same
//! [`Forest`] as the older TreeEnsembleRegressor/Classifier: branch nodes
//! indexed from `tree_roots`, children that are either branches or leaves
//! (`nodes_trueleafs` / `nodes_falseleafs`), and leaves as
//! (`leaf_targetids`, `leaf_weights`). Thresholds and weights come as
//! tensors; doubles are refused (computing them in f32 would not match
//! onnxruntime), and so is `BRANCH_MEMBER` (set membership).

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{list, Cmp, Forest, Node, Vote};

/// A tensor attribute as f32 values, refusing any other element type.
fn f32_tensor(node: &NodeProto, name: &str) -> TractResult<Vec<f32>> {
    let proto: &tract_onnx::pb::TensorProto = node.get_attr(name)?;
    let resolver = tract_onnx::data_resolver::default();
    let tensor = tract_onnx::tensor::load_tensor(&*resolver, proto, None)?;
    node.expect_attr(name, tensor.datum_type() == f32::datum_type(), || {
        format!(
            "float values (got {:?}; doubles are not supported)",
            tensor.datum_type()
        )
    })?;
    Ok(tensor
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect())
}

/// `nodes_modes`, a uint8 tensor.
fn modes(node: &NodeProto) -> TractResult<Vec<Cmp>> {
    let proto: &tract_onnx::pb::TensorProto = node.get_attr("nodes_modes")?;
    let resolver = tract_onnx::data_resolver::default();
    let tensor = tract_onnx::tensor::load_tensor(&*resolver, proto, None)?
        .cast_to::<i64>()?
        .into_owned();
    tensor
        .to_plain_array_view::<i64>()?
        .iter()
        .map(|m| {
            Ok(match m {
                0 => Cmp::Leq,
                1 => Cmp::Lt,
                2 => Cmp::Gte,
                3 => Cmp::Gt,
                4 => Cmp::Eq,
                5 => Cmp::Neq,
                other => {
                    bail!("TreeEnsemble: node mode {other} is not supported (6 is BRANCH_MEMBER)")
                }
            })
        })
        .collect()
}

impl Forest {
    /// Parses the opset 5 `TreeEnsemble` attributes; votes go to `n_targets` columns.
    pub(in crate::model::onnx_ml) fn parse_v5(
        node: &NodeProto,
        n_targets: usize,
    ) -> TractResult<Forest> {
        let roots_at = node.get_attr_vec::<i64>("tree_roots")?;
        let features = node.get_attr_vec::<i64>("nodes_featureids")?;
        let n = features.len();
        let cmps = modes(node)?;
        let splits = f32_tensor(node, "nodes_splits")?;
        node.expect_attr("nodes_modes", cmps.len() == n, "one per node")?;
        node.expect_attr("nodes_splits", splits.len() == n, "one per node")?;
        let true_ids = list::<i64>(node, "nodes_truenodeids", n)?;
        let true_leaf = list::<i64>(node, "nodes_trueleafs", n)?;
        let false_ids = list::<i64>(node, "nodes_falsenodeids", n)?;
        let false_leaf = list::<i64>(node, "nodes_falseleafs", n)?;
        let nan_true = match node.get_attr_opt_vec::<i64>("nodes_missing_value_tracks_true")? {
            Some(v) => {
                node.expect_attr(
                    "nodes_missing_value_tracks_true",
                    v.len() == n,
                    "one per node",
                )?;
                v
            }
            None => vec![0; n],
        };
        let targets = node.get_attr_vec::<i64>("leaf_targetids")?;
        let weights = f32_tensor(node, "leaf_weights")?;
        let leaves = targets.len();
        node.expect_attr("leaf_weights", weights.len() == leaves, "one per leaf")?;
        // Table: branches 0..n, then one leaf node per leaf.
        let index = |id: i64, leaf: i64, limit: usize| -> TractResult<u32> {
            let id = usize::try_from(id)?;
            ensure!(id < limit, "TreeEnsemble: child {id} out of range");
            Ok(u32::try_from(if leaf != 0 { n + id } else { id })?)
        };
        let mut nodes = Vec::with_capacity(n + leaves);
        let mut max_feature = 0;
        for i in 0..n {
            let feature = usize::try_from(features[i])?;
            max_feature = max_feature.max(feature);
            let t = index(
                true_ids[i],
                true_leaf[i],
                if true_leaf[i] != 0 { leaves } else { n },
            )?;
            let f = index(
                false_ids[i],
                false_leaf[i],
                if false_leaf[i] != 0 { leaves } else { n },
            )?;
            nodes.push(Node::Branch {
                feature: u32::try_from(feature)?,
                cmp: cmps[i],
                value: splits[i],
                next: [t, f],
                nan_is_true: nan_true[i] != 0,
            });
        }
        let mut votes = Vec::with_capacity(leaves);
        for (i, (&target, &weight)) in targets.iter().zip(&weights).enumerate() {
            let target = usize::try_from(target)?;
            node.expect_attr(
                "leaf_targetids",
                target < n_targets,
                "targets below n_targets",
            )?;
            votes.push(Vote {
                target: u32::try_from(target)?,
                weight,
            });
            let at = u32::try_from(i)?;
            nodes.push(Node::Leaf {
                start: at,
                end: at + 1,
            });
        }
        let mut roots = Vec::with_capacity(roots_at.len());
        for &r in &roots_at {
            roots.push(index(r, 0, n)?);
        }
        let forest = Forest {
            roots,
            nodes,
            votes,
            max_feature,
        };
        forest.check_acyclic()?;
        Ok(forest)
    }

    /// Every walk from a root ends at a leaf: no node is reached twice from
    /// one root (a cycle would loop forever while serving).
    fn check_acyclic(&self) -> TractResult<()> {
        for (tree, &root) in self.roots.iter().enumerate() {
            let mut seen = std::collections::HashSet::new();
            let mut stack = vec![root];
            while let Some(ix) = stack.pop() {
                ensure!(seen.insert(ix), "TreeEnsemble: tree {tree} is not a tree");
                if let Node::Branch { next, .. } = self.nodes[ix as usize] {
                    stack.extend(next);
                }
            }
        }
        Ok(())
    }
}
