//! Criterion micro-benchmarks of inferd's hot path (README "Performance"): request decoding per
//! protocol, result-cache lookup and insert, batch assembly and split, one model run
//! per bundled model, the per-request metrics work next to a cache hit, and the whole
//! in-process `Inference::infer` path without HTTP.
//!
//! Every figure is for one request (or one batch); throughput is in rows, so
//! criterion's `thrpt` line reads as rows per second and its inverse is the time per
//! row. Run with `cargo bench --bench hot_path` (add `-- <regex>` to pick benchmarks);
//! `scripts/loadbench.sh` runs `model_run/dense-net/64` from here to get the engine's
//! in-process rows per second on the same pinned core as the server.
//!
//! The cache reads tokio's clock, so everything runs inside one runtime's context.

/// The allocator inferd's binary uses (src/main.rs), so figures here match the server.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "hot_path/fixtures.rs"]
mod fixtures;
#[path = "floor/app.rs"]
mod floor;
#[path = "hot_path/zoo.rs"]
mod zoo;

use bytes::Bytes;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use fixtures::{
    app_state, binary_body, bundled, metrics, model_path, reference_rows, signature, tensor,
    Bundled, DENSE, STOCK,
};
use inferd::cache::{unit_key, KeyRows, Lookup, ResultCache};
use inferd::http::{decode, AppState};
use inferd::model::onnx::OnnxModel;
use inferd::model::{Model, Signature};
use inferd::request::{bind, CachePolicy, InferRequest, InputData, InputTensor};
use inferd::tensor::{DataType, Tensor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The parts of a V2 binary-extension header that the binary decode reads.
#[derive(Deserialize)]
struct V2Body {
    inputs: Vec<V2Input>,
}

#[derive(Deserialize)]
struct V2Input {
    name: String,
    shape: Vec<usize>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// Checks decoded inputs against the signature as inferd does (types, shape, NaN).
fn bind_one(model: &Bundled, sig: &Signature, input: InputTensor) -> Tensor {
    let req = InferRequest {
        inputs: vec![input],
        ..InferRequest::default()
    };
    let bound = bind(&req, model.name, sig, 64, false).expect("a valid request");
    bound.inputs.into_iter().next().expect("one input")
}

fn v2_input(input: V2Input, data: InputData) -> InputTensor {
    InputTensor {
        name: Some(input.name),
        datatype: DataType::from_name(&input.datatype),
        shape: Some(input.shape),
        data,
    }
}

/// Body bytes to tensor, per protocol: parse (JSON bodies by the handlers' own
/// decoders, `inferd::http::decode`; the binary extension's JSON header by plain
/// `serde_json`), then `request::bind` (datatype, shape and NaN checks, conversion to
/// the model's type).
fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, rows) in [(STOCK, 1), (STOCK, 64), (DENSE, 1), (DENSE, 64)] {
        let model = bundled(name);
        let sig = signature(model);
        let values = reference_rows(name, rows);
        g.throughput(Throughput::Elements(rows as u64));
        let tf = serde_json::to_vec(&json!({ "instances": values })).expect("json");
        let id = BenchmarkId::new(format!("tf_rows/{name}"), rows);
        let tf = Bytes::from(tf);
        g.bench_with_input(id, &tf, |b, body| {
            b.iter(|| {
                let mut inputs = decode::tf_instances(body.clone()).expect("valid body");
                black_box(bind_one(model, &sig, inputs.pop().expect("one input")))
            })
        });
        let flat: Vec<f32> = values.iter().flatten().copied().collect();
        let shape = [rows, model.input_len];
        let v2 = json!({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32", "data": flat}]});
        let v2 = serde_json::to_vec(&v2).expect("json");
        let id = BenchmarkId::new(format!("v2_json/{name}"), rows);
        let v2 = Bytes::from(v2);
        g.bench_with_input(id, &v2, |b, body| {
            b.iter(|| {
                let mut inputs = decode::v2_json(body.clone()).expect("valid body");
                black_box(bind_one(model, &sig, inputs.pop().expect("one input")))
            })
        });
        let binary = binary_body(&values, model.input_len);
        let id = BenchmarkId::new(format!("v2_binary/{name}"), rows);
        g.bench_with_input(id, &binary, |b, (body, json_len)| {
            b.iter(|| {
                let mut body = body.clone();
                let tail = body.split_off(*json_len);
                let mut header: V2Body = serde_json::from_slice(&body).expect("valid header");
                let input = header.inputs.pop().expect("one input");
                let size = input
                    .parameters
                    .as_ref()
                    .and_then(|p| p["binary_data_size"].as_u64());
                assert_eq!(size, Some(tail.len() as u64));
                black_box(bind_one(model, &sig, v2_input(input, InputData::Raw(tail))))
            })
        });
    }
    g.finish();
}

/// Row keys of a stock request, as `inference::cached` builds them.
fn row_keys(input: &Tensor, generation: u64) -> Vec<Bytes> {
    let inputs = std::slice::from_ref(input);
    (0..input.rows())
        .map(|r| {
            let rows = KeyRows {
                inputs,
                offsets: &[],
                start: r,
                end: r + 1,
            };
            unit_key(STOCK, 1, generation, ["input"], rows)
        })
        .collect()
}

/// Every row a miss: build keys, lead, store. Each iteration uses a fresh generation
/// so its keys are new, as a stream of distinct requests would be.
fn cache_miss(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, rows: usize) {
    let cache = ResultCache::new(256 << 20, metrics());
    let input = tensor(&reference_rows(STOCK, rows));
    let output = Tensor::from_f32(vec![1, 1], &[0.25]).expect("tensor");
    let mut generation = 0;
    g.bench_function(BenchmarkId::new("miss_insert", rows), |b| {
        b.iter(|| {
            generation += 1;
            for key in row_keys(&input, generation) {
                let Lookup::Lead(leader) = cache.begin(key, true) else {
                    panic!("a fresh key must miss")
                };
                black_box(cache.finish(
                    leader,
                    vec![output.clone()],
                    Duration::from_secs(60),
                    true,
                ));
            }
        })
    });
}

/// Every row a hit: build keys, look up, stack the rows' outputs into the answer.
fn cache_hit(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    rows: usize,
) {
    let cache = ResultCache::new(256 << 20, metrics());
    let input = tensor(&reference_rows(STOCK, rows));
    for (r, key) in row_keys(&input, 0).into_iter().enumerate() {
        let Lookup::Lead(leader) = cache.begin(key, true) else {
            continue; // a repeated reference row: already stored
        };
        let output = Tensor::from_f32(vec![1, 1], &[r as f32]).expect("tensor");
        cache.finish(leader, vec![output], Duration::from_secs(3600), true);
    }
    g.bench_function(id, |b| {
        b.iter(|| {
            let parts: Vec<Tensor> = row_keys(&input, 0)
                .into_iter()
                .map(|key| match cache.begin(key, true) {
                    Lookup::Hit(entry) => entry.outputs[0].clone(),
                    _ => panic!("a stored key must hit"),
                })
                .collect();
            black_box(Tensor::concat_rows(&parts))
        })
    });
}

fn cache(c: &mut Criterion) {
    let mut g = c.benchmark_group("cache");
    for rows in [1, 64] {
        g.throughput(Throughput::Elements(rows as u64));
        cache_miss(&mut g, rows);
        cache_hit(&mut g, BenchmarkId::new("hit", rows), rows);
    }
    g.finish();
}

/// What the batcher does around a model run: stack single-row requests, split outputs.
fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    for (name, rows) in [(STOCK, 64), (DENSE, 32), (DENSE, 64)] {
        let model = bundled(name);
        let parts: Vec<Tensor> = reference_rows(name, rows).chunks(1).map(tensor).collect();
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_function(BenchmarkId::new(format!("concat/{name}"), rows), |b| {
            b.iter(|| black_box(Tensor::concat_rows(black_box(&parts))))
        });
        let len = rows * model.output_len;
        let output = Tensor::from_f32(vec![rows, model.output_len], &vec![0.5; len]).expect("t");
        g.bench_function(BenchmarkId::new(format!("split/{name}"), rows), |b| {
            b.iter(|| {
                let split: Vec<Tensor> = (0..rows).map(|r| output.slice_rows(r, r + 1)).collect();
                black_box(split)
            })
        });
    }
    g.finish();
}

/// One `Model::predict` per batch size; `thrpt` is the engine's rows per second.
fn model_run(c: &mut Criterion) {
    let mut g = c.benchmark_group("model_run");
    for (name, sizes) in [(STOCK, &[1, 64][..]), (DENSE, &[1, 32, 64][..])] {
        let model = match OnnxModel::load(&model_path(name).join("model.onnx")) {
            Ok(model) => model,
            Err(e) => {
                eprintln!("skipping model_run/{name}: the model does not load: {e}");
                continue;
            }
        };
        for &rows in sizes {
            let input = tensor(&reference_rows(name, rows));
            g.throughput(Throughput::Elements(rows as u64));
            g.bench_function(BenchmarkId::new(name, rows), |b| {
                b.iter(|| black_box(model.predict(vec![input.clone()]).expect("predict")))
            });
        }
    }
    g.finish();
}

/// The engine alone on every core, the ceiling of `inferd score`: the model over
/// distinct rows (standard normal, as `scripts/score_bench.py gen` writes them) in
/// chunks, which `threads` threads take one at a time by an atomic counter, with no
/// Parquet, queue or collector. `model_run` repeats the same 64 reference rows,
/// which a tree ensemble's branches learn; scoring a file does not, so
/// `scripts/score-bench.sh` compares `inferd score` with this. Dense-net runs at
/// several chunk sizes: its best size depends on the CPU (on AVX2 without AVX-512,
/// 64-row runs cost far more per row than 32-row runs), and `inferd score` runs the
/// size `"auto"` picks, which its summary line names.
fn score_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("score_engine");
    g.sample_size(20);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sizes: [(&str, usize, &[usize]); 2] = [(STOCK, 16_384, &[64]), (DENSE, 512, &[16, 32, 64])];
    for (name, rows, chunk_sizes) in sizes {
        let model = match OnnxModel::load(&model_path(name).join("model.onnx")) {
            Ok(model) => model,
            Err(e) => panic!("score_engine/{name}: the model does not load: {e}"),
        };
        let input = normal_rows(rows, bundled(name).input_len);
        g.throughput(Throughput::Elements(rows as u64));
        for &chunk in chunk_sizes {
            let chunks: Vec<Tensor> = (0..rows)
                .step_by(chunk)
                .map(|start| input.slice_rows(start, (start + chunk).min(rows)))
                .collect();
            // One thread, then every core: once when pinned to one (scripts/loadbench.sh
            // runs criterion under taskset), since criterion refuses a repeated id.
            let thread_counts: &[usize] = if cores > 1 { &[1, cores] } else { &[1] };
            for &threads in thread_counts {
                let id = BenchmarkId::new(name, format!("{threads}-threads/{chunk}-rows"));
                g.bench_function(id, |b| {
                    b.iter(|| black_box(run_chunks(&model, &chunks, threads)))
                });
            }
        }
    }
    g.finish();
}

