//! The admin API (KServe V2 repository extension) and in-place reloads, in-process:
//! authentication, index, load and unload, version policies, labels on every
//! protocol, and a reload never serving an old version's cached answer.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::scratch::{Scratch, ZooRef};
use common::{post_json, send, Answer, TestApp};
use inferd::config::model::VersionPolicy;
use inferd::config::{AdminConfig, Config, Secret};
use inferd::http::router;
use inferd::metrics::Metrics;
use inferd::repository::Repository;
use serde_json::{json, Value};
use std::sync::Arc;

const TOKEN: &str = "s3cret-admin-token";

async fn app(scratch: &Scratch, token: Option<&str>) -> TestApp {
    let config = Config {
        model_repository: scratch.root.clone(),
        default_model: "reg".into(),
        admin: AdminConfig {
            token: token.map(|t| Secret(t.into())),
            token_file: None,
        },
        ..Config::default()
    };
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let repo = Repository::load(&config, &metrics).await.unwrap();
    let state = inferd::app_state(&config, Arc::new(repo), metrics.clone());
    TestApp {
        router: router(state.clone()),
        state,
        metrics,
    }
}

fn admin(uri: &str, auth: Option<&str>, body: &str) -> Request<Body> {
    let mut r = Request::post(uri).header("content-type", "application/json");
    if let Some(auth) = auth {
        r = r.header("authorization", auth);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// One row of the zoo reference as a V2 body.
fn v2_row(reference: &ZooRef, row: usize) -> Value {
    json!({"inputs": [{"name": "input", "shape": [1, 5], "datatype": "FP32", "data": reference.row(row)}]})
}

fn value(answer: &Answer) -> f64 {
    answer.json()["outputs"][0]["data"][0].as_f64().unwrap()
}

async fn poll(app: &TestApp) {
    app.state.inference.repository.poll().await;
}

#[tokio::test]
async fn admin_api_is_off_without_a_token_and_needs_the_right_bearer_with_one() {
    let scratch = Scratch::new("admin-auth");
    scratch.put_zoo("reg", 1, "linear-regression");
    let off = app(&scratch, None).await;
    for uri in [
        "/v2/repository/index",
        "/v2/repository/models/reg/load",
        "/v2/repository/models/reg/unload",
    ] {
        send(&off, admin(uri, Some(&bearer()), ""))
            .await
            .assert_error(403, "admin API is off");
    }
    let on = app(&scratch, Some(TOKEN)).await;
    for uri in [
        "/v2/repository/index",
        "/v2/repository/models/reg/load",
        "/v2/repository/models/reg/unload",
    ] {
        let missing = send(&on, admin(uri, None, "")).await;
        missing.assert_error(401, "Authorization: Bearer");
        assert!(missing.header("www-authenticate").starts_with("Bearer"));
        send(&on, admin(uri, Some("Bearer wrong-token"), ""))
            .await
            .assert_error(401, "wrong");
        send(&on, admin(uri, Some(&format!("Bearer {TOKEN}x")), ""))
            .await
            .assert_error(401, "wrong");
        send(&on, admin(uri, Some(&format!("Basic {TOKEN}")), ""))
            .await
            .assert_error(401, "Bearer");
        let right = send(&on, admin(uri, Some(&format!("bearer {TOKEN}")), "")).await;
        assert_eq!(right.status, 200, "{uri}: {:?}", right.body);
    }
}

#[tokio::test]
async fn the_token_is_never_shown_in_the_configuration_or_its_errors() {
    let config = Config {
        admin: AdminConfig {
            token: Some(Secret(TOKEN.into())),
            token_file: None,
        },
        ..Config::default()
    };
    assert!(!format!("{config:?}").contains(TOKEN));
    let sources = inferd::config::Sources {
        env: vec![("INFERD_ADMIN__TOKEN".into(), TOKEN.into())],
        ..Default::default()
    };
    let loaded = Config::load(&sources).unwrap();
    assert_eq!(loaded.admin.token, Some(Secret(TOKEN.into())));
    let typed = inferd::config::Sources {
        file: Some((
            "inferd.toml".into(),
            format!("[admin]\ntoken = [\"{TOKEN}\"]\n"),
        )),
        ..Default::default()
    };
    let err = Config::load(&typed).unwrap_err();
    assert!(err.contains("admin.token") && !err.contains(TOKEN), "{err}");
}

#[tokio::test]
async fn the_token_file_is_read_once_and_must_not_be_empty() {
    let scratch = Scratch::new("admin-token-file");
    let file = scratch.path("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let with = |toml: String| inferd::config::Sources {
        file: Some(("inferd.toml".into(), toml)),
        ..Default::default()
    };
    let config = Config::load(&with(format!("[admin]\ntoken_file = {:?}\n", file))).unwrap();
    assert_eq!(config.admin.token, Some(Secret(TOKEN.into())));
    std::fs::write(&file, "\n").unwrap();
    let err = Config::load(&with(format!("[admin]\ntoken_file = {:?}\n", file))).unwrap_err();
    assert!(err.contains("is empty"), "{err}");
    let both = format!("[admin]\ntoken = \"x\"\ntoken_file = {:?}\n", file);
    assert!(Config::load(&with(both)).unwrap_err().contains("both set"));
    let missing = format!("[admin]\ntoken_file = {:?}\n", scratch.path("absent"));
    assert!(Config::load(&with(missing))
        .unwrap_err()
        .contains("cannot be read"));
}

#[tokio::test]
async fn index_load_and_unload() {
    let scratch = Scratch::new("admin-index");
    scratch.put_zoo("reg", 1, "linear-regression");
    scratch.put_zoo("other", 1, "ridge");
    let app = app(&scratch, Some(TOKEN)).await;
    let index = send(&app, admin("/v2/repository/index", Some(&bearer()), ""))
        .await
        .json();
    assert_eq!(
        index,
        json!([
            {"name": "other", "version": "1", "state": "READY"},
            {"name": "reg", "version": "1", "state": "READY"},
        ])
    );

    // Unload: the model stops serving and polling leaves it unloaded.
    let r = send(
        &app,
        admin("/v2/repository/models/other/unload", Some(&bearer()), "{}"),
    )
    .await;
    assert_eq!(r.status, 200);
    let reference = ZooRef::load("ridge");
    let infer = || post_json("/v2/models/other/infer", &v2_row(&reference, 0));
    send(&app, infer()).await.assert_error(404, "unloaded");
    poll(&app).await;
    send(&app, infer()).await.assert_error(404, "unloaded");
    let index = send(
        &app,
        admin(
            "/v2/repository/index",
            Some(&bearer()),
            "{\"ready\": false}",
        ),
    )
    .await
    .json();
    assert_eq!(
        index[0],
        json!({"name": "other", "state": "UNAVAILABLE", "reason": "unloaded"})
    );
    let ready = send(
        &app,
        admin("/v2/repository/index", Some(&bearer()), "{\"ready\": true}"),
    )
    .await
    .json();
    assert_eq!(ready.as_array().unwrap().len(), 1, "{ready}");

    // Load brings it back, with the answers of its file.
    let r = send(
        &app,
        admin("/v2/repository/models/other/load", Some(&bearer()), ""),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(reference.matches(0, value(&send(&app, infer()).await)));

    // A corrupt newest version: load says why and what serves instead.
    scratch.put_bytes("other", 2, b"garbage");
    let r = send(
        &app,
        admin("/v2/repository/models/other/load", Some(&bearer()), ""),
    )
    .await;
    r.assert_error(400, "version 2 failed to load");
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("serving now: version 1"));
    assert_eq!(
        send(&app, infer()).await.header("x-inferd-model-version"),
        "1"
    );

    // Bad requests.
    let unknown = "/v2/repository/models/nope/load";
    send(&app, admin(unknown, Some(&bearer()), ""))
        .await
        .assert_error(404, "no folder");
    send(
        &app,
        admin("/v2/repository/models/nope/unload", Some(&bearer()), ""),
    )
    .await
    .assert_error(404, "nope");
    let dots = "/v2/repository/models/%2E%2E/load";
    send(&app, admin(dots, Some(&bearer()), ""))
        .await
        .assert_error(400, "not a model name");
    let params = r#"{"parameters": {"config": "{}"}}"#;
    send(
        &app,
        admin("/v2/repository/models/reg/load", Some(&bearer()), params),
    )
    .await
    .assert_error(400, "not supported");
    send(
        &app,
        admin("/v2/repository/index", Some(&bearer()), "{\"ready\": 3}"),
    )
    .await
    .assert_error(400, "ready");
    let metrics = app.metrics.registry.gather();
    let failures = metrics
        .iter()
        .find(|m| m.name() == "inferd_model_loads_total")
        .unwrap();
    assert!(failures.get_metric().iter().any(|m| {
        m.get_label().iter().any(|l| l.value() == "failure") && m.get_counter().value() >= 1.0
    }));
}

#[tokio::test]
async fn version_policies_choose_what_serves() {
    let scratch = Scratch::new("admin-policy");
    for v in 1..=3 {
        scratch.put_zoo("reg", v, "linear-regression");
    }
    let app = app(&scratch, None).await;
    let serving = |app: &TestApp| -> Vec<u64> {
        let list = app.state.inference.repository.versions("reg").unwrap();
        list.loaded.iter().map(|s| s.version).collect()
    };
    assert_eq!(serving(&app), vec![3], "latest by default");
    let cases = [
        ("version_policy = \"all\"", vec![1, 2, 3]),
        ("version_policy = { latest = 2 }", vec![2, 3]),
        ("version_policy = { specific = [1, 3] }", vec![1, 3]),
        (
            "version_policy = \"latest\"\n[labels]\nstable = 1",
            vec![1, 3],
        ),
    ];
    for (toml, want) in cases {
        scratch.write_toml("reg", toml);
        poll(&app).await;
        assert_eq!(serving(&app), want, "{toml}");
    }
    // A newer version that fails to load leaves the one before it serving.
    scratch.write_toml("reg", "");
    scratch.put_bytes("reg", 4, b"garbage");
    poll(&app).await;
    assert_eq!(serving(&app), vec![3]);
    let status = send(
        &app,
        Request::get("/v1/models/reg/versions/4")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status.json()["model_version_status"][0]["state"], "END");
    // Bad policies are refused with the reason, and what serves keeps serving.
    scratch.write_toml("reg", "version_policy = { latest = 0 }");
    poll(&app).await;
    assert_eq!(serving(&app), vec![3]);
    let body = v2_row(&ZooRef::load("linear-regression"), 0);
    let r = send(&app, post_json("/v2/models/reg/versions/9/infer", &body)).await;
    r.assert_error(404, "no version 9");
    assert_eq!(
        VersionPolicy::default(),
        VersionPolicy::Latest(1),
        "the documented default"
    );
}

#[tokio::test]
async fn labels_are_served_on_every_protocol_and_follow_model_toml() {
    let scratch = Scratch::new("admin-labels");
    scratch.put_zoo("reg", 1, "linear-regression");
    scratch.put_zoo("reg", 2, "random-forest-regressor");
    scratch.write_toml(
        "reg",
        "version_policy = \"all\"\n[labels]\nstable = 1\ncanary = 2\n",
    );
    let app = app(&scratch, None).await;
    let (v1, v2) = (
        ZooRef::load("linear-regression"),
        ZooRef::load("random-forest-regressor"),
    );
    let row = 5;
    let v2_json = v2_row(&v1, row);
    let tf = json!({"instances": [v1.row(row)]});
    let via = |label: &str| {
        (
            format!("/v2/models/reg/labels/{label}/infer"),
            format!("/v1/models/reg/labels/{label}:predict"),
        )
    };
    for (label, reference, version) in [("stable", &v1, "1"), ("canary", &v2, "2")] {
        let (v2_uri, tf_uri) = via(label);
        let a = send(&app, post_json(&v2_uri, &v2_json)).await;
        assert_eq!(a.header("x-inferd-model-version"), version);
        assert!(reference.matches(row, value(&a)), "{label} over V2");
        let a = send(&app, post_json(&tf_uri, &tf)).await;
        assert_eq!(a.header("x-inferd-model-version"), version);
        assert!(
            reference.matches(row, a.json()["predictions"][0][0].as_f64().unwrap()),
            "{label} over TF"
        );
        let status = send(
            &app,
            Request::get(format!("/v1/models/reg/labels/{label}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status.json()["model_version_status"][0]["version"], version);
    }
    send(
        &app,
        post_json("/v2/models/reg/labels/beta/infer", &v2_json),
    )
    .await
    .assert_error(404, "no label `beta`");
    // Flip on reload.
    scratch.write_toml("reg", "version_policy = \"all\"\n[labels]\nstable = 2\n");
    poll(&app).await;
    let a = send(
        &app,
        post_json("/v2/models/reg/labels/stable/infer", &v2_json),
    )
    .await;
    assert_eq!(a.header("x-inferd-model-version"), "2");
    send(
        &app,
        post_json("/v2/models/reg/labels/canary/infer", &v2_json),
    )
    .await
    .assert_error(404, "no label `canary`");
    // A label on a version that is not there says so.
    scratch.write_toml("reg", "version_policy = \"all\"\n[labels]\nstable = 7\n");
    poll(&app).await;
    send(
        &app,
        post_json("/v2/models/reg/labels/stable/infer", &v2_json),
    )
    .await
    .assert_error(404, "points at version 7");
    scratch.write_toml("reg", "[labels]\n\"bad label\" = 1\n");
    poll(&app).await;
    assert_eq!(
        send(&app, post_json("/v2/models/reg/versions/2/infer", &v2_json))
            .await
            .status,
        200,
        "a bad model.toml keeps what serves"
    );
}

#[tokio::test]
async fn a_reload_never_serves_the_old_versions_cached_answers() {
    let scratch = Scratch::new("admin-cache");
    scratch.put_zoo("reg", 1, "linear-regression");
    let app = app(&scratch, None).await;
    let (old, new) = (
        ZooRef::load("linear-regression"),
        ZooRef::load("random-forest-regressor"),
    );
    let body = v2_row(&old, 3);
    let first = send(&app, post_json("/v2/models/reg/infer", &body)).await;
    assert!(old.matches(3, value(&first)));
    let again = send(&app, post_json("/v2/models/reg/infer", &body)).await;
    assert_eq!(again.header("x-inferd-cache"), "hit");
    // The same version number, its file replaced in place (a retrain under the same
    // number): the cache must not answer from the old file.
    std::thread::sleep(std::time::Duration::from_millis(20));
    scratch.replace_file("reg", 1, "random-forest-regressor");
    poll(&app).await;
    let after = send(&app, post_json("/v2/models/reg/infer", &body)).await;
    assert_eq!(after.header("x-inferd-cache"), "miss");
    assert!(new.matches(3, value(&after)), "the new file's answer");
}

#[tokio::test]
async fn a_model_folder_that_appears_is_served_and_one_that_disappears_is_not() {
    let scratch = Scratch::new("admin-folders");
    scratch.put_zoo("reg", 1, "linear-regression");
    let app = app(&scratch, None).await;
    let reference = ZooRef::load("ridge");
    let infer = || post_json("/v2/models/fresh/infer", &v2_row(&reference, 2));
    send(&app, infer())
        .await
        .assert_error(404, "model `fresh` not found");
    scratch.put_zoo("fresh", 1, "ridge");
    poll(&app).await;
    let answer = send(&app, infer()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(reference.matches(2, value(&answer)));
    std::fs::remove_dir_all(scratch.path("fresh")).unwrap();
    poll(&app).await;
    send(&app, infer())
        .await
        .assert_error(404, "model `fresh` not found");
    assert!(app.state.inference.repository.versions("fresh").is_none());
}
