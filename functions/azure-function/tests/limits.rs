//! The server's bounds over real loopback sockets: header read timeout against slow
//! clients, body read timeout, the connection cap, the in-flight cap and the content-type check,
//! with health checks still answered.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadet_azure_function::routes::{router, App};
use cadet_azure_function::server::{serve, ServerLimits};
use cadet_azure_function::{config::AuthKey, handler::Detector};
use cadet_core::Policy;
use cadet_state::MemoryStore;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: ServerLimits) -> SocketAddr {
    let sink = Arc::new(RecordingSink::default());
    let detector = Detector::new(
        MemoryStore::new(),
        Policy::default(),
        vec![sink as Arc<dyn cadet_sinks::Sink>],
    );
    let app = App::new(detector, Some(AuthKey::new(KEY)), "memory").with_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(serve(
        listener,
        router(Arc::new(app)),
        limits,
        std::future::pending(),
    ));
    addr
}

/// Sends `head` (and nothing more) and returns the stream.
async fn partial(addr: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s
}

/// Reads until the server closes (or 10 s pass); returns what it sent.
async fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

/// Reads until the server closes or a full response head and `content-length` body arrived.
async fn response(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

async fn healthz(addr: SocketAddr) -> String {
    let mut s = partial(
        addr,
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    read_all(&mut s).await
}

#[tokio::test]
async fn slow_clients_are_cut_off_after_the_header_timeout() {
    let addr = start(ServerLimits {
        header_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(partial(addr, "POST /detect HTTP/1.1\r\nhost: x\r\ncontent-ty").await);
    }
    // Health checks are answered meanwhile.
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));
    // The server closes every one of them (read_to_end ends) long before the 10 s the test
    // waits for each.
    for (i, s) in slow.iter_mut().enumerate() {
        let mut out = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
        assert!(closed.is_ok(), "slow connection {i} still open after 10 s");
    }
}

#[tokio::test]
async fn a_slow_body_is_408() {
    let addr = start(ServerLimits {
        body_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    })
    .await;
    let mut s = partial(
        addr,
        "POST /detect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"Data\"",
    )
    .await;
    let reply = response(&mut s).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("body not received within 1 s"), "{reply}");
}

#[tokio::test]
async fn connections_over_the_cap_get_503_at_once() {
    let addr = start(ServerLimits {
        max_connections: 4,
        header_timeout: Duration::from_secs(30),
        ..ServerLimits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(partial(addr, "GET /healthz HTTP/1.1\r\nhost: x\r\n").await);
    }
    // Let the server accept them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let mut extra = partial(addr, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let reply = read_all(&mut extra).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("retry-after: 1"),
        "{reply}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Closing one frees a slot.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn requests_over_the_in_flight_cap_get_503_and_health_checks_still_answer() {
    let addr = start(ServerLimits {
        max_in_flight: 1,
        queue_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_secs(20),
        ..ServerLimits::default()
    })
    .await;
    // Holds the one slot while its body trickles.
    let _holder = partial(
        addr,
        "POST /detect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = partial(
        addr,
        "POST /detect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    )
    .await;
    let reply = read_all(&mut s).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("too many requests in progress"), "{reply}");
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_415() {
    let addr = start(ServerLimits::default()).await;
    for route in ["/detect", &format!("/eventgrid?code={KEY}")] {
        let mut s = partial(
            addr,
            &format!("POST {route} HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"),
        )
        .await;
        let reply = read_all(&mut s).await;
        assert!(reply.starts_with("HTTP/1.1 415"), "{route}: {reply}");
    }
}

#[test]
fn limits_are_read_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        ServerLimits::from_lookup(env(&[])).unwrap_or_else(|e| panic!("{e}")),
        ServerLimits::default()
    );
    let l = ServerLimits::from_lookup(env(&[
        ("CADET_HEADER_TIMEOUT_SECS", "3"),
        ("CADET_MAX_CONNECTIONS", "2000"),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (l.header_timeout, l.max_connections),
        (Duration::from_secs(3), 2000)
    );
    let e = ServerLimits::from_lookup(env(&[("CADET_MAX_IN_FLIGHT", "0")]))
        .err()
        .unwrap_or_else(|| panic!("0 accepted"));
    assert_eq!(e.var, "CADET_MAX_IN_FLIGHT");
}
