//! The trees of a tree ensemble: read from the `nodes_*` attributes and the
//! `target_*` (regressor) or `class_*` (classifier) votes, validated,
//! flattened, and evaluated row by row.
//!
//! Validation happens once, at load time: every child and vote points at a
//! node of its own tree, every tree has one root, and no node is reachable
//! twice, so evaluation always ends at a leaf and a malformed model fails to
//! load instead of panicking or looping while serving.

mod v5;

use std::collections::{BTreeMap, HashMap, HashSet};

use tract_onnx::pb::NodeProto;
use tract_onnx::pb_helpers::AttrTVecType;
use tract_onnx::tract_hir::internal::*;

/// A branch's test of `x[feature]` against its threshold.
#[derive(Debug, Clone, Copy)]
enum Cmp {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

impl Cmp {
    fn holds(self, x: f32, threshold: f32) -> bool {
        match self {
            Cmp::Leq => x <= threshold,
            Cmp::Lt => x < threshold,
            Cmp::Gte => x >= threshold,
            Cmp::Gt => x > threshold,
            Cmp::Eq => x == threshold,
            Cmp::Neq => x != threshold,
        }
    }
}

/// A node; indices point into [`Forest::nodes`] or [`Forest::votes`].
#[derive(Debug, Clone, Copy)]
enum Node {
    /// Go to `next[0]` if `x[feature] <cmp> value`, else to `next[1]`.
    Branch {
        /// Input column tested.
        feature: u32,
        /// Comparison applied.
        cmp: Cmp,
        /// Threshold.
        value: f32,
        /// Children when the test holds and when it does not.
        next: [u32; 2],
        /// Which child a NaN feature goes to.
        nan_is_true: bool,
    },
    /// Votes `start..end`.
    Leaf { start: u32, end: u32 },
}

/// One leaf's contribution to one output column.
#[derive(Debug, Clone, Copy)]
pub(super) struct Vote {
    /// Output column.
    pub(super) target: u32,
    /// Value contributed.
    pub(super) weight: f32,
}

/// Validated trees, flattened so evaluation is a few indexed loads per level.
#[derive(Debug)]
pub(super) struct Forest {
    /// Root node of each tree, in ascending ONNX tree id order.
    roots: Vec<u32>,
    /// All trees' nodes.
    nodes: Vec<Node>,
    /// All leaves' votes.
    votes: Vec<Vote>,
    /// Highest feature any branch reads: narrower inputs are refused.
    max_feature: usize,
}

/// Reads a `len`-long list attribute (tract's own helper is private).
fn list<'a, T: AttrTVecType<'a>>(
    node: &'a NodeProto,
    name: &str,
    len: usize,
) -> TractResult<Vec<T>> {
    let values = node.get_attr_vec(name)?;
    node.expect_attr(name, values.len() == len, || {
        format!("{len} values, got {}", values.len())
    })?;
    Ok(values)
}

fn parse_mode(op: &str, mode: &str) -> TractResult<Option<Cmp>> {
    Ok(Some(match mode {
        "BRANCH_LEQ" => Cmp::Leq,
        "BRANCH_LT" => Cmp::Lt,
        "BRANCH_GTE" => Cmp::Gte,
        "BRANCH_GT" => Cmp::Gt,
        "BRANCH_EQ" => Cmp::Eq,
        "BRANCH_NEQ" => Cmp::Neq,
        "LEAF" => return Ok(None),
        other => bail!("{op}: unsupported node mode {other}"),
    }))
}

/// Where each node goes in [`Forest::nodes`]: sorted by (tree id, node id),
/// so trees come out in id order whatever order the attributes list them in.
struct Layout {
    /// `(tree id, node id)` and attribute index of each node, in table order.
    order: Vec<((usize, usize), usize)>,
    /// Table index of each `(tree id, node id)`.
    index: HashMap<(usize, usize), u32>,
    /// Operator name, for error messages.
    op: String,
}

impl Layout {
    fn new(node: &NodeProto, n: usize) -> TractResult<Layout> {
        let tree_ids = list::<usize>(node, "nodes_treeids", n)?;
        let node_ids = list::<usize>(node, "nodes_nodeids", n)?;
        let mut sorted = BTreeMap::new();
        for (i, key) in tree_ids.into_iter().zip(node_ids).enumerate() {
            let unique = sorted.insert(key, i).is_none();
            node.expect(unique, || {
                format!("unique (tree, node) ids, {key:?} repeats")
            })?;
        }
        let order: Vec<_> = sorted.into_iter().collect();
        let index = order
            .iter()
            .enumerate()
            .map(|(ix, &(key, _))| Ok((key, u32::try_from(ix)?)))
            .collect::<TractResult<_>>()?;
        let op = node.op_type.clone();
        Ok(Layout { order, index, op })
    }

    /// Table index of node `id` of `tree`.
    fn find(&self, tree: usize, id: usize) -> TractResult<u32> {
        let found = self.index.get(&(tree, id)).copied();
        found.ok_or_else(|| format_err!("{}: tree {tree} has no node {id}", self.op))
    }
}

impl Forest {
    /// Parses and validates the trees of `node`, whose votes go to `n_targets`
    /// columns and are read from the `{votes}_*` attributes (`target` or `class`).
    pub(super) fn parse(node: &NodeProto, n_targets: usize, votes: &str) -> TractResult<Forest> {
        let n = node.get_attr_slice::<i64>("nodes_featureids")?.len();
        node.expect_attr("nodes_featureids", n != 0, "at least one node")?;
        let layout = Layout::new(node, n)?;
        let (mut nodes, max_feature) = Self::parse_nodes(node, n, &layout)?;
        let votes = Self::attach_votes(node, n_targets, votes, &layout, &mut nodes)?;
        let mut trees: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for (ix, &((tree, _), _)) in layout.order.iter().enumerate() {
            trees.entry(tree).or_default().push(u32::try_from(ix)?);
        }
        let roots = trees
            .iter()
            .map(|(&tree, members)| Self::validate(&layout.op, tree, members, &nodes))
            .collect::<TractResult<_>>()?;
        Ok(Forest {
            roots,
            nodes,
            votes,
            max_feature,
        })
    }

