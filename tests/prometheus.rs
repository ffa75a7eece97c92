//! End to end with a real Prometheus server (README "Metrics"): inferd serves on a
//! loopback socket, the test sends a known number of requests, Debian's `prometheus`
//! scrapes `/metrics` every second, and the counts and histogram buckets are read back
//! through Prometheus's HTTP API. This proves more than the unit tests that render the
//! registry: the exposition is parsed by the real scraper, and the series carry the
//! labels that dashboards and alert rules select on.
//!
//! A missing `prometheus` binary fails these tests, so a missing install step shows.
//! The one way to skip them is to ask (`INFERD_SKIP_PROMETHEUS_TESTS=1`, for a
//! developer's machine without the package), and under CI (`CI=true`, which `.ci/run`
//! sets) even that fails.

mod common;
#[path = "prometheus/drift.rs"]
mod drift;

use common::{reference, repo_path};
use inferd::config::Config;
use inferd::metrics::{Metrics, LATENCY_BUCKETS};
use inferd::repository::Repository;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Successful TF Serving predictions, one distinct reference row each, so every row
/// misses the result cache and is computed by the model.
const PREDICTIONS: usize = 7;
/// Predictions for a model that does not exist (404 on the same route template).
const UNKNOWN_MODEL: usize = 3;
/// Liveness checks.
const HEALTH_CHECKS: usize = 2;
/// The `route` label TF Serving's `:predict` reports instead of the raw path.
const PREDICT_ROUTE: &str = "/v1/models/{m}:predict";
/// Longest wait for each of: Prometheus becoming ready, its first useful scrape.
const PATIENCE: Duration = Duration::from_secs(30);
/// Pause between polls of Prometheus.
const POLL: Duration = Duration::from_millis(250);
/// Attempts to start Prometheus: the free port picked for it can be taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("inferd-{what}-{}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running Prometheus; killed and reaped on drop (a failed assertion included)
/// before its config and data directory are removed.
struct Prometheus {
    /// The server process.
    child: Child,
    /// `http://127.0.0.1:<port>`, its API and UI.
    base: String,
    /// Holds `prometheus.yml`, the TSDB and the server's log.
    dir: TempDir,
    /// Client for the HTTP API, with a per-request timeout.
    client: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `targets`, evaluating the rule file `rules` if
    /// given, and waits until it reports ready.
    async fn start(
        binary: &Path,
        targets: &[SocketAddr],
        rules: Option<&Path>,
        client: &reqwest::Client,
    ) -> Prometheus {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let mut server = Prometheus::spawn(binary, targets, rules, client);
            if server.wait_ready().await {
                return server;
            }
            last_log = server.log();
        }
        panic!(
            "prometheus did not become ready in {START_ATTEMPTS} attempts; its log:\n{last_log}"
        );
    }

    fn spawn(
        binary: &Path,
        targets: &[SocketAddr],
        rules: Option<&Path>,
        client: &reqwest::Client,
    ) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let config = dir.0.join("prometheus.yml");
        let text = scrape_config(targets, rules);
        std::fs::write(&config, text).expect("write prometheus.yml");
        let log = std::fs::File::create(dir.0.join("prometheus.log")).expect("create log");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            client: client.clone(),
        }
    }

    /// True once `/-/ready` answers 200; false if the process exits or time runs out.
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            let ready = self.client.get(format!("{}/-/ready", self.base)).send();
            if ready.await.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        false
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query; each result is the series' labels and its value.
    async fn query(&self, promql: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let answer: Value = self
            .client
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("query {promql}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("query {promql}: answer is not JSON: {e}"));
        assert_eq!(answer["status"], "success", "query {promql}: {answer}");
        let series = answer["data"]["result"].as_array().cloned();
        series
            .unwrap_or_else(|| panic!("query {promql}: no result vector: {answer}"))
            .iter()
            .map(|s| {
                let labels = serde_json::from_value(s["metric"].clone()).expect("labels");
                let value = s["value"][1].as_str().expect("sample value");
                (labels, value.parse().expect("a number"))
            })
            .collect()
    }

    /// The value of a query that must select exactly one series.
    async fn value(&self, promql: &str) -> f64 {
        let series = self.query(promql).await;
        assert_eq!(
            series.len(),
            1,
            "{promql} should select one series: {series:?}"
        );
        series[0].1
    }

    /// Waits for a successful scrape that includes the prediction counts.
    async fn wait_for_scrape(&self) {
        let up = r#"up{job="inferd"} == 1"#;
        let counted = format!(r#"inferd_http_requests_total{{route="{PREDICT_ROUTE}"}}"#);
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if !self.query(up).await.is_empty() && !self.query(&counted).await.is_empty() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        let targets = self.client.get(format!("{}/api/v1/targets", self.base));
        let targets = match targets.send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        panic!(
            "no successful scrape of inferd within {PATIENCE:?}\ntargets: {targets}\nlog:\n{}",
            self.log()
        );
    }
}

/// One job scraping inferd every second, and the rule file if any.
fn scrape_config(targets: &[SocketAddr], rules: Option<&Path>) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let rules = rules.map_or(String::new(), |r| {
        format!("rule_files:\n  - '{}'\n", r.display())
    });
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         {rules}scrape_configs:\n  - job_name: inferd\n    metrics_path: /metrics\n    \
         static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    )
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    probe.local_addr().expect("probe address").port()
}

