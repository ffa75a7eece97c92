//! The most rows one run of a plan takes before tract's matmul walk turns over.
//!
//! tract-linalg blocks a matmul's tile walk for L2 once the operand the walk
//! re-streams outgrows L2. For the usual row-outer walk that operand is B, the
//! rows' side: `ceil(n / nr)` panels of `nr * k` values. Blocked, the walk visits
//! B's blocks outermost, so the whole of A (a dense layer's weights) is read again
//! for every block of B panels; a block fits a third of L2, which at a long `k` is
//! one or two panels (one A+B panel pair at `k` = 2048 with a 32-row A panel is
//! already 280 KiB), so A is read once per 3 or 6 rows on x86. Unblocked, each A
//! panel stays in L2 while every B panel passes it, and A is read once per run.
//! One row past the threshold a 2048x2048 layer costs several times more per row
//! than at it (README "Performance", `cargo bench --bench tract_walk`).
//!
//! So inferd never hands tract a run past the threshold: the batcher splits bigger
//! batches into runs of at most this many rows. Only matmuls whose A does not fit
//! L2 count (a small A is re-read from L2 at no cost), and only those whose `n`
//! grows with the batch (a convolution's `n` is its image).

use tract_onnx::prelude::{Symbol, TDim, TractResult, TypedModel};
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::matmul::optimized::{OptMatMul, ProtoFusedSpec};
use tract_onnx::tract_core::tract_linalg::pack::PackedFormat;

/// The geometry of one matmul as tract's walk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Rows of A per kernel tile (A is the weights, m its output features).
    pub mr: usize,
    /// Columns of B per kernel tile (B is the batch's side).
    pub nr: usize,
    /// The shared dimension.
    pub k: usize,
    /// Output features.
    pub m: usize,
    /// Columns of B (`n`) per row of the batch.
    pub n_per_row: usize,
    /// Bytes per accumulated value.
    pub elem: usize,
}

impl Walk {
    /// The most rows whose B panels fit `l2` bytes, so tract walks them unblocked;
    /// `None` when A fits `l2` (blocking costs nothing then) or not even one row fits.
    pub fn max_rows(&self, l2: usize) -> Option<usize> {
        let a_bytes = self.m.div_ceil(self.mr) * self.mr * self.k * self.elem;
        if l2 == 0 || a_bytes <= l2 {
            return None;
        }
        let panels = l2 / (self.nr * self.k * self.elem);
        let rows = panels * self.nr / self.n_per_row;
        (rows > 0).then_some(rows)
    }
}

/// The smallest [`Walk::max_rows`] over the plan's matmuls, against the L2 size
/// tract detected; `None` when no matmul limits the run.
pub fn max_run_rows(plan: &TypedModel) -> Option<usize> {
    limit_at(
        plan,
        tract_onnx::tract_core::tract_linalg::cache::cache_info().l2,
    )
}

/// [`max_run_rows`] against an L2 of `l2` bytes.
fn limit_at(plan: &TypedModel, l2: usize) -> Option<usize> {
    let batch = batch_symbol(plan)?;
    plan.nodes()
        .iter()
        .filter_map(|node| node.op_as::<OptMatMul>())
        .filter_map(|op| walk(op, &batch))
        .filter_map(|w| w.max_rows(l2))
        .min()
}

/// The walk of the kernel tract runs for more than one row, when the matmul's `n`
/// is a multiple of the batch and its walk is row-outer.
pub fn walk(op: &OptMatMul, batch: &Symbol) -> Option<Walk> {
    let n_per_row = per_row(&op.c_fact.shape[op.c_n_axis?], batch)?;
    let m = op.c_fact.shape[op.c_m_axis?].to_usize().ok()?;
    let mode = op.mode_picker.pick(2).ok()?;
    let mmm = op.mmm.get(mode)?;
    let (k, a_eager, b_eager) = op.micro_ops.iter().find_map(|spec| match spec {
        ProtoFusedSpec::AddMatMul { geo, packings, .. } => {
            let (packing, extractor) = packings.get(mode)?;
            let (a, b) = mmm.packings().get(*packing)?;
            let k = geo.k.to_usize().ok()?;
            Some((
                k,
                extractor.is_none() && a.is::<PackedFormat>(),
                b.is::<PackedFormat>(),
            ))
        }
        _ => None,
    })?;
    // tract walks column-outer when only A is packed ahead; blocking that walk
    // re-streams nothing new.
    if a_eager && !b_eager {
        return None;
    }
    Some(Walk {
        mr: mmm.mr(),
        nr: mmm.nr(),
        k,
        m,
        n_per_row,
        elem: mmm.internal_type().size_of(),
    })
}

/// The symbol of the first input's first dimension: the batch, named by the model
/// file (`N`, `batch_size`...) or by [`super::OnnxModel::load`].
pub fn batch_symbol(plan: &TypedModel) -> Option<Symbol> {
    let fact = plan.input_fact(0).ok()?;
    match fact.shape.iter().next()? {
        TDim::Sym(symbol) => Some(symbol.clone()),
        _ => None,
    }
}

