//! tract's matmul walk under, at and one row past inferd's run limit, on one dense
//! 2048x2048 f32 layer built in code (no model file): the reproduction behind
//! README "Performance → The batch-size cliff".
//!
//!     cargo bench --bench tract_walk
//!
//! Ids `tract_walk/dense-2048/{rows}-rows`, throughput in rows. The limit comes from
//! the plan and the L2 size tract detected, printed first. `TRACT_CPU_ISA=-avx512f`
//! runs the AVX2 kernels on an AVX-512 machine.

use criterion::{BenchmarkId, Criterion, Throughput};
use inferd::model::onnx::walk;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;

const WIDTH: usize = 2048;

fn tract_walk(c: &mut Criterion) {
    let plan = walk::dense_layer(WIDTH, WIDTH).expect("the layer builds");
    let batch = walk::batch_symbol(&plan).expect("a batch dimension");
    let l2 = tract_onnx::tract_core::tract_linalg::cache::cache_info().l2;
    let walks: Vec<walk::Walk> = plan
        .nodes()
        .iter()
        .filter_map(|node| node.op_as::<OptMatMul>())
        .filter_map(|op| walk::walk(op, &batch))
        .collect();
    let limit = walk::max_run_rows(&plan)
        .expect("a 16 MiB layer has a run limit wherever tract sees an L2");
    eprintln!("tract_walk: L2 {l2} bytes, {walks:?}, run limit {limit} rows");
    let plan = plan.into_runnable().expect("the layer plans");
    let mut g = c.benchmark_group("tract_walk");
    g.sample_size(10);
    for rows in [limit / 2, limit, limit + 1] {
        let x = Tensor::zero::<f32>(&[rows, WIDTH]).expect("zeros");
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_with_input(
            BenchmarkId::new("dense-2048", format!("{rows}-rows")),
            &x,
            |b, x| b.iter(|| plan.run(tvec![x.clone().into_tvalue()]).expect("runs")),
        );
    }
    g.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    tract_walk(&mut criterion);
    criterion.final_summary();
}
