//! Hostile and careless input, in process: duplicate keys, bodies past the row,
//! number and name limits, the decode budget, slow bodies, made-up methods, models
//! breaking their signature, and the cache's waiter fallback.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use inferd::testing::{Behaviour, FakeModel};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn fake(tweak: impl FnOnce(&mut inferd::config::Config)) -> (Arc<FakeModel>, TestApp) {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = app_with(vec![("fake", 1, model.clone())], |c| {
        c.default_model = "fake".into();
        tweak(c);
    });
    (model, app)
}

fn raw_post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn duplicate_keys_in_a_row_are_400_not_misassigned_rows() {
    let (model, app) = fake(|_| {});
    // The second row has no `x`; its data must not come from row 0's second `x`.
    let body = r#"{"instances":[{"x":[1,2],"x":[3,4]},{}]}"#;
    send(&app, raw_post("/predict", body))
        .await
        .assert_error(400, "instance 0 gives input `x` more than once");
    // Missing in row 0, twice in row 1: the count alone would look complete.
    let body = r#"{"instances":[{},{"x":[1,2],"x":[3,4]}]}"#;
    send(&app, raw_post("/predict", body))
        .await
        .assert_error(400, "instance 1 gives input `x` more than once");
    let body = r#"{"inputs":{"x":[[1,2]],"x":[[3,4]]}}"#;
    send(&app, raw_post("/v1/models/fake:predict", body))
        .await
        .assert_error(400, "gives input `x` more than once");
    assert_eq!(model.calls(), 0, "nothing reached the model");
    let good = json!({"instances":[{"x":[1,2]},{"x":[3,4]}]});
    let a = post(&app, "/predict", &good).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["predictions"], json!([[21.0], [43.0]]));
}

#[tokio::test]
async fn a_row_of_a_million_keys_is_refused_at_the_second() {
    let (_, app) = fake(|_| {});
    let mut body = String::from(r#"{"instances":[{"#);
    for i in 0..1_300_000 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!("\"k{i}\":0"));
    }
    body.push_str("}]}");
    assert!(body.len() < 16 << 20, "within max_body_bytes");
    send(&app, raw_post("/predict", body))
        .await
        .assert_error(400, "more than 1 named inputs");
}

#[tokio::test]
async fn rows_past_max_request_rows_are_refused_while_parsing() {
    let (model, app) = fake(|c| c.batching.max_request_rows = 4);
    // Narrow rows, so the row count is what runs out first.
    let narrow = json!({ "instances": vec![[1.0]; 5] });
    send(&app, post_json("/predict", &narrow))
        .await
        .assert_error(400, "more than 4 rows (batching.max_request_rows)");
    let rows = |n: usize| json!({ "instances": vec![[1.0, 2.0]; n] });
    send(&app, post_json("/predict", &rows(5)))
        .await
        .assert_error(400, "more than 8 numbers");
    // Numbers past max_request_rows rows of the widest model (2 wide): 4 x 2 = 8.
    let wide = json!({ "inputs": [vec![1.0; 9]] });
    send(&app, post_json("/v1/models/fake:predict", &wide))
        .await
        .assert_error(400, "more than 8 numbers");
    let v2 = json!({"inputs":[{"name":"x","shape":[9],"datatype":"FP32","data":vec![1.0; 9]}]});
    send(&app, post_json("/v2/models/fake/infer", &v2))
        .await
        .assert_error(400, "more than 8 numbers");
    assert_eq!(model.calls(), 0);
    assert_eq!(
        send(&app, post_json("/predict", &rows(4))).await.status,
        200
    );
}