/// Debian's `prometheus` binary, or `None` (the caller skips, saying so) when it is
/// missing and the skip was asked for outside CI; any other miss fails the test.
fn prometheus_binary() -> Option<PathBuf> {
    let var = |name| std::env::var(name).ok();
    find_prometheus(
        &std::env::var_os("PATH").unwrap_or_default(),
        var("CI").as_deref(),
        var(SKIP).as_deref(),
    )
}

/// Set to skip the Prometheus tests on a machine without the package (not under CI).
const SKIP: &str = "INFERD_SKIP_PROMETHEUS_TESTS";

/// `prometheus` on `path`. Missing, it is a panic unless `skip` is set and `ci` is not
/// (either set means any value but empty, `0`, `false` or `no`: CI services spell it
/// `true` or `1`).
fn find_prometheus(
    path: &std::ffi::OsStr,
    ci: Option<&str>,
    skip: Option<&str>,
) -> Option<PathBuf> {
    let found = std::env::split_paths(path)
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file());
    if found.is_some() {
        return found;
    }
    assert!(
        !is_set(ci),
        "Debian's prometheus package is not installed, and CI={}: .ci/run must install it",
        ci.unwrap_or_default()
    );
    assert!(
        is_set(skip),
        "Debian's prometheus package is not installed: install it \
         (apt-get install prometheus) or set {SKIP}=1 to skip these tests"
    );
    eprintln!("skipping: Debian's prometheus package is not installed and {SKIP} is set");
    None
}

fn is_set(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no"
        )
    })
}

#[test]
fn a_missing_prometheus_fails_unless_skipping_is_asked_for_outside_ci() {
    let empty = TempDir::new("no-prometheus");
    let path = empty.0.as_os_str();
    let fails = |ci: Option<&str>, skip: Option<&str>| {
        std::panic::catch_unwind(|| find_prometheus(path, ci, skip)).is_err()
    };
    for ci in ["true", "TRUE", "1", "yes"] {
        assert!(fails(Some(ci), None), "CI={ci} must fail, not skip");
        assert!(
            fails(Some(ci), Some("1")),
            "CI={ci} must fail even with {SKIP}=1"
        );
    }
    for ci in [None, Some(""), Some("0"), Some("false")] {
        for skip in [None, Some(""), Some("0"), Some("no")] {
            assert!(
                fails(ci, skip),
                "CI={ci:?}, {SKIP}={skip:?} must fail, not skip"
            );
        }
        assert_eq!(
            find_prometheus(path, ci, Some("1")),
            None,
            "CI={ci:?} skips when asked"
        );
    }
    std::fs::write(empty.0.join("prometheus"), "").unwrap();
    assert_eq!(
        find_prometheus(path, Some("true"), None),
        Some(empty.0.join("prometheus"))
    );
}

/// Starts inferd on a loopback port, serving the bundled models with `dense-net` as
/// the default (it loads whatever ops the forecaster needs), until `stop` is sent.
async fn start_inferd() -> Replica {
    let config = Config {
        model_repository: repo_path("models"),
        default_model: "dense-net".into(),
        ..Config::default()
    };
    start_replica(config).await
}

/// A server's address, the sender that stops it, and its task.
type Replica = (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<anyhow::Result<()>>,
);

