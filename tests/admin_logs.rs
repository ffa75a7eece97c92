//! The admin token never reaches the log: the real binary, its token in the
//! environment, called with the right token, a wrong one and a malformed header,
//! and every log line it wrote (the access log included, flushed by a clean
//! SIGTERM shutdown) searched for both.

mod common;

use common::spawn_inferd;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TOKEN: &str = "log-check-token-7f3a91";
const WRONG: &str = "wrong-token-c0ffee42";

fn post(address: &str, path: &str, authorization: &str) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nauthorization: {authorization}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_admin_token_is_never_logged() {
    let env = [("INFERD_ADMIN__TOKEN", TOKEN)];
    let (mut child, logs) = spawn_inferd(&[], &env);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let address = loop {
        assert!(Instant::now() < deadline, "inferd did not start: {lines:?}");
        let Ok(line) = logs.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        lines.push(line);
        if log["fields"]["message"] == "listening" {
            break log["fields"]["address"].as_str().unwrap().to_string();
        }
    };
    let index = "/v2/repository/index";
    assert_eq!(post(&address, index, &format!("Bearer {TOKEN}")), 200);
    assert_eq!(post(&address, index, &format!("Bearer {WRONG}")), 401);
    assert_eq!(post(&address, index, &format!("Token{TOKEN}")), 401);
    let load = "/v2/repository/models/stock-forecaster/load";
    assert_eq!(post(&address, load, &format!("Bearer {TOKEN}")), 200);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "a clean exit writes out every log line"
    );
    lines.extend(logs.try_iter());
    assert!(
        lines.iter().any(|l| l.contains("/v2/repository/index")),
        "the admin requests were logged: {lines:?}"
    );
    for secret in [TOKEN, WRONG] {
        let leaked: Vec<_> = lines.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaked.is_empty(), "{secret} in the log: {leaked:?}");
    }
}