/// Runs every chunk through the model on `threads` threads; the rows answered.
fn run_chunks(model: &OnnxModel, chunks: &[Tensor], threads: usize) -> usize {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut answered = 0;
                    while let Some(chunk) =
                        chunks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let out = model.predict(vec![chunk.clone()]).expect("predict");
                        answered += out[0].rows();
                    }
                    answered
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .sum()
    })
}

/// `rows` rows of `width` standard normal float32 values, the same on every run
/// (xorshift64* and Box-Muller: no random-number crate for one bench input).
fn normal_rows(rows: usize, width: usize) -> Tensor {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut uniform = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        // The top 53 bits as a float in (0, 1]: never 0, so the logarithm is finite.
        ((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) + 1) as f64 / (1u64 << 53) as f64
    };
    let values: Vec<f32> = (0..rows * width)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect();
    Tensor::from_f32(vec![rows, width], &values).expect("a rectangular tensor")
}

/// What `http::observe` and `inference` record per request, next to a 1-row cache hit,
/// and the cost of cloning the handlers' state (axum clones it for each extractor and
/// layer that takes it).
fn per_request(c: &mut Criterion, state: Option<&AppState>) {
    let mut g = c.benchmark_group("per_request");
    let m = metrics();
    g.bench_function("metrics_clone", |b| b.iter(|| black_box(m.clone())));
    if let Some(state) = state {
        g.bench_function("app_state_clone", |b| b.iter(|| black_box(state.clone())));
    }
    g.bench_function("metrics_bare", |b| {
        b.iter(|| {
            m.inflight.inc();
            m.http_requests
                .with_label_values(&["/predict", "POST", "200"])
                .inc();
            m.http_duration
                .with_label_values(&["/predict"])
                .observe(black_box(0.000_3));
            m.inflight.dec();
        })
    });
    g.bench_function("metrics_observe", |b| {
        b.iter(|| {
            // As observe.rs: clock, owned route / id / path strings, gauge guard,
            // counter and histogram, plus the cache lookup counter of `inference`.
            let started = Instant::now();
            let route = black_box("/predict").to_string();
            let id = black_box("3f2c9a4e-8d1b-4c55-9f7e-0a1b2c3d4e5f").to_string();
            let path = black_box("/predict").to_string();
            m.inflight.inc();
            let gauge = m.inflight.clone();
            m.http_requests
                .with_label_values(&[&route, "POST", "200"])
                .inc();
            m.http_duration
                .with_label_values(&[&route])
                .observe(started.elapsed().as_secs_f64());
            m.cache_lookups.with_label_values(&[STOCK, "hit"]).inc_by(1);
            gauge.dec();
            black_box((id, path))
        })
    });
    cache_hit(&mut g, BenchmarkId::new("cache_hit", 1), 1);
    g.finish();
}

