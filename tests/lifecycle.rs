//! The real binary on a real socket: starts on port 0, serves, gets SIGTERM with a
//! request in flight, answers it, and exits 0 (README "Deployment and shutdown").

mod common;

use common::{assert_close, reference, repo_path, spawn_inferd};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts the binary and returns it with its bound address and its log lines.
fn start() -> (Child, String, mpsc::Receiver<String>) {
    start_with(&[])
}

/// As `start`, with more flags.
fn start_with(flags: &[&str]) -> (Child, String, mpsc::Receiver<String>) {
    let (mut child, rx) = spawn_inferd(flags, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let log: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if log["fields"]["message"] == "listening" {
            let address = log["fields"]["address"].as_str().unwrap().to_string();
            return (child, address, rx);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("inferd did not report listening within 60 s");
}

fn read_response(stream: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn sigterm_drains_in_flight_request_and_exits_zero() {
    let (mut child, address, logs) = start();
    let r = reference("stock-forecaster");
    let body = json!({ "instances": [r.inputs[0]] }).to_string();

    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /predict HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first.as_bytes()).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // The request is accepted and half-read: now ask the server to stop.
    sigterm(&child);
    let draining = Instant::now() + Duration::from_secs(10);
    let mut saw_drain = false;
    while Instant::now() < draining && !saw_drain {
        if let Ok(line) = logs.recv_timeout(Duration::from_millis(200)) {
            saw_drain = line.contains("shutdown requested");
        }
    }
    assert!(saw_drain, "the server logged that it is draining");

    stream.write_all(rest.as_bytes()).unwrap();
    let (status, answer) = read_response(&mut stream);
    assert_eq!(status, 200, "the in-flight request is answered: {answer}");
    let got = answer["predictions"][0][0].as_f64().unwrap();
    assert_close(got, f64::from(r.outputs[0][0]), "in-flight prediction");

    let status = wait_for_exit(&mut child, Duration::from_secs(20), "after SIGTERM");
    assert!(status.success(), "exit status {status:?}");

    // Logs are buffered and written by a background thread: the in-flight request's
    // line, written just before exit, must still reach stdout.
    let rest: Vec<String> = logs.iter().collect(); // ends when stdout closes
    let access = rest.iter().find_map(|line| {
        let log: Value = serde_json::from_str(line).ok()?;
        (log["fields"]["message"] == "request" && log["fields"]["path"] == "/predict")
            .then_some(log)
    });
    let access = access.unwrap_or_else(|| panic!("no /predict request line in {rest:#?}"));
    assert_eq!(access["fields"]["status"], 200, "{access}");
    assert_eq!(access["fields"]["method"], "POST", "{access}");
    // The whole line, as the binary writes it straight to its log buffer
    // (src/logs/access.rs): every field, the target, and the generated request id.
    assert_eq!(access["fields"]["route"], "/predict", "{access}");
    for number in ["micros", "queue_micros", "inference_micros"] {
        assert!(access["fields"][number].is_u64(), "{number}: {access}");
    }
    assert_eq!(access["level"], "INFO", "{access}");
    assert_eq!(access["target"], "inferd::http::observe", "{access}");
    assert_eq!(access["span"]["name"], "request", "{access}");
    let id = access["span"]["id"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 36, "a generated UUID: {access}");
}

/// One request on a fresh connection: its status and JSON body.
fn request(address: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("the listener still accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    read_response(&mut stream)
}

/// Sends the process SIGTERM, as Kubernetes and compose stop a container.
fn sigterm(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

/// Waits up to `within` for the process to exit and returns its status; past that,
/// kills it and fails the test, saying `when` it should have exited.
fn wait_for_exit(child: &mut Child, within: Duration, when: &str) -> std::process::ExitStatus {
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("inferd did not exit within {within:?} {when}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to 10 s for a log line containing `text`.
fn wait_for_line(logs: &mpsc::Receiver<String>, text: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(line) = logs.recv_timeout(Duration::from_millis(200)) {
            if line.contains(text) {
                return true;
            }
        }
    }
    false
}

/// A SIGTERM that arrives while the models are still loading is not lost and does
/// not kill the process: the handler is installed before loading starts, so the
/// server drains as soon as it serves and exits 0. (Installed lazily, the handler
/// was missing here, and SIGTERM's default action ended the process.)
#[test]
fn sigterm_during_start_up_drains_once_serving_and_exits_zero() {
    let (mut child, logs) = spawn_inferd(&[], &[]);
    assert!(
        wait_for_line(&logs, "model loaded"),
        "a model load is logged"
    );
    sigterm(&child);
    assert!(
        wait_for_line(&logs, "draining in-flight requests"),
        "the signal started a drain"
    );
    let status = wait_for_exit(&mut child, Duration::from_secs(20), "after the drain");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn shutdown_delay_keeps_serving_new_connections_while_not_ready() {
    let (mut child, address, logs) = start_with(&["--set", "shutdown_delay=5s"]);
    let r = reference("stock-forecaster");
    let body = json!({ "instances": [r.inputs[0]] }).to_string();
    sigterm(&child);
    assert!(
        wait_for_line(&logs, "still serving until the load balancer stops sending"),
        "the delay is logged"
    );
    // Inside the delay: not ready, yet a new connection is accepted and answered,
    // as a load balancer that has not yet seen the 503 would send it.
    assert_eq!(request(&address, "GET", "/readyz", "").0, 503);
    let (status, answer) = request(&address, "POST", "/predict", &body);
    assert_eq!(status, 200, "{answer}");
    let got = answer["predictions"][0][0].as_f64().unwrap();
    assert_close(
        got,
        f64::from(r.outputs[0][0]),
        "prediction during the delay",
    );
    assert!(
        wait_for_line(&logs, "draining in-flight requests"),
        "the drain follows the delay"
    );
    let status = wait_for_exit(&mut child, Duration::from_secs(20), "after its delay");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn the_grace_period_ends_the_process_with_a_request_still_in_flight() {
    let (mut child, address, logs) = start_with(&["--set", "shutdown_grace_period=1s"]);
    // A request whose body never finishes arriving stays in flight for
    // http.body_read_timeout (30 s): far past the grace period.
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"POST /predict HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"instances\"")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    let status = wait_for_exit(
        &mut child,
        Duration::from_secs(15),
        "after SIGTERM: it ignored its 1 s grace period",
    );
    assert!(status.success(), "exit status {status:?}");
    // The reader thread ends at the closed pipe, which ends this iterator.
    let lines: Vec<String> =
        std::iter::from_fn(|| logs.recv_timeout(Duration::from_secs(5)).ok()).collect();
    assert!(
        lines.iter().any(|l| l.contains("grace period over")),
        "the exit says why: {lines:?}"
    );
}

#[test]
fn bad_configuration_stops_start_up_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_inferd"))
        .current_dir(repo_path(""))
        .env("INFERD_BATCHING__MAX_BATCH_SIZE", "many")
        .output()
        .expect("run inferd");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("batching.max_batch_size"), "{err}");
    assert!(err.contains("INFERD_BATCHING__MAX_BATCH_SIZE"), "{err}");
    assert!(err.contains("many"), "{err}");
}
