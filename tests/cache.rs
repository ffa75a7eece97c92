//! The result cache seen through the HTTP API (README "Result cache").

mod common;

use axum::http::Request;
use common::*;
use inferd::testing::{Behaviour, FakeModel};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn fake_app(model: Arc<FakeModel>) -> TestApp {
    app_with(vec![("fake", 1, model)], |c| {
        c.default_model = "fake".into()
    })
}

fn rows(values: &[f32]) -> Value {
    json!({ "instances": values.iter().map(|&v| [v, 1.0]).collect::<Vec<_>>() })
}

fn with_header(
    mut req: Request<axum::body::Body>,
    name: &'static str,
    value: &str,
) -> Request<axum::body::Body> {
    req.headers_mut().insert(name, value.parse().unwrap());
    req
}

#[tokio::test]
async fn second_identical_request_is_a_hit() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = fake_app(model.clone());
    let first = post(&app, "/predict", &rows(&[1.0])).await;
    assert_eq!(first.header("x-inferd-cache"), "miss");
    let second = post(&app, "/predict", &rows(&[1.0])).await;
    assert_eq!(second.header("x-inferd-cache"), "hit");
    assert_eq!(first.json(), second.json());
    assert_eq!(model.calls(), 1);
    let computed: u64 = first.header("x-inferd-inference-time").parse().unwrap();
    let _queued: u64 = first.header("x-inferd-queue-time").parse().unwrap();
    assert!(computed > 0, "a computed answer reports its inference time");
    for name in ["x-inferd-inference-time", "x-inferd-queue-time"] {
        assert!(
            !second.headers.contains_key(name),
            "a hit computed nothing, so it has no {name}"
        );
    }
    let text = app.metrics.render();
    assert!(
        text.contains(r#"inferd_cache_lookups_total{model="fake",result="hit"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"inferd_cache_lookups_total{model="fake",result="miss"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn partial_hit_computes_only_missing_rows_in_order() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = fake_app(model.clone());
    post(&app, "/predict", &rows(&[2.0, 4.0])).await;
    let values = [1.0, 2.0, 3.0, 4.0, 5.0];
    let a = post(&app, "/predict", &rows(&values)).await;
    assert_eq!(a.header("x-inferd-cache"), "partial");
    let expected: Vec<Value> = values
        .iter()
        .map(|&v| json!([FakeModel::expected(v, 1.0)]))
        .collect();
    assert_eq!(a.json()["predictions"], Value::Array(expected));
    assert_eq!(
        model.batches(),
        vec![2, 3],
        "only the three unseen rows were computed"
    );
    let all = post(&app, "/predict", &rows(&values)).await;
    assert_eq!(all.header("x-inferd-cache"), "hit");
    assert_eq!(model.calls(), 2);
}

#[tokio::test]
async fn partial_hit_batch_equals_what_the_model_alone_returns() {
    let app = app_with(vec![("stock-forecaster", 1, stock())], |_| {});
    let r = reference("stock-forecaster");
    let batch = json!({ "instances": r.inputs });
    let alone = send(
        &app,
        with_header(post_json("/predict", &batch), "cache-control", "no-store"),
    )
    .await;
    assert_eq!(alone.header("x-inferd-cache"), "bypass");
    let seen: Vec<_> = r.inputs.iter().step_by(3).collect();
    post(&app, "/predict", &json!({ "instances": seen })).await;
    let mixed = post(&app, "/predict", &batch).await;
    assert_eq!(mixed.header("x-inferd-cache"), "partial");
    assert_eq!(
        mixed.json(),
        alone.json(),
        "byte-for-byte the same predictions"
    );
    assert_rows(
        &mixed.json()["predictions"],
        &r.outputs,
        "partial hit vs onnxruntime",
    );
}

#[tokio::test]
async fn concurrent_identical_requests_run_the_model_once() {
    let (model, gate) = FakeModel::new(Behaviour::Answer).gated();
    let model = Arc::new(model);
    let app = fake_app(model.clone());
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let router = app.router.clone();
            let req = post_json("/predict", &rows(&[7.0]));
            tokio::spawn(async move { tower::ServiceExt::oneshot(router, req).await.unwrap() })
        })
        .collect();
    model.wait_entered(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(gate);
    for t in tasks {
        let response = t.await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(model.calls(), 1, "32 identical requests, one model run");
}

#[tokio::test]
async fn no_store_skips_lookup_and_store_no_cache_skips_only_lookup() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = fake_app(model.clone());
    let req = |v: f32, header: &str| {
        with_header(post_json("/predict", &rows(&[v])), "cache-control", header)
    };

    assert_eq!(
        send(&app, req(1.0, "no-store"))
            .await
            .header("x-inferd-cache"),
        "bypass"
    );
    assert_eq!(
        post(&app, "/predict", &rows(&[1.0]))
            .await
            .header("x-inferd-cache"),
        "miss",
        "no-store did not store"
    );

    assert_eq!(
        send(&app, req(2.0, "no-cache"))
            .await
            .header("x-inferd-cache"),
        "bypass"
    );
    assert_eq!(
        post(&app, "/predict", &rows(&[2.0]))
            .await
            .header("x-inferd-cache"),
        "hit",
        "no-cache stored"
    );
    assert_eq!(
        send(&app, req(2.0, "max-age=0, no-cache"))
            .await
            .header("x-inferd-cache"),
        "bypass"
    );
    assert_eq!(model.calls(), 4);
}

