//! What a caller's request may cost the gateway: a body arrives in bounded
//! time, and the mock's echo is capped.

use crate::common::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Starts a chat request with `key` whose 1,000-byte body then trickles in
/// one byte every 100 ms (100 s in all), and returns the answer's status
/// line (failing if none comes within 20 s).
async fn slow_upload(gw: &TestGateway, key: &str) -> String {
    let mut conn = std::net::TcpStream::connect(gw.addr).expect("connect");
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    .expect("head written");
    let done = Arc::new(AtomicBool::new(false));
    let (mut writer, stop) = (conn.try_clone().expect("clone"), done.clone());
    std::thread::spawn(move || {
        for _ in 0..1000 {
            if stop.load(Ordering::Relaxed) || writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let answer = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 512];
        let n = conn
            .read(&mut buf)
            .expect("answered before the body was complete");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("reader");
    done.store(true, Ordering::Relaxed);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_a_408_at_the_body_read_timeout() {
    let config = openai_config("http://127.0.0.1:9", "")
        .replace("[server]\n", "[server]\nbody_read_timeout_seconds = 0.5\n");
    let gw = TestGateway::start(&config);
    assert!(slow_upload(&gw, "sk-test").await.contains(" 408 "));
}

#[tokio::test]
async fn an_unknown_key_gets_its_401_without_waiting_for_a_body_that_trickles_in() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    assert!(slow_upload(&gw, "sk-unknown").await.contains(" 401 "));
}

#[tokio::test]
async fn the_mock_echoes_at_most_64_kib_of_a_long_prompt_streamed_or_not() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let prompt = "a ".repeat(512 * 1024);
    let ask = |stream: bool| {
        serde_json::json!({"model": "demo", "stream": stream,
            "messages": [{"role": "user", "content": prompt}]})
    };
    let whole: serde_json::Value = gw
        .post("/v1/chat/completions", "sk-test", &ask(false))
        .await
        .json()
        .await
        .expect("JSON");
    let echo = whole["choices"][0]["message"]["content"]
        .as_str()
        .expect("text");
    assert_eq!(echo, &prompt[..64 * 1024]);
    assert_eq!(whole["usage"]["completion_tokens"], 32 * 1024);
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &ask(true)).await).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let streamed: String = json_events(&data)
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(streamed, echo);
}
