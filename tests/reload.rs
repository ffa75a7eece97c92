//! New versions go live under steady load without a failed request (README "Model
//! lifecycle"): a real server on 127.0.0.1:0 polling its repository, 32 clients
//! sending single-row V2 requests with `Cache-Control: no-store` (every request runs
//! the model), half to the newest version and half to the `stable` label, while
//! version 2 is put in, `stable` flips from 1 to 2, version 1 is removed and a
//! corrupt version 3 is dropped in. Every answer is checked against onnxruntime's
//! reference for the version that gave it.

mod common;

use common::scratch::{Scratch, ZooRef};
use inferd::config::{Config, RepositoryConfig, RequestLog, Secret};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const CLIENTS: usize = 32;
/// Version 1 and version 2 of the model: a linear regression, then a random forest
/// retrained on the same features (the zoo's; their answers differ everywhere).
const ZOO: [&str; 2] = ["linear-regression", "random-forest-regressor"];
const TOKEN: &str = "reload-test-token";

/// One answer as a client saw it.
struct Record {
    labelled: bool,
    sent: Instant,
    received: Instant,
    status: u16,
    version: u64,
    row: usize,
    value: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_go_live_under_load_without_a_failed_request() {
    let scratch = Scratch::new("reload-under-load");
    scratch.put_zoo("reg", 1, ZOO[0]);
    scratch.write_toml("reg", "[labels]\nstable = 1\n");
    let config = Config {
        model_repository: scratch.root.clone(),
        default_model: "reg".into(),
        repository: RepositoryConfig {
            poll_interval: Duration::from_millis(50),
        },
        log: inferd::config::LogConfig {
            requests: RequestLog::Errors,
            ..Default::default()
        },
        admin: inferd::config::AdminConfig {
            token: Some(Secret(TOKEN.into())),
            token_file: None,
        },
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(inferd::run(config, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    wait_for("the server to be ready", || async {
        let r = client.get(format!("{base}/readyz")).send().await;
        r.is_ok_and(|r| r.status() == 200)
    })
    .await;

    let refs = Arc::new(ZOO.map(ZooRef::load));
    let records = Arc::new(Mutex::new(Vec::<Record>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (client, base, refs) = (client.clone(), base.clone(), refs.clone());
            let (records, failures, running) = (records.clone(), failures.clone(), running.clone());
            tokio::spawn(async move {
                let labelled = i % 2 == 1;
                let url = if labelled {
                    format!("{base}/v2/models/reg/labels/stable/infer")
                } else {
                    format!("{base}/v2/models/reg/infer")
                };
                let mut row = i % refs[0].rows();
                while running.load(Ordering::Relaxed) {
                    row = (row + 1) % refs[0].rows();
                    let body = json!({"inputs": [{"name": "input", "shape": [1, 5],
                        "datatype": "FP32", "data": refs[0].row(row)}]});
                    let sent = Instant::now();
                    let answer = client
                        .post(&url)
                        .header("cache-control", "no-store")
                        .json(&body)
                        .send()
                        .await;
                    match read(answer).await {
                        Ok((status, version, value)) => records.lock().unwrap().push(Record {
                            labelled,
                            sent,
                            received: Instant::now(),
                            status,
                            version,
                            row,
                            value,
                        }),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    let served_by = |labelled: bool, version: u64, after: Instant| {
        let records = records.lock().unwrap();
        records
            .iter()
            .find(|r| r.labelled == labelled && r.version == version && r.sent >= after)
            .map(|r| r.received)
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 1. Version 2 appears: the newest-version route moves to it, `stable` stays.
    let put = Instant::now();
    scratch.put_zoo("reg", 2, ZOO[1]);
    wait_for("version 2 to serve", || async {
        served_by(false, 2, put).is_some()
    })
    .await;
    let first_v2 = served_by(false, 2, put).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 2. `stable` flips from 1 to 2.
    let flip = Instant::now();
    scratch.write_toml("reg", "[labels]\nstable = 2\n");
    wait_for("stable to point at 2", || async {
        served_by(true, 2, flip).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 3. Version 1 is removed; 4. a corrupt version 3 is dropped in.
    scratch.remove_version("reg", 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let corrupt = Instant::now();
    scratch.put_bytes("reg", 3, b"\x08\x07 this is not an ONNX model");
    wait_for("version 3 to fail", || async {
        metric(
            &client,
            &base,
            "inferd_model_loads_total{model=\"reg\",result=\"failure\"}",
        )
        .await
            >= 1.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = started.elapsed();

    let records = std::mem::take(&mut *records.lock().unwrap());
    let failures = std::mem::take(&mut *failures.lock().unwrap());
    assert!(
        failures.is_empty(),
        "failed requests: {} (first: {:?})",
        failures.len(),
        failures.first()
    );
    let non_2xx = records
        .iter()
        .filter(|r| !(200..300).contains(&r.status))
        .count();
    assert_eq!(non_2xx, 0, "non-2xx answers");
    for r in records.iter() {
        assert!(
            r.version == 1 || r.version == 2,
            "version {} answered",
            r.version
        );
        let reference = &refs[r.version as usize - 1];
        assert!(
            reference.matches(r.row, r.value),
            "version {} row {}: got {}, onnxruntime says {}",
            r.version,
            r.row,
            r.value,
            reference.answer(r.row)
        );
    }
    // Once a route has answered from version 2, nothing sent after that gets version 1.
    for labelled in [false, true] {
        let switch = records
            .iter()
            .filter(|r| r.labelled == labelled && r.version == 2)
            .map(|r| r.received)
            .min()
            .unwrap();
        let late = records
            .iter()
            .filter(|r| r.labelled == labelled && r.sent > switch && r.version != 2)
            .count();
        assert_eq!(
            late, 0,
            "answers from version 1 sent after the switch (labelled: {labelled})"
        );
    }
    let before_flip = records
        .iter()
        .filter(|r| r.labelled && r.received < flip && r.sent > put);
    assert!(
        before_flip.clone().count() > 0 && before_flip.clone().all(|r| r.version == 1),
        "stable stayed on 1 until the flip"
    );
    assert!(
        records.iter().filter(|r| r.sent > corrupt).count() > 0,
        "load went on after version 3"
    );

    // The index and the metrics tell the same story.
    let index: Value = client
        .post(format!("{base}/v2/repository/index"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state = |v: &str| {
        index
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "reg" && e["version"] == v)
            .cloned()
    };
    assert_eq!(state("2").unwrap()["state"], "READY", "{index}");
    assert_eq!(state("3").unwrap()["state"], "UNAVAILABLE", "{index}");
    assert!(
        state("3").unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("cannot parse"),
        "{index}"
    );
    assert!(state("1").is_none(), "version 1 is gone: {index}");
    let text = metrics_text(&client, &base).await;
    assert!(
        text.contains("inferd_model_info{model=\"reg\",version=\"2\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("inferd_model_info{model=\"reg\",version=\"1\"}"),
        "version 1's info series is removed"
    );
    assert!(
        metric(
            &client,
            &base,
            "inferd_model_loads_total{model=\"reg\",result=\"success\"}"
        )
        .await
            >= 2.0
    );

    eprintln!(
        "reload under load: {} requests in {:.1} s from {CLIENTS} clients, 0 failed; \
         version 2 file in place -> first answer from it: {} ms",
        records.len(),
        elapsed.as_secs_f64(),
        (first_v2 - put).as_millis()
    );
    let _ = stop_server.send(());
    server.await.unwrap().unwrap();
}

/// Status, version header and first output value of one answer.
async fn read(answer: reqwest::Result<reqwest::Response>) -> Result<(u16, u64, f64), String> {
    let answer = answer.map_err(|e| format!("transport: {e}"))?;
    let status = answer.status().as_u16();
    let version = answer
        .headers()
        .get("x-inferd-model-version")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let body: Value = answer.json().await.map_err(|e| format!("body: {e}"))?;
    if status != 200 {
        return Err(format!("status {status}: {body}"));
    }
    let value = body["outputs"][0]["data"][0]
        .as_f64()
        .ok_or(format!("no output: {body}"))?;
    Ok((status, version, value))
}

async fn metrics_text(client: &reqwest::Client, base: &str) -> String {
    let answer = client.get(format!("{base}/metrics")).send().await.unwrap();
    answer.text().await.unwrap()
}

/// The value of one series on `/metrics`, 0 when absent.
async fn metric(client: &reqwest::Client, base: &str, series: &str) -> f64 {
    metrics_text(client, base)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Polls `check` every 20 ms for at most 10 s.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
