//! `/v1/chat/completions` through an `openai`-type provider (pass-through)
//! and through the mock provider.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn chat(stream: bool) -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": stream,
        "logit_bias": {"50256": -100},
        "x_vendor_field": {"nested": [1, 2, 3]},
    })
}

#[tokio::test]
async fn non_stream_passes_through_with_model_rewritten_and_unknown_fields_kept() {
    let up = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &chat(false))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-request-id").is_some());
    // Byte for byte, but for the model: the name the caller asked for.
    let relayed = fixture("openai/chat_completion.json")
        .replace(r#""model": "gpt-4o-2024-08-06""#, r#""model": "gpt-4o""#);
    assert_eq!(
        resp.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(relayed.len().to_string().as_str())
    );
    assert_eq!(resp.text().await.unwrap(), relayed);

    let got = up.single();
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        got.header("authorization"),
        Some("Bearer sk-upstream-secret")
    );
    let mut expected = chat(false);
    expected["model"] = json!("gpt-4o-2024-08-06");
    assert_eq!(got.json(), expected);
    let raw = format!("{:?}{}", got.headers, String::from_utf8_lossy(&got.body));
    assert!(
        !raw.contains("sk-test"),
        "the gateway key went upstream: {raw}"
    );
}

#[tokio::test]
async fn stream_is_relayed_and_the_usage_chunk_the_caller_did_not_ask_for_is_stripped() {
    let up = MockUpstream::always(MockReply::sse(&fixture("openai/chat_stream.sse")));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &chat(true))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let data = sse_data(resp).await;
    let expected: Vec<String> = split_events(&fixture("openai/chat_stream.sse"))
        .iter()
        .map(|e| e.trim().trim_start_matches("data: ").to_owned())
        .filter(|d| !d.contains("\"choices\":[]"))
        .map(|d| d.replace(r#""model":"gpt-4o-2024-08-06""#, r#""model":"gpt-4o""#))
        .collect();
    assert_eq!(
        data, expected,
        "relayed as they are, naming the model asked for"
    );
    // The gateway asked for usage anyway, to count tokens.
    let sent = up.single().json();
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(sent["model"], json!("gpt-4o-2024-08-06"));
}

#[tokio::test]
async fn stream_keeps_the_usage_chunk_when_the_caller_asked_for_it() {
    let up = MockUpstream::always(MockReply::sse(&fixture("openai/chat_stream.sse")));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let mut body = chat(true);
    body["stream_options"] = json!({"include_usage": true, "include_obfuscation": false});
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 21);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(
        up.single().json()["stream_options"],
        json!({"include_usage": true, "include_obfuscation": false})
    );
}

#[tokio::test]
async fn stream_events_reach_the_caller_before_the_upstream_finishes_and_a_leaving_caller_closes_the_upstream(
) {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let up = MockUpstream::always(MockReply {
        body: MockBody::ChunksThenHang(events[..2].to_vec()),
        ..MockReply::sse("")
    });
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let mut resp = gw
        .post("/v1/chat/completions", "sk-test", &chat(true))
        .await;
    let mut seen = String::new();
    while !seen.contains("Hello") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("events arrive while the upstream is still open")
            .unwrap()
            .expect("more body");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(resp);
    tokio::time::timeout(Duration::from_secs(10), up.stream_dropped.notified())
        .await
        .expect("the gateway closed the upstream stream after the caller left");
}

#[tokio::test]
async fn mock_provider_echoes_and_streams_word_by_word() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let body = json!({"model": "demo", "messages": [{"role": "user", "content": "one two three"}]});
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "one two three");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6})
    );

    let mut body = body;
    body["stream"] = json!(true);
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    let words: Vec<String> = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(words, ["one ", "two ", "three"]);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test]
async fn finished_streams_give_their_upstream_connection_back_to_the_pool() {
    let up = MockUpstream::always(MockReply::sse(&fixture("openai/chat_stream.sse")));
    let config = openai_config(&up.url("/v1"), "").replace("[server]\n", "[server]\nworkers = 1\n");
    let gw = TestGateway::start(&config);
    for _ in 0..3 {
        let data = sse_data(
            gw.post("/v1/chat/completions", "sk-test", &chat(true))
                .await,
        )
        .await;
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    }
    let peers: Vec<_> = up.requests().iter().map(|r| r.peer).collect();
    assert!(
        peers.windows(2).all(|w| w[0] == w[1]),
        "one reused connection: {peers:?}"
    );
}
