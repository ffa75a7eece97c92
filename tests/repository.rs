//! Loading the model repository: versions (every one, with `version_policy = "all"`),
//! failures reported by name and reason,
//! per-model settings, and start-up refusing a default model that cannot load.

mod common;

use common::repo_path;
use inferd::config::{BatchSize, Config};
use inferd::error::ApiError;
use inferd::metrics::Metrics;
use inferd::repository::Repository;
use std::path::PathBuf;

/// A scratch repository: stock-forecaster versions 1 and 3, and a broken model.
fn scratch_repo(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("inferd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let model = std::fs::read(repo_path("models/stock-forecaster/1/model.onnx")).unwrap();
    for v in ["1", "3"] {
        let dir = root.join("forecaster").join(v);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.onnx"), &model).unwrap();
    }
    std::fs::write(
        root.join("forecaster/model.toml"),
        "version_policy = \"all\"\n[batching]\nmax_batch_size = 8\n",
    )
    .unwrap();
    let broken = root.join("broken/1");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("model.onnx"), b"not an onnx file").unwrap();
    std::fs::create_dir_all(root.join("forecaster/notes")).unwrap();
    root
}

fn config(root: &std::path::Path, default: &str) -> Config {
    Config {
        model_repository: root.to_path_buf(),
        default_model: default.into(),
        ..Config::default()
    }
}

#[tokio::test]
async fn loads_every_version_and_reports_failures_by_name() {
    let root = scratch_repo("load");
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let repo = Repository::load(&config(&root, "forecaster"), &metrics)
        .await
        .unwrap();
    assert_eq!(repo.names(), vec!["broken", "forecaster"]);
    assert_eq!(
        repo.resolve("forecaster", None).unwrap().version,
        3,
        "newest by default"
    );
    assert_eq!(repo.resolve("forecaster", Some(1)).unwrap().version, 1);
    let settings = &repo.resolve("forecaster", None).unwrap().settings;
    assert_eq!(
        settings.batching.max_batch_size,
        BatchSize::Rows(8),
        "model.toml applies"
    );
    match repo.resolve("broken", Some(1)) {
        Err(ApiError::NotFound(m)) => assert!(m.contains("failed to load"), "{m}"),
        other => panic!("expected 404, got {:?}", other.map(|s| s.version)),
    }
    let list = repo.versions("broken").unwrap();
    assert!(list.loaded.is_empty());
    assert!(
        list.failed[0].1.contains("cannot parse"),
        "{:?}",
        list.failed
    );
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn start_up_fails_when_the_default_model_cannot_load() {
    let root = scratch_repo("default");
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let err = Repository::load(&config(&root, "broken"), &metrics)
        .await
        .err()
        .unwrap();
    assert!(
        err.contains("default model `broken` failed to load"),
        "{err}"
    );
    assert!(err.contains("cannot parse"), "says why: {err}");
    let err = Repository::load(&config(&root, "absent"), &metrics)
        .await
        .err()
        .unwrap();
    assert!(
        err.contains("`absent` is not in the model repository"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn the_binary_exits_non_zero_with_one_sentence() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inferd"))
        .current_dir(repo_path(""))
        .args(["--default-model", "absent", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inferd: the default model `absent`"), "{err}");
    assert!(!err.contains("backtrace"), "no backtrace: {err}");
}

/// `max_batch_size = "auto"` (the default) times the real model at load: the size
/// in force is one of the sizes it timed, the curve grows from one row, and the
/// metric and Triton's model config report the same size.
#[tokio::test]
async fn auto_batch_size_is_measured_at_load_and_reported() {
    let root = std::env::temp_dir().join(format!("inferd-auto-batch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("dense/1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo_path("models/dense-net/1/model.onnx"),
        dir.join("model.onnx"),
    )
    .unwrap();
    let config = config(&root, "dense");
    assert_eq!(config.batching.max_batch_size, BatchSize::Auto);
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let repo = Repository::load(&config, &metrics).await.unwrap();
    let servable = repo.resolve("dense", None).unwrap();
    let batch = &servable.batch;
    let sizes: Vec<usize> = batch.curve.iter().map(|t| t.rows).collect();
    assert_eq!(sizes.first(), Some(&1), "{sizes:?}");
    // Powers of two, up to the model's run limit, which is tried as a size of its own.
    let limit = servable.model.max_run_rows();
    assert!(
        sizes
            .windows(2)
            .all(|w| w[1] == 2 * w[0] || Some(w[1]) == limit),
        "{sizes:?}, limit {limit:?}"
    );
    assert!(
        sizes.iter().all(|&s| limit.is_none_or(|l| s <= l)),
        "{sizes:?} past the limit {limit:?}"
    );
    assert!(
        sizes.contains(&batch.rows),
        "{} not in {sizes:?}",
        batch.rows
    );
    let chosen = batch.curve.iter().find(|t| t.rows == batch.rows).unwrap();
    assert!(
        chosen.run <= config.batching.max_batch_latency,
        "{chosen:?} over the budget"
    );
    // Nothing in the budget does better than 1/0.95 of the chosen rate.
    let best = batch
        .curve
        .iter()
        .filter(|t| t.run <= config.batching.max_batch_latency)
        .map(|t| t.rows_per_second())
        .fold(0.0, f64::max);
    assert!(chosen.rows_per_second() >= 0.95 * best, "{:?}", batch.curve);

    let rendered = metrics.render();
    let series = format!(
        "inferd_max_batch_size{{model=\"dense\",version=\"1\"}} {}",
        batch.rows
    );
    assert!(rendered.contains(&series), "{series} missing");
    let state = inferd::app_state(&config, std::sync::Arc::new(repo), metrics.clone());
    let app = common::TestApp {
        router: inferd::http::router(state.clone()),
        state,
        metrics,
    };
    let a = common::send(&app, common::get("/v2/models/dense/config")).await;
    assert_eq!(a.status, 200);
    let j = a.json();
    assert_eq!(j["max_batch_size"], batch.rows);
    assert_eq!(
        j["parameters"]["max_batch_size_source"]["string_value"],
        "auto"
    );
    let curve = j["parameters"]["max_batch_size_curve"]["string_value"]
        .as_str()
        .unwrap();
    assert!(curve.starts_with("1:"), "{curve}");
    let reported = j["parameters"]["max_batch_size_engine_limit"]["string_value"].clone();
    match batch.limit {
        Some(rows) => assert_eq!(reported, rows.to_string()),
        None => assert_eq!(reported, ""),
    }
    let _ = std::fs::remove_dir_all(root);
}
