//! The metrics exposition after known traffic (README "Metrics"): names, labels, values.

mod common;

use common::*;
use inferd::testing::{Behaviour, FakeModel};
use serde_json::json;
use std::sync::Arc;

fn app() -> TestApp {
    app_with(
        vec![("fake", 1, Arc::new(FakeModel::new(Behaviour::Answer)))],
        |c| {
            c.default_model = "fake".into();
            c.max_body_bytes = 4096;
            c.batching.queue_capacity = 77;
        },
    )
}

#[tokio::test]
async fn exposition_counts_known_traffic_with_bounded_labels() {
    let app = app();
    let row = json!({ "instances": [[1.0, 2.0]] });
    // One computed answer, then three cache hits of the same row.
    for _ in 0..3 {
        assert_eq!(
            post(&app, "/v1/models/fake:predict", &row).await.status,
            200
        );
    }
    assert_eq!(
        post(&app, "/v1/models/fake/versions/1:predict", &row)
            .await
            .status,
        200
    );
    post(&app, "/predict", &json!({ "instances": [[1.0]] }))
        .await
        .assert_error(400, "shape");
    post(&app, "/predict", &json!({ "pad": "x".repeat(5000) }))
        .await
        .assert_error(413, "max_body_bytes");
    send(&app, get("/no/such/path/123"))
        .await
        .assert_error(404, "no route");

    let text = String::from_utf8(send(&app, get("/metrics")).await.body.to_vec()).unwrap();
    let has = |line: &str| assert!(text.contains(line), "missing {line}\n{text}");
    has(
        r#"inferd_http_requests_total{method="POST",route="/v1/models/{m}:predict",status="200"} 3"#,
    );
    has(
        r#"inferd_http_requests_total{method="POST",route="/v1/models/{m}/versions/{v}:predict",status="200"} 1"#,
    );
    has(r#"inferd_http_requests_total{method="POST",route="/predict",status="400"} 1"#);
    has(r#"inferd_http_requests_total{method="POST",route="/predict",status="413"} 1"#);
    has(r#"inferd_http_requests_total{method="GET",route="unmatched",status="404"} 1"#);
    has(r#"inferd_http_request_duration_seconds_bucket{route="/v1/models/{m}:predict",le="10"} 3"#);
    has(
        r#"inferd_http_request_duration_seconds_bucket{route="/v1/models/{m}:predict",le="0.000025"}"#,
    );
    has(r#"inferd_inference_rows_total{model="fake",version="1"} 1"#);
    has(r#"inferd_batch_size_count{model="fake"} 1"#);
    has(r#"inferd_inference_duration_seconds_count{model="fake",version="1"} 1"#);
    has(r#"inferd_queue_duration_seconds_count{model="fake"} 1"#);
    has(r#"inferd_queue_depth{model="fake"} 0"#);
    has(r#"inferd_queue_capacity{model="fake"} 77"#);
    has(r#"inferd_cache_lookups_total{model="fake",result="hit"} 3"#);
    has(r#"inferd_cache_lookups_total{model="fake",result="miss"} 1"#);
    has("inferd_cache_entries 1");
    has(r#"inferd_rejected_requests_total{model="fake",reason="invalid"} 1"#);
    has(r#"inferd_rejected_requests_total{model="unknown",reason="too_large"} 1"#);
    has(r#"inferd_model_info{model="fake",version="1"} 1"#);
    has("inferd_inflight_requests 1");
    has(r#"inferd_rejected_requests_total{model="fake",reason="queue_full"} 0"#);
    has(r#"inferd_cache_evictions_total{cause="size"} 0"#);
    has("# TYPE inferd_http_request_duration_seconds histogram");
    assert!(
        !text.contains("/no/such/path"),
        "raw paths never become labels"
    );
}