#[tokio::test]
async fn bodies_past_the_decode_budget_get_503_and_the_budget_comes_back() {
    let (_, app) = fake(|c| c.http.decode_budget = 4096);
    let padded = |pad: usize| {
        let mut body = json!({ "instances": [[1.0, 2.0]] }).to_string();
        body.insert_str(1, &format!("{:pad$}", ""));
        body
    };
    let a = send(&app, raw_post("/predict", padded(5000))).await;
    a.assert_error(503, "http.decode_budget");
    assert_eq!(a.header("retry-after"), "1");
    // Each of these takes most of the budget: they pass only if each gives it back.
    for _ in 0..5 {
        let a = send(&app, raw_post("/predict", padded(3000))).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    // A body of unknown length is counted chunk by chunk.
    let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(vec![b' '; 2000]));
    let stream = futures::stream::iter(chunks);
    let a = send(&app, raw_post("/predict", Body::from_stream(stream))).await;
    a.assert_error(503, "http.decode_budget");
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stops_arriving_is_408() {
    let (_, app) = fake(|c| c.http.body_read_timeout = Duration::from_secs(2));
    let first = futures::stream::iter([Ok::<_, std::io::Error>(b"{\"inst".to_vec())]);
    let stalled = futures::StreamExt::chain(first, futures::stream::pending());
    let a = send(&app, raw_post("/predict", Body::from_stream(stalled))).await;
    a.assert_error(408, "http.body_read_timeout");
}

#[tokio::test]
async fn made_up_methods_are_405_and_counted_as_other() {
    let (_, app) = fake(|_| {});
    for (i, uri) in ["/predict", "/no/such/route", "/v2/models/fake/infer"]
        .iter()
        .enumerate()
    {
        let req = Request::builder()
            .method(format!("FOO{i}").as_str())
            .uri(*uri)
            .body(Body::empty())
            .unwrap();
        send(&app, req).await.assert_error(405, "is not allowed");
    }
    let text = String::from_utf8(send(&app, get("/metrics")).await.body.to_vec()).unwrap();
    assert!(!text.contains("FOO"), "made-up methods never become labels");
    let others: u64 = text
        .lines()
        .filter(|l| l.starts_with("inferd_http_requests_total{method=\"other\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(others, 3, "{text}");
}

#[tokio::test]
async fn a_model_answering_the_wrong_number_of_rows_is_500_not_a_panic() {
    let model = Arc::new(FakeModel::new(Behaviour::ExtraRow));
    let app = app_with(vec![("bad", 1, model)], |c| c.default_model = "bad".into());
    // One request alone in its batch: once answered 200 with a row it never sent.
    for rows in [1, 3] {
        let body = json!({ "instances": vec![[1.0, 2.0]; rows] });
        send(&app, post_json("/predict", &body))
            .await
            .assert_error(500, "internal error");
    }
}

#[tokio::test]
async fn after_a_leader_is_cancelled_one_waiter_recomputes_for_all() {
    let (app, model, gate) = slow_app(|_| {});
    let body = json!({ "instances": [[1.0, 2.0]] });
    let call = || {
        let router = app.router.clone();
        let req = post_json("/predict", &body);
        tokio::spawn(async move { tower::ServiceExt::oneshot(router, req).await.unwrap() })
    };
    let leader = call();
    model.wait_entered(1).await;
    let waiters: Vec<_> = (0..4).map(|_| call()).collect();
    // Let the waiters find the leader's computation and start waiting for it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    leader.abort();
    let _ = leader.await;
    // The leader's run finishes (its answer is dropped), then one re-elected run.
    for _ in 0..2 {
        gate.send(()).unwrap();
    }
    for waiter in waiters {
        let response = waiter.await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        model.calls(),
        2,
        "one run for the cancelled leader, one for all waiters"
    );
}

#[tokio::test]
async fn a_waiter_gives_up_at_its_own_deadline_while_the_leader_is_stuck() {
    let (app, model, gate) = slow_app(|c| {
        c.request_timeout = Duration::from_millis(300);
    });
    let body = json!({ "instances": [[1.0, 2.0]] });
    let router = app.router.clone();
    let leader_req = post_json("/predict", &body);
    let leader = tokio::spawn(async move { tower::ServiceExt::oneshot(router, leader_req).await });
    model.wait_entered(1).await;
    // The same row: it waits for the stuck leader (or, once the leader's own deadline
    // has released it, leads in its turn), and must not wait past its deadline.
    let started = std::time::Instant::now();
    let waiter = send(&app, post_json("/predict", &body)).await;
    let waited = started.elapsed();
    waiter.assert_error(504, "deadline");
    assert!(
        waited < Duration::from_secs(5),
        "the waiter was answered {waited:?} after it asked, with a 300 ms deadline"
    );
    drop(gate);
    let _ = leader.await;
}