/// The whole in-process path (resolve, bind, cache or batcher, model), without HTTP.
fn infer(c: &mut Criterion, rt: &Runtime, state: Option<&AppState>) {
    let Some(inference) = state.map(|s| &s.inference) else {
        return;
    };
    let mut g = c.benchmark_group("infer");
    let cases = [
        ("hit", STOCK, 1, CachePolicy::Use),
        ("bypass", STOCK, 1, CachePolicy::Bypass),
        ("bypass", DENSE, 1, CachePolicy::Bypass),
        ("bypass", DENSE, 64, CachePolicy::Bypass),
    ];
    for (what, name, rows, cache) in cases {
        if inference.repository.resolve(name, None).is_err() {
            eprintln!("skipping infer/{what}/{name}: the model is not servable");
            continue;
        }
        let values = tensor(&reference_rows(name, rows));
        let req = InferRequest {
            model: Some(name.to_string()),
            inputs: vec![InputTensor {
                name: None,
                datatype: Some(DataType::F32),
                shape: Some(values.shape.clone()),
                data: InputData::Raw(values.data),
            }],
            cache,
            ..InferRequest::default()
        };
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_function(BenchmarkId::new(format!("{what}/{name}"), rows), |b| {
            b.iter(|| black_box(rt.block_on(inference.infer(req.clone())).expect("infer")))
        });
    }
    g.finish();
}

