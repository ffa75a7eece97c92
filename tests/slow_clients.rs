//! Slow clients on a real socket: a connection that stalls inside its headers is
//! closed after `http.header_read_timeout`, while other clients are served.

mod common;

use common::*;
use inferd::testing::{Behaviour, FakeModel};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// Serves a fake model on 127.0.0.1:0 with a 300 ms header timeout; returns the
/// address and the sender that stops the server.
async fn serve() -> (String, tokio::sync::oneshot::Sender<()>) {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let app = app_with(vec![("fake", 1, model)], |c| {
        c.default_model = "fake".into();
        c.http.header_read_timeout = Duration::from_millis(300);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let drain = inferd::shutdown::Drain {
        delay: Duration::ZERO,
        grace: Duration::from_secs(1),
    };
    tokio::spawn(inferd::serve(app.state, listener, shutdown, drain));
    (address, stop)
}

/// Whether the server closes `stream` within `within` (reads EOF or a reset).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 or similar before the close is fine
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false, // timed out: still open
        }
    }
}

fn good_request(address: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    let body = r#"{"instances":[[1,2]]}"#;
    let head = format!(
        "POST /predict HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_stalled_inside_its_headers_is_closed() {
    let (address, stop) = serve().await;
    let address2 = address.clone();
    tokio::task::spawn_blocking(move || {
        let mut stalled: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut s = TcpStream::connect(&address2).unwrap();
                s.write_all(b"POST /predict HTTP/1.1\r\nhost: t\r\ncontent-len")
                    .unwrap();
                s
            })
            .collect();
        let mut silent = TcpStream::connect(&address2).unwrap();
        // A kept-alive connection, answered, then idle.
        let mut idle = TcpStream::connect(&address2).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            .unwrap();
        // Served meanwhile.
        assert!(good_request(&address2).starts_with("HTTP/1.1 200"));
        for s in &mut stalled {
            assert!(
                closed_within(s, Duration::from_secs(5)),
                "stalled header closed"
            );
        }
        assert!(
            closed_within(&mut silent, Duration::from_secs(5)),
            "silent connection closed"
        );
        assert!(good_request(&address2).starts_with("HTTP/1.1 200"));
    })
    .await
    .unwrap();
    let _ = stop.send(());
}
