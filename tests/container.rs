//! What a container runtime relies on, with the real binary: the `healthcheck`
//! subcommand the image's HEALTHCHECK runs, and start-up beside the `INFERD_*`
//! variables Kubernetes injects for a Service named `inferd` (README "Scale-out").

mod common;

use common::{repo_path, spawn_inferd};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn healthcheck(address: &str, path: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inferd"))
        .current_dir(repo_path(""))
        .args(["--listen", address, "healthcheck", "--path", path])
        .output()
        .expect("run inferd healthcheck")
}

#[test]
fn starts_beside_kubernetes_service_variables_and_passes_its_healthcheck() {
    let (mut child, rx) = spawn_inferd(
        &[],
        &[
            ("INFERD_SERVICE_HOST", "10.96.0.7"),
            ("INFERD_PORT", "tcp://10.96.0.7:8080"),
            ("INFERD_PORT_8080_TCP_PROTO", "tcp"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut warnings = Vec::new();
    let mut address = None;
    while address.is_none() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("inferd exited ({status}) instead of ignoring INFERD_PORT=tcp://...");
            }
            continue;
        };
        let log: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if log["level"] == "WARN" {
            warnings.push(log["fields"]["message"].as_str().unwrap_or("").to_string());
        }
        if log["fields"]["message"] == "listening" {
            address = log["fields"]["address"].as_str().map(str::to_string);
        }
    }
    let Some(address) = address else {
        let _ = child.kill();
        panic!("inferd did not start beside INFERD_PORT=tcp://... within 60 s");
    };
    let about_env: Vec<_> = warnings.iter().filter(|w| w.contains("INFERD_")).collect();
    assert_eq!(about_env.len(), 1, "one warning line: {warnings:?}");
    for name in [
        "INFERD_SERVICE_HOST",
        "INFERD_PORT",
        "INFERD_PORT_8080_TCP_PROTO",
    ] {
        assert!(about_env[0].contains(name), "{name} in {about_env:?}");
    }

    for path in ["/healthz", "/readyz"] {
        let out = healthcheck(&address, path);
        assert!(out.status.success(), "{path}: {out:?}");
    }
    let out = healthcheck(&address, "/no-such-route");
    assert_eq!(out.status.code(), Some(1), "a 404 is unhealthy: {out:?}");

    child.kill().unwrap();
    child.wait().unwrap();
    let out = healthcheck(&address, "/healthz");
    assert_eq!(out.status.code(), Some(1), "nobody listening: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect"), "{err}");
}
