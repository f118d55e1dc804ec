//! What an upstream's answer may make the gateway believe or do: usage is
//! clamped to what a call can plausibly use; a body delimited by the end of
//! its connection is read whole.

use crate::common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};

fn ask(stream: bool) -> Value {
    json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// A usage object with every count at `u64::MAX`.
fn huge_usage() -> Value {
    json!({"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX, "total_tokens": u64::MAX})
}

/// A gateway whose key `sk-test` may use 100 million tokens a minute, in
/// front of a mock giving `reply`.
fn limited_key_behind(reply: MockReply) -> (MockUpstream, TestGateway) {
    let up = MockUpstream::always(reply);
    let config = openai_config(&up.url("/v1"), "").replace(
        "name = \"team-a\"\n",
        "name = \"team-a\"\ntpm = 100000000\n",
    );
    let gw = TestGateway::start(&config);
    (up, gw)
}

/// The call counted 10 million input tokens, not 1.8e19, and the key is
/// not locked out.
async fn counted_plausibly(gw: &TestGateway, stream: bool) {
    let d = [
        ("api_key", "team-a"),
        ("model", "gpt-4o"),
        ("provider", "openai"),
        ("endpoint", "/v1/chat/completions"),
    ];
    for (kind, n) in [("input", 1e7), ("output", 1e7)] {
        let mut labels = d.to_vec();
        labels.push(("type", kind));
        gw.expect_metric("llm_tokens_total", &labels, n).await;
    }
    let next = gw
        .post("/v1/chat/completions", "sk-test", &ask(stream))
        .await;
    assert_eq!(next.status(), 200, "the key still has tokens");
}

#[tokio::test]
async fn an_implausible_usage_in_a_whole_answer_is_clamped() {
    let mut body: Value = serde_json::from_str(&fixture("openai/chat_completion.json")).unwrap();
    body["usage"] = huge_usage();
    let (_up, gw) = limited_key_behind(MockReply::json(body.to_string()));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask(false))
        .await;
    assert_eq!(resp.status(), 200);
    counted_plausibly(&gw, false).await;
}

#[tokio::test]
async fn an_implausible_usage_in_a_stream_is_clamped() {
    let usage = json!({"id": "c", "object": "chat.completion.chunk", "created": 1,
        "model": "m", "choices": [], "usage": huge_usage()});
    let mut events = split_events(&fixture("openai/chat_stream.sse"));
    let done = events.pop().expect("[DONE]");
    *events.last_mut().expect("the usage chunk") = format!("data: {usage}\n\n");
    events.push(done);
    let (_up, gw) = limited_key_behind(MockReply::sse_pieces(events));
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &ask(true)).await).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    counted_plausibly(&gw, true).await;
}

/// A bare HTTP/1.1 server answering every request with `head` (status line
/// and headers, without the blank line) and `body`, with neither
/// `Content-Length` nor chunking: the end of the body is the end of the
/// connection, which it then closes. Returns its base URL.
fn close_delimited_upstream(head: &'static str, body: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut reader = BufReader::new(conn);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            let mut conn = reader.into_inner();
            let _ = write!(conn, "{head}\r\nConnection: close\r\n\r\n{body}");
        }
    });
    url
}

#[tokio::test]
async fn a_whole_answer_delimited_by_the_connection_close_is_read() {
    let url = close_delimited_upstream(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json",
        fixture("openai/chat_completion.json"),
    );
    let gw = TestGateway::start(&openai_config(&url, ""));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask(false))
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("JSON");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello! How can I assist you today?"
    );
}

#[tokio::test]
async fn a_stream_delimited_by_the_connection_close_is_read() {
    let url = close_delimited_upstream(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream",
        fixture("openai/chat_stream.sse"),
    );
    let gw = TestGateway::start(&openai_config(&url, ""));
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &ask(true)).await).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert!(!data.iter().any(|d| d.contains("\"error\"")), "{data:?}");
}
