//! What drift monitoring adds to a request: `Monitor::observe` for one forecaster row
//! (16 inputs and the forecast, against the committed baseline.json), per row of a
//! 64-row request, and the PSI of a full 10,000-row window (paid per scrape, not per
//! request). `scripts/drift-cost.sh` sets these beside the HTTP throughput.

use criterion::{black_box, Criterion};
use inferd::model::{Signature, TensorSpec};
use inferd::monitoring::baseline::Baseline;
use inferd::monitoring::{columns::columns, Monitor};
use inferd::tensor::{DataType, Tensor};
use std::path::Path;

fn monitor() -> Monitor {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/stock-forecaster/1");
    let baseline = Baseline::read(&dir.join("baseline.json")).unwrap().unwrap();
    let spec = |name: &str, width| TensorSpec {
        name: name.into(),
        dtype: DataType::F32,
        shape: vec![-1, width],
    };
    let signature = Signature {
        inputs: vec![spec("input", 16)],
        outputs: vec![spec("forecast", 1)],
    };
    let names: Vec<String> = (1..=16).map(|i| format!("lag{i}")).collect();
    let columns = columns(&signature, Some(&names)).unwrap();
    Monitor::new(("stock-forecaster", 1), &baseline, columns, 10_000, 64).unwrap()
}

fn rows(n: usize) -> (Vec<Tensor>, Vec<Tensor>) {
    let x: Vec<f32> = (0..n * 16)
        .map(|i| ((i * 7919) % 400) as f32 / 100.0 - 2.0)
        .collect();
    let y: Vec<f32> = (0..n).map(|i| (i % 10) as f32 / 10.0 - 0.5).collect();
    (
        vec![Tensor::from_f32(vec![n, 16], &x).unwrap()],
        vec![Tensor::from_f32(vec![n, 1], &y).unwrap()],
    )
}

fn bench(c: &mut Criterion) {
    let m = monitor();
    let (x1, y1) = rows(1);
    c.bench_function("drift/observe_1_row", |b| {
        b.iter(|| m.observe(black_box(&x1), black_box(&y1)))
    });
    let (x64, y64) = rows(64);
    c.bench_function("drift/observe_64_rows", |b| {
        b.iter(|| m.observe(black_box(&x64), black_box(&y64)))
    });
    c.bench_function("drift/psi_full_window", |b| b.iter(|| black_box(m.psi())));
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
