//! Fleet-wide drift through real Prometheus and the recording rules of
//! `config/drift.yml`: two replicas serve two copies of the forecaster with its
//! committed baseline. `calm` gets fresh rows of its training process, `drifted`
//! the same kind of rows with lag8 shifted by one standard deviation, each split
//! over both replicas. Prometheus scrapes both and records the fleet's PSI.

use super::common::drift::{column_std, training_like_rows, ForecasterRepo};
use super::{prometheus_binary, repo_path, start_replica, Prometheus, Replica, PATIENCE, POLL};
use inferd::config::Config;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const CALM: &str = "calm";
const DRIFTED: &str = "drifted";
/// Rows per model, over both replicas.
const ROWS: usize = 4000;
/// Rows per request.
const CHUNK: usize = 50;
const SHIFTED: &str = "lag8";
const SHIFTED_COL: usize = 7;
/// 16 inputs and the forecast.
const FEATURES: usize = 17;

/// Sends `rows` to `model`, alternating replicas request by request.
async fn feed(client: &reqwest::Client, replicas: &[SocketAddr], model: &str, rows: &[Vec<f32>]) {
    for (i, chunk) in rows.chunks(CHUNK).enumerate() {
        let url = format!(
            "http://{}/v1/models/{model}:predict",
            replicas[i % replicas.len()]
        );
        let answer = client.post(url).json(&json!({ "instances": chunk }));
        let answer = answer.send().await.expect("predict");
        assert_eq!(answer.status(), 200, "{model} request {i}");
    }
}

/// Polls until `promql` gives `want` (one series), or panics after PATIENCE.
async fn wait_for_value(p: &Prometheus, promql: &str, want: f64) {
    let deadline = Instant::now() + PATIENCE;
    let mut last = Vec::new();
    while Instant::now() < deadline {
        last = p.query(promql).await;
        if last.len() == 1 && last[0].1 == want {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "{promql} never reached {want}: last {last:?}\nlog:\n{}",
        p.log()
    );
}

/// The recorded fleet PSI of `model`, by feature.
async fn fleet_psi(p: &Prometheus, model: &str) -> BTreeMap<String, f64> {
    let promql = format!(r#"inferd:feature_drift_psi:rate15m{{model="{model}"}}"#);
    p.query(&promql)
        .await
        .into_iter()
        .map(|(labels, value)| (labels["feature"].clone(), value))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_rule_finds_the_shifted_feature_across_replicas() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let repo = ForecasterRepo::new(&[CALM, DRIFTED]);
    let config = Config {
        model_repository: repo.0.clone(),
        default_model: CALM.into(),
        ..Config::default()
    };
    let replicas: Vec<Replica> = vec![
        start_replica(config.clone()).await,
        start_replica(config).await,
    ];
    let addresses: Vec<SocketAddr> = replicas.iter().map(|r| r.0).collect();
    let rules = repo_path("config/drift.yml");
    let p = Prometheus::start(&binary, &addresses, Some(&rules), &client).await;
    // The zero counters of both models on both replicas are scraped first, so the
    // rates below see the traffic as an increase.
    let zeros = r#"count(inferd_feature_bin_total{feature="lag1", bin="0"})"#;
    wait_for_value(&p, zeros, 4.0).await;

    let calm = training_like_rows(21, ROWS);
    let shift = column_std(&calm, SHIFTED_COL);
    let mut drifted = training_like_rows(22, ROWS);
    for row in &mut drifted {
        row[SHIFTED_COL] += shift;
    }
    feed(&client, &addresses, CALM, &calm).await;
    feed(&client, &addresses, DRIFTED, &drifted).await;
    for model in [CALM, DRIFTED] {
        let rows = format!(r#"sum(inferd_feature_bin_total{{model="{model}", feature="lag1"}})"#);
        wait_for_value(&p, &rows, ROWS as f64).await;
    }
    // Two more evaluation rounds (one per second) so the rules see the last scrape.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let calm_psi = fleet_psi(&p, CALM).await;
    assert_eq!(calm_psi.len(), FEATURES, "{calm_psi:?}");
    assert!(calm_psi.values().all(|&v| v < 0.1), "calm: {calm_psi:?}");
    let drifted_psi = fleet_psi(&p, DRIFTED).await;
    eprintln!("fleet PSI with {SHIFTED} shifted by {shift}: {drifted_psi:?}");
    assert_eq!(drifted_psi.len(), FEATURES, "{drifted_psi:?}");
    assert!(drifted_psi[SHIFTED] > 0.2, "drifted: {drifted_psi:?}");
    let others = drifted_psi.iter().filter(|(f, _)| *f != SHIFTED);
    assert!(
        others.clone().all(|(_, &v)| v < 0.1),
        "the others: {drifted_psi:?}"
    );

    // Each replica's own PSI saw half the rows and the same shift.
    let replica = format!(r#"inferd_feature_drift_psi{{model="{DRIFTED}", feature="{SHIFTED}"}}"#);
    let per_replica = p.query(&replica).await;
    assert_eq!(per_replica.len(), 2, "{per_replica:?}");
    assert!(per_replica.iter().all(|(_, v)| *v > 0.2), "{per_replica:?}");
    // The alert's condition holds for the shifted feature only (pending: `for: 15m`).
    let alerts = p.query(r#"ALERTS{alertname="InferdFeatureDrift"}"#).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let labels = &alerts[0].0;
    assert_eq!(
        (labels["model"].as_str(), labels["feature"].as_str()),
        (DRIFTED, SHIFTED)
    );
    assert_eq!(labels["alertstate"], "pending");

    drop(p);
    for (_, stop, server) in replicas {
        let _ = stop.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
        stopped
            .expect("inferd stops")
            .expect("server task")
            .expect("serve returns Ok");
    }
}
