//! `inferd healthcheck`: a container health check that needs nothing but the binary.
//!
//! Minimal images have no curl or wget, and a shell one-liner breaks as soon as the
//! port moves. The subcommand reads the same configuration as the server (file,
//! `INFERD_*`, flags), so it asks the listener the server really bound, with one
//! `GET` over a plain socket, and succeeds only on a `200`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `GET path` to the server listening on `listen` and succeeds on a 200.
/// The error is one sentence for the health check's log.
pub fn probe(listen: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let target = local(listen);
    let mut stream = TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let io = |e: std::io::Error| format!("no answer from {target}{path}: {e}");
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    // The status line fits well within the first 64 bytes; nothing else is needed.
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < head.len() {
        match stream.read(&mut head[filled..]).map_err(io)? {
            0 => break,
            n => filled += n,
        }
        if head[..filled].contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head[..filled]);
    let status = text.lines().next().unwrap_or_default();
    match status.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("{target}{path} answered {status:?}, expected 200")),
    }
}

/// The address to dial for a listener: a wildcard bind is reached on loopback.
fn local(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server answering `status_line`; returns its address.
    fn answer_once(status_line: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"GET /readyz HTTP/1.1\r\n"));
            let _ = s.write_all(format!("{status_line}\r\ncontent-length: 0\r\n\r\n").as_bytes());
        });
        addr
    }

    #[test]
    fn succeeds_only_on_200() {
        let t = Duration::from_secs(5);
        assert_eq!(probe(answer_once("HTTP/1.1 200 OK"), "/readyz", t), Ok(()));
        let err = probe(
            answer_once("HTTP/1.1 503 Service Unavailable"),
            "/readyz",
            t,
        );
        assert!(err.unwrap_err().contains("503"));
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = probe(closed, "/readyz", t).unwrap_err();
        assert!(err.starts_with("cannot connect to 127.0.0.1:"), "{err}");
    }

    #[test]
    fn wildcard_listen_is_dialled_on_loopback() {
        assert_eq!(
            local("0.0.0.0:8080".parse().unwrap()).to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(local("[::]:9".parse().unwrap()).to_string(), "[::1]:9");
        assert_eq!(
            local("10.0.0.2:80".parse().unwrap()).to_string(),
            "10.0.0.2:80"
        );
    }
}