#[tokio::test]
async fn disabled_cache_is_bypassed() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = app_with(vec![("fake", 1, model.clone())], |c| {
        c.default_model = "fake".into();
        c.cache.enabled = false;
    });
    for _ in 0..2 {
        assert_eq!(
            post(&app, "/predict", &rows(&[1.0]))
                .await
                .header("x-inferd-cache"),
            "bypass"
        );
    }
    assert_eq!(model.calls(), 2);
}

#[tokio::test]
async fn request_granularity_caches_whole_requests() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = app_with(vec![("fake", 1, model.clone())], |c| {
        c.default_model = "fake".into();
        c.cache.granularity = inferd::config::Granularity::Request;
    });
    post(&app, "/predict", &rows(&[1.0, 2.0])).await;
    assert_eq!(
        post(&app, "/predict", &rows(&[1.0, 2.0]))
            .await
            .header("x-inferd-cache"),
        "hit"
    );
    assert_eq!(
        post(&app, "/predict", &rows(&[1.0]))
            .await
            .header("x-inferd-cache"),
        "miss",
        "a sub-request is another key"
    );
    assert_eq!(model.batches(), vec![2, 1]);
}

#[tokio::test]
async fn a_reloaded_model_never_sees_old_entries() {
    let old = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = fake_app(old.clone());
    post(&app, "/predict", &rows(&[3.0])).await;
    assert_eq!(
        post(&app, "/predict", &rows(&[3.0]))
            .await
            .header("x-inferd-cache"),
        "hit"
    );

    // Same name and version loaded again, sharing the same cache.
    let new = Arc::new(FakeModel::new(Behaviour::Answer));
    let config = inferd::config::Config::default();
    let mut repo = inferd::repository::Repository::default();
    let settings = inferd::config::model::ModelToml::default()
        .resolve(&config)
        .unwrap();
    repo.insert("fake", 1, new.clone(), settings, &app.metrics);
    let old_state = &app.state;
    let state = inferd::http::AppState::new(inferd::http::Shared {
        inference: inferd::inference::Inference {
            repository: Arc::new(inferd::repository::Live::new(
                Arc::new(repo),
                &config,
                &app.metrics,
            )),
            ..old_state.inference.clone()
        },
        metrics: old_state.metrics.clone(),
        draining: old_state.draining.clone(),
        max_body_bytes: old_state.max_body_bytes,
        request_log: old_state.request_log,
        intake: old_state.intake.clone(),
        admin: old_state.admin.clone(),
    });
    let reloaded = TestApp {
        router: inferd::http::router(state.clone()),
        state,
        metrics: app.metrics.clone(),
    };
    assert_eq!(
        post(&reloaded, "/predict", &rows(&[3.0]))
            .await
            .header("x-inferd-cache"),
        "miss"
    );
    assert_eq!(new.calls(), 1, "the new generation computed its own answer");
}
