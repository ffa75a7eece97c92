//! Loading the model repository: versions (every one, with `version_policy = "all"`),
//! failures reported by name and reason,
//! per-model settings, and start-up refusing a default model that cannot load.

mod common;

use common::repo_path;
use inferd::config::Config;
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
    assert_eq!(settings.batching.max_batch_size, 8, "model.toml applies");
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