    /// Reads the `nodes_*` attributes in table order; leaves get their votes
    /// later. Also returns the highest feature a branch reads.
    fn parse_nodes(node: &NodeProto, n: usize, layout: &Layout) -> TractResult<(Vec<Node>, usize)> {
        let modes = list::<&str>(node, "nodes_modes", n)?;
        let features = list::<usize>(node, "nodes_featureids", n)?;
        let values = list::<f32>(node, "nodes_values", n)?;
        let true_ids = list::<usize>(node, "nodes_truenodeids", n)?;
        let false_ids = list::<usize>(node, "nodes_falsenodeids", n)?;
        let nan_true = match node.get_attr_opt_vec::<bool>("nodes_missing_value_tracks_true")? {
            Some(_) => list::<bool>(node, "nodes_missing_value_tracks_true", n)?,
            None => vec![false; n],
        };
        let (mut nodes, mut max_feature) = (Vec::with_capacity(n), 0);
        for &((tree, _), i) in &layout.order {
            let Some(cmp) = parse_mode(&layout.op, modes[i])? else {
                nodes.push(Node::Leaf { start: 0, end: 0 });
                continue;
            };
            max_feature = max_feature.max(features[i]);
            nodes.push(Node::Branch {
                feature: u32::try_from(features[i])?,
                cmp,
                value: values[i],
                next: [
                    layout.find(tree, true_ids[i])?,
                    layout.find(tree, false_ids[i])?,
                ],
                nan_is_true: nan_true[i],
            });
        }
        Ok((nodes, max_feature))
    }

    /// Reads the `{prefix}_*` votes, grouped by leaf, and points leaves at them.
    fn attach_votes(
        node: &NodeProto,
        n_targets: usize,
        prefix: &str,
        layout: &Layout,
        nodes: &mut [Node],
    ) -> TractResult<Vec<Vote>> {
        let ids = format!("{prefix}_ids");
        let m = node.get_attr_slice::<i64>(&ids)?.len();
        let tree_ids = list::<usize>(node, &format!("{prefix}_treeids"), m)?;
        let node_ids = list::<usize>(node, &format!("{prefix}_nodeids"), m)?;
        let targets = list::<usize>(node, &ids, m)?;
        let weights = list::<f32>(node, &format!("{prefix}_weights"), m)?;
        let mut by_leaf: BTreeMap<u32, Vec<Vote>> = BTreeMap::new();
        for i in 0..m {
            node.expect_attr(&ids, targets[i] < n_targets, || {
                format!("targets below n_targets ({n_targets}), got {}", targets[i])
            })?;
            let leaf = layout.find(tree_ids[i], node_ids[i])?;
            let vote = Vote {
                target: u32::try_from(targets[i])?,
                weight: weights[i],
            };
            by_leaf.entry(leaf).or_default().push(vote);
        }
        let mut votes = Vec::with_capacity(m);
        for (leaf, leaf_votes) in by_leaf {
            let start = u32::try_from(votes.len())?;
            votes.extend(leaf_votes);
            let end = u32::try_from(votes.len())?;
            let Node::Leaf { .. } = nodes[leaf as usize] else {
                bail!("{}: a {prefix}_* vote points at a branch node", layout.op);
            };
            nodes[leaf as usize] = Node::Leaf { start, end };
        }
        Ok(votes)
    }

    /// Returns the tree's root: its one node no other node points to. Also
    /// checks no node is reachable twice, which rules out cycles.
    fn validate(op: &str, tree: usize, members: &[u32], nodes: &[Node]) -> TractResult<u32> {
        let children = |ix: u32| match nodes[ix as usize] {
            Node::Branch { next, .. } => next.to_vec(),
            Node::Leaf { .. } => vec![],
        };
        let pointed_at: HashSet<u32> = members.iter().flat_map(|&ix| children(ix)).collect();
        let mut roots = members.iter().filter(|ix| !pointed_at.contains(ix));
        let (Some(&root), None) = (roots.next(), roots.next()) else {
            bail!("{op}: tree {tree} does not have exactly one root");
        };
        let (mut seen, mut stack) = (HashSet::new(), vec![root]);
        while let Some(ix) = stack.pop() {
            ensure!(seen.insert(ix), "{op}: tree {tree} is not a tree");
            stack.extend(children(ix));
        }
        Ok(root)
    }

    /// Number of trees, AVERAGE's divisor.
    pub(super) fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Highest input column read.
    pub(super) fn max_feature(&self) -> usize {
        self.max_feature
    }

    /// The votes of the leaf `row` reaches in each tree, in tree order.
    /// `row` must be longer than [`Forest::max_feature`].
    pub(super) fn leaves<'a>(&'a self, row: &'a [f32]) -> impl Iterator<Item = &'a [Vote]> + 'a {
        self.roots.iter().map(move |&root| {
            let mut ix = root;
            loop {
                match self.nodes[ix as usize] {
                    Node::Branch {
                        feature,
                        cmp,
                        value,
                        next,
                        nan_is_true,
                    } => {
                        let x = row[feature as usize];
                        let holds = if x.is_nan() {
                            nan_is_true
                        } else {
                            cmp.holds(x, value)
                        };
                        ix = next[usize::from(!holds)];
                    }
                    Node::Leaf { start, end } => return &self.votes[start as usize..end as usize],
                }
            }
        })
    }
}
