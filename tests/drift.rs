//! Drift monitoring in process: the bundled forecaster with its committed
//! baseline.json, fed rows of its training process (fresh draws), then rows with one
//! feature shifted by one standard deviation. PSI is read from
//! `GET /v2/models/{m}/monitoring` and from `/metrics`.

mod common;

use common::drift::{column_std, training_like_rows, ForecasterRepo};
use common::{get, post, reference, send, TestApp};
use inferd::config::Config;
use inferd::http::router;
use inferd::metrics::Metrics;
use inferd::repository::Repository;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const MODEL: &str = "stock-forecaster";
/// Rows per phase: one full window.
const WINDOW_ROWS: usize = 10_000;
/// Rows per request.
const CHUNK: usize = 50;
/// The shifted feature: the model barely uses lag8, so its prediction should
/// stay put while the input drifts.
const SHIFTED: &str = "lag8";
const SHIFTED_COL: usize = 7;

async fn monitored_app(repo: &ForecasterRepo) -> TestApp {
    let config = Config {
        model_repository: repo.0.clone(),
        default_model: MODEL.into(),
        ..Config::default()
    };
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let repository = Repository::load(&config, &metrics).await.unwrap();
    let state = inferd::app_state(&config, Arc::new(repository), metrics.clone());
    TestApp {
        router: router(state.clone()),
        state,
        metrics,
    }
}

async fn feed(app: &TestApp, rows: &[Vec<f32>]) {
    for chunk in rows.chunks(CHUNK) {
        let answer = post(app, "/predict", &json!({ "instances": chunk })).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
}

async fn psi_by_feature(app: &TestApp) -> BTreeMap<String, f64> {
    let answer = send(app, get(&format!("/v2/models/{MODEL}/monitoring"))).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let body = answer.json();
    assert_eq!(body["window_rows"], WINDOW_ROWS, "{body}");
    let features = body["features"].as_array().expect("features").iter();
    features
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["psi"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// `series{...feature="<f>"...} value` lines of one family, by feature.
fn scraped(app: &TestApp, family: &str) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    for line in app
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with(family))
    {
        let feature = line
            .split("feature=\"")
            .nth(1)
            .and_then(|s| s.split('"').next());
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *values.entry(feature.unwrap().to_string()).or_default() += value;
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psi_stays_low_on_training_data_and_rises_for_the_shifted_feature_only() {
    let repo = ForecasterRepo::new(&[MODEL]);
    let app = monitored_app(&repo).await;

    let calm = training_like_rows(11, WINDOW_ROWS);
    feed(&app, &calm).await;
    let psi = psi_by_feature(&app).await;
    assert_eq!(psi.len(), 17, "16 inputs and the forecast: {psi:?}");
    assert!(psi.values().all(|&p| p < 0.1), "unshifted: {psi:?}");
    let totals = scraped(&app, "inferd_feature_bin_total");
    assert_eq!(totals["lag1"], WINDOW_ROWS as f64, "{totals:?}");
    assert_eq!(totals["out:forecast"], WINDOW_ROWS as f64);
    let replica_psi = scraped(&app, "inferd_feature_drift_psi");
    let same = |(name, v): (&String, &f64)| (replica_psi[name] - v).abs() < 1e-12;
    assert!(
        psi.iter().all(same),
        "/metrics {replica_psi:?} and the endpoint {psi:?} agree"
    );

    let shift = column_std(&calm, SHIFTED_COL);
    let mut shifted = training_like_rows(12, WINDOW_ROWS);
    for row in &mut shifted {
        row[SHIFTED_COL] += shift;
    }
    feed(&app, &shifted).await;
    let psi = psi_by_feature(&app).await;
    eprintln!("PSI after shifting {SHIFTED} by {shift}: {psi:?}");
    assert!(psi[SHIFTED] > 0.2, "shifted: {psi:?}");
    let others = psi.iter().filter(|(name, _)| *name != SHIFTED);
    assert!(others.clone().all(|(_, &p)| p < 0.1), "the others: {psi:?}");
}

#[tokio::test]
async fn cache_hits_are_counted_and_answers_are_unchanged() {
    let repo = ForecasterRepo::new(&[MODEL]);
    let app = monitored_app(&repo).await;
    let r = reference(MODEL);
    for round in ["miss", "hit"] {
        let answer = post(&app, "/predict", &json!({ "instances": r.inputs })).await;
        assert_eq!(answer.header("x-inferd-cache"), round);
        common::assert_rows(&answer.json()["predictions"], &r.outputs, round);
    }
    let totals = scraped(&app, "inferd_feature_bin_total");
    assert_eq!(totals["lag1"], 2.0 * r.inputs.len() as f64, "{totals:?}");
    let ratios = scraped(&app, "inferd_feature_baseline_ratio");
    assert!(
        (ratios["lag1"] - 1.0).abs() < 1e-9,
        "shares sum to 1: {ratios:?}"
    );
}

#[tokio::test]
async fn a_model_without_baseline_is_served_and_reported_unmonitored() {
    let app = common::bundled();
    let answer = send(&app, get("/v2/models/dense-net/monitoring")).await;
    answer.assert_error(404, "no valid baseline.json");
    let body: Value = post(
        &app,
        "/predict",
        &json!({"instances": reference(MODEL).inputs}),
    )
    .await
    .json();
    assert!(body["predictions"].is_array());
    assert!(!app.metrics.render().contains("inferd_feature_bin_total"));
}
