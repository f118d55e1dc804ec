//! What an upstream's answer may make the gateway believe or do: usage is
//! clamped to what a call can plausibly use.

use crate::common::*;
use serde_json::{json, Value};

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
