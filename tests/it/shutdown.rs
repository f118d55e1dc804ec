//! Graceful shutdown of the real binary: SIGTERM while a stream is in
//! flight.

use crate::common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn start(upstream: &str, drain_seconds: u32) -> (Proc, u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = openai_config(upstream, "").replace(
        "[server]\n",
        &format!("[server]\nshutdown_timeout_seconds = {drain_seconds}\n"),
    );
    std::fs::write(&path, text).unwrap();
    let port = free_port();
    (Proc::serve(&path, port, &[], None), port, dir)
}

/// Waits (bounded) for the process to exit and returns its exit code.
async fn exit_code(p: &mut Proc, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not exit in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `GET /ready` on an already open connection and returns the status line.
fn ready_on(conn: &mut TcpStream) -> String {
    conn.write_all(b"GET /ready HTTP/1.1\r\nHost: gw\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn stream_body() -> serde_json::Value {
    json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn sigterm_turns_ready_off_refuses_new_connections_and_lets_the_stream_finish() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    let up = MockUpstream::start(move |_| MockReply {
        body: MockBody::Gated(events[..2].to_vec(), events[2..].to_vec(), g.clone()),
        ..MockReply::sse("")
    });
    let (mut proc, port, _dir) = start(&up.url("/v1"), 20);
    proc.wait_ready(port).await;
    let mut open_conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    open_conn
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let mut stream = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&stream_body())
        .send()
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()).to_string();

    proc.signal("-TERM");
    // Readiness turns off at once (asked on a connection opened before).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = ready_on(&mut open_conn);
    while !status.contains("503") {
        assert!(
            Instant::now() < deadline,
            "ready never turned 503: {status}"
        );
        status = ready_on(&mut open_conn);
    }
    // A new connection is refused, or answered 503.
    match TcpStream::connect(("127.0.0.1", port)) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        Ok(mut c) => {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let s = ready_on(&mut c);
            assert!(s.is_empty() || s.contains("503"), "{s}");
        }
    }
    drop(open_conn);
    // New work is refused while the stream drains.
    let refused = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&stream_body())
        .send()
        .await;
    if let Ok(r) = refused {
        assert_eq!(r.status(), 503);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "gateway_shutdown");
    }

    gate.notify_one();
    while let Some(c) = stream.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "the stream completed intact: {text}"
    );
    assert!(!text.contains("\"error\""));
    assert_eq!(exit_code(&mut proc, Duration::from_secs(20)).await, Some(0));
}

#[tokio::test]
async fn a_stream_still_open_at_the_drain_deadline_gets_an_error_event_and_the_process_exits() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let up = MockUpstream::start(move |_| MockReply {
        body: MockBody::ChunksThenHang(events[..2].to_vec()),
        ..MockReply::sse("")
    });
    let (mut proc, port, _dir) = start(&up.url("/v1"), 1);
    proc.wait_ready(port).await;
    let mut stream = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&stream_body())
        .send()
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()).to_string();
    proc.signal("-TERM");
    while let Ok(Some(c)) = stream.chunk().await {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    let last = text
        .trim_end()
        .rsplit("\n\n")
        .next()
        .unwrap()
        .trim_start_matches("data: ");
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["error"]["code"], "gateway_shutdown", "{text}");
    assert_eq!(exit_code(&mut proc, Duration::from_secs(15)).await, Some(0));
}

#[tokio::test]
async fn a_caller_that_stopped_reading_does_not_hold_the_shutdown_past_the_drain() {
    let up = MockUpstream::always(endless_content());
    let drain = 4;
    let (mut proc, port, _dir) = start(&up.url("/v1"), drain);
    proc.wait_ready(port).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let _conn = stalled_caller(addr, "/v1/chat/completions", &stream_body());
    let deadline = Instant::now() + Duration::from_secs(10);
    while up.requests().is_empty() {
        assert!(Instant::now() < deadline, "the stream never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proc.signal("-TERM");
    // The drain, then a short flush; not the drain twice over.
    let bound = Duration::from_secs(u64::from(drain) + 5);
    assert_eq!(exit_code(&mut proc, bound).await, Some(0));
}