/// Starts inferd with `config` on a loopback port until `stop` is sent.
async fn start_replica(config: Config) -> Replica {
    let metrics = Metrics::new(prometheus::Registry::new()).expect("register metrics");
    let repository = Repository::load(&config, &metrics)
        .await
        .expect("load the model repository");
    let state = inferd::app_state(&config, Arc::new(repository), metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let drain = inferd::shutdown::Drain {
        delay: Duration::ZERO,
        grace: Duration::from_secs(5),
    };
    let server = tokio::spawn(inferd::serve(state, listener, shutdown, drain));
    (address, stop, server)
}

/// Sends the known traffic, one request at a time, checking every answer.
async fn send_traffic(client: &reqwest::Client, inferd: SocketAddr) {
    let r = reference("dense-net");
    assert!(
        r.inputs.len() >= PREDICTIONS,
        "enough distinct reference rows"
    );
    for (i, row) in r.inputs.iter().take(PREDICTIONS).enumerate() {
        let url = format!("http://{inferd}/v1/models/dense-net:predict");
        let answer = client.post(url).json(&json!({ "instances": [row] }));
        let answer = answer.send().await.expect("predict");
        assert_eq!(answer.status(), 200, "prediction {i}");
        let body: Value = answer.json().await.expect("JSON answer");
        let rows = body["predictions"].as_array().map(Vec::len);
        assert_eq!(rows, Some(1), "prediction {i}: one row back: {body}");
    }
    for _ in 0..UNKNOWN_MODEL {
        let url = format!("http://{inferd}/v1/models/no-such-model:predict");
        let answer = client
            .post(url)
            .json(&json!({ "instances": [r.inputs[0]] }));
        assert_eq!(answer.send().await.expect("predict").status(), 404);
    }
    for _ in 0..HEALTH_CHECKS {
        let answer = client.get(format!("http://{inferd}/healthz")).send();
        assert_eq!(answer.await.expect("healthz").status(), 200);
    }
}

async fn assert_request_counts(p: &Prometheus) {
    let requests = |route: &str, method: &str, status: &str| {
        format!(
            r#"inferd_http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#
        )
    };
    let ok = p.value(&requests(PREDICT_ROUTE, "POST", "200")).await;
    assert_eq!(ok, PREDICTIONS as f64, "successful predictions");
    let missing = p.value(&requests(PREDICT_ROUTE, "POST", "404")).await;
    assert_eq!(
        missing, UNKNOWN_MODEL as f64,
        "predictions for an unknown model"
    );
    let health = p.value(&requests("/healthz", "GET", "200")).await;
    assert_eq!(health, HEALTH_CHECKS as f64, "liveness checks");
    let rows = r#"inferd_inference_rows_total{model="dense-net",version="1"}"#;
    assert_eq!(p.value(rows).await, PREDICTIONS as f64, "rows computed");
    let raw_paths = p
        .query(r#"inferd_http_requests_total{route=~".*(dense-net|no-such-model).*"}"#)
        .await;
    assert!(
        raw_paths.is_empty(),
        "raw paths as route labels: {raw_paths:?}"
    );
}

async fn assert_latency_histogram(p: &Prometheus) {
    // Buckets are matched by numeric bound, not by the `le` string: the Rust client
    // writes `0.000025` and `10` where Go clients write `2.5e-05`, and Prometheus 3
    // rewrites `10` as `10.0` on ingestion.
    let selector =
        format!(r#"inferd_http_request_duration_seconds_bucket{{route="{PREDICT_ROUTE}"}}"#);
    let mut buckets: Vec<(f64, f64, String)> = p
        .query(&selector)
        .await
        .into_iter()
        .map(|(labels, count)| {
            let le = labels["le"].clone();
            let bound = le
                .parse()
                .unwrap_or_else(|_| panic!("le={le:?} is not a number"));
            (bound, count, le)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let labels: Vec<&str> = buckets.iter().map(|b| b.2.as_str()).collect();
    let bounds: Vec<f64> = buckets.iter().map(|b| b.0).collect();
    let mut expected = LATENCY_BUCKETS.to_vec();
    expected.push(f64::INFINITY);
    assert_eq!(
        bounds, expected,
        "bucket bounds; le labels as scraped: {labels:?}"
    );
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "buckets are cumulative: {buckets:?}"
    );

    // The histogram is labelled by route only, so the 404s on the route count too.
    let observed = (PREDICTIONS + UNKNOWN_MODEL) as f64;
    let at = |bound: f64| buckets.iter().find(|b| b.0 == bound).map(|b| b.1);
    assert_eq!(at(10.0), Some(observed), "le=10 bucket: {buckets:?}");
    assert_eq!(at(f64::INFINITY), Some(observed), "le=+Inf bucket");
    let count = format!(r#"inferd_http_request_duration_seconds_count{{route="{PREDICT_ROUTE}"}}"#);
    assert_eq!(p.value(&count).await, observed, "histogram count");

    let p99 = format!("histogram_quantile(0.99, sum by (le) ({selector}))");
    let p99 = p.value(&p99).await;
    assert!(p99 > 0.0 && p99 <= 10.0, "p99 latency {p99} s");
}

async fn assert_target_and_process(p: &Prometheus) {
    assert_eq!(p.value(r#"up{job="inferd"}"#).await, 1.0, "target up");
    let build = p.query("inferd_build_info").await;
    assert_eq!(build.len(), 1, "one build_info series: {build:?}");
    assert_eq!(build[0].0["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build[0].1, 1.0, "build_info value");
    let rss = p
        .value(r#"process_resident_memory_bytes{job="inferd"}"#)
        .await;
    assert!(rss > 0.0, "resident memory {rss}");
    let loaded = r#"inferd_model_info{model="dense-net",version="1"}"#;
    assert_eq!(p.value(loaded).await, 1.0, "dense-net is servable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_request_counts_and_latency_buckets() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let (inferd, stop, server) = start_inferd().await;
    send_traffic(&client, inferd).await;

    let prometheus = Prometheus::start(&binary, &[inferd], None, &client).await;
    prometheus.wait_for_scrape().await;
    assert_request_counts(&prometheus).await;
    assert_latency_histogram(&prometheus).await;
    assert_target_and_process(&prometheus).await;
    drop(prometheus);

    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    stopped
        .expect("inferd stops within 10 s")
        .expect("server task")
        .expect("serve returns Ok");
}