/// An optimized plan of one dense layer, `[rows, k] x [k, m]` in f32:
/// the shape the limit is measured on (`benches/tract_walk.rs`). Wired as the ONNX
/// `MatMul` a converter writes, weights second; tract puts them on A.
pub fn dense_layer(k: usize, m: usize) -> TractResult<TypedModel> {
    use tract_onnx::tract_core::internal::*;
    use tract_onnx::tract_core::ops::einsum::EinSum;
    let mut model = TypedModel::default();
    let batch = model.sym("batch");
    let x = model.add_source("x", f32::fact([TDim::from(batch.clone()), k.to_dim()]))?;
    let weights = tract_ndarray::Array2::from_shape_fn((k, m), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
    });
    let weights = model.add_const("weights", Tensor::from(weights))?;
    let dense = EinSum::new("mk,kn->mn".parse()?, DatumType::F32);
    let y = model.wire_node("dense", dense, &[x, weights])?;
    model.select_output_outlets(&y)?;
    model.into_optimized()
}

/// `n` per row when `n` is `rows` times a constant.
fn per_row(n: &TDim, batch: &Symbol) -> Option<usize> {
    let at = |rows: i64| n.substitute(batch, &TDim::Val(rows)).ok()?.to_i64().ok();
    let (one, two) = (at(1)?, at(2)?);
    (one > 0 && two == 2 * one).then_some(one as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense 2048x2048 layer under tract's x86 AVX2 kernel (32x3 tiles).
    fn dense_2048() -> Walk {
        Walk {
            mr: 32,
            nr: 3,
            k: 2048,
            m: 2048,
            n_per_row: 1,
            elem: 4,
        }
    }

    #[test]
    fn the_limit_is_the_most_b_panels_that_fit_l2() {
        // 512 KiB L2 (AMD Zen): 21 panels of 3 columns of 2048 f32 (24 KiB each)
        // fit, 22 do not, so 63 rows walk unblocked and 64 do not.
        let w = dense_2048();
        assert_eq!(w.max_rows(512 * 1024), Some(63));
        // 2 MiB L2: 85 panels, 255 rows.
        assert_eq!(w.max_rows(2 * 1024 * 1024), Some(255));
        // Two columns per row halve it.
        let wide = Walk { n_per_row: 2, ..w };
        assert_eq!(wide.max_rows(512 * 1024), Some(31));
    }

    #[test]
    fn tract_walks_a_dense_layer_with_its_weights_on_a_and_the_rows_on_b() {
        let plan = dense_layer(1024, 1024).unwrap();
        let batch = batch_symbol(&plan).unwrap();
        let walks: Vec<Walk> = plan
            .nodes()
            .iter()
            .filter_map(|node| node.op_as::<OptMatMul>())
            .filter_map(|op| walk(op, &batch))
            .collect();
        assert_eq!(walks.len(), 1, "{plan}");
        let w = walks[0];
        assert_eq!((w.m, w.k, w.n_per_row, w.elem), (1024, 1024, 1, 4), "{w:?}");
        assert!(w.nr > 1, "the kernel for many rows, not one: {w:?}");
        // 4 MiB of weights outgrow a 512 KiB L2, on any machine.
        let l2 = 512 * 1024;
        assert!(w.max_rows(l2).is_some(), "{w:?}");
        assert_eq!(limit_at(&plan, l2), w.max_rows(l2));
    }

    #[test]
    fn dense_net_is_limited_by_its_2048x2048_layer_whatever_its_batch_is_named() {
        // The model file names its batch dimension `N`; the layer built here, `batch`.
        use crate::model::Model;
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/dense-net/1/model.onnx");
        let model = super::super::OnnxModel::load(&path).unwrap();
        let layer = dense_layer(2048, 2048).unwrap();
        // At an explicit L2, so the check holds on any machine, whatever L2 tract
        // detects here (none, on some virtual machines).
        let l2 = 512 * 1024;
        let limit = limit_at(model.plan.model(), l2);
        assert!(
            limit.is_some(),
            "16 MiB of weights outgrow {l2} bytes of L2"
        );
        assert_eq!(limit, limit_at(&layer, l2));
        // And the limit computed at load is the layer's at the L2 detected here.
        assert_eq!(model.max_run_rows(), max_run_rows(&layer));
    }

    #[test]
    fn no_limit_where_the_weights_fit_l2_or_l2_is_unknown() {
        // 512x64 f32 weights (128 KiB) stay in a 512 KiB L2 whatever the walk.
        let small = Walk {
            k: 512,
            m: 64,
            ..dense_2048()
        };
        assert_eq!(small.max_rows(512 * 1024), None);
        assert_eq!(dense_2048().max_rows(0), None);
        // Not one row's panel fits: no run size helps.
        let huge = Walk {
            n_per_row: 1000,
            ..dense_2048()
        };
        assert_eq!(huge.max_rows(512 * 1024), None);
    }
}