/// One `/predict` request through a whole router in process, as hyper would hand it
/// over, up to the collected response body: the floor's bare handler, inferd's cache
/// hit and inferd's cache bypass (`no-store`, through the batcher and the engine).
/// What the kernel and hyper cost is the same for both servers and left out, so the
/// difference is exactly what inferd's layers, handlers and cache add per request.
fn router(c: &mut Criterion, rt: &Runtime, state: Option<&AppState>) {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let Some(state) = state else { return };
    let body = serde_json::to_vec(&json!({ "instances": reference_rows(STOCK, 1) })).expect("json");
    let run = |app: &axum::Router, cache_control: &'static str| {
        let req = axum::http::Request::post("/predict")
            .header("content-type", "application/json")
            .header("cache-control", cache_control)
            .body(Body::from(body.clone()))
            .expect("request");
        let app = app.clone();
        rt.block_on(async move {
            let response = app.oneshot(req).await.expect("infallible");
            assert_eq!(response.status(), 200);
            response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
        })
    };
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(1));
    let cases = [
        ("floor", floor::app(), "max-age=0"),
        ("hit", inferd::http::router(state.clone()), "max-age=0"),
        ("bypass", inferd::http::router(state.clone()), "no-store"),
    ];
    for (name, app, cache_control) in cases {
        run(&app, cache_control); // the first request fills the cache
        g.bench_function(name, |b| b.iter(|| black_box(run(&app, cache_control))));
    }
    g.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let _context = rt.enter();
    let state = rt.block_on(app_state());
    let mut c = Criterion::default().configure_from_args();
    decode(&mut c);
    cache(&mut c);
    batch(&mut c);
    model_run(&mut c);
    score_engine(&mut c);
    zoo::zoo(&mut c);
    per_request(&mut c, state.as_ref());
    infer(&mut c, &rt, state.as_ref());
    router(&mut c, &rt, state.as_ref());
    c.final_summary();
}
