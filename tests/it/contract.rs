//! The gateway contract Claude Code and other clients rely on (issue 19):
//! answers name the model the caller asked for, model-name patterns route
//! dated ids, Anthropic headers reach Anthropic verbatim, beta fields never
//! reach providers that reject them, and prompt caching works across
//! formats.

use crate::common::*;
use serde_json::{json, Value};

/// Every provider type, with the base path its mock serves and a whole and
/// a streamed answer in its wire format (naming an upstream model id).
const PROVIDERS: [(&str, &str, &str, &str); 3] = [
    (
        "openai",
        "/v1",
        "openai/chat_completion.json",
        "openai/chat_stream.sse",
    ),
    (
        "anthropic",
        "/v1",
        "anthropic/response_text.json",
        "anthropic/stream_text_then_tool.sse",
    ),
    (
        "gemini",
        "/v1beta",
        "gemini/response_protocols_3_7.json",
        "gemini/stream_text.sse",
    ),
];

/// A gateway with provider `kind` serving model `m`, its mock answering
/// with `fixture` (a stream when it ends in `.sse`).
fn behind_fixture(kind: &str, base: &str, file: &str) -> (MockUpstream, TestGateway) {
    let text = fixture(file);
    let reply = if file.ends_with(".sse") {
        MockReply::sse(&text)
    } else {
        MockReply::json(text)
    };
    behind(kind, base, reply)
}

/// POSTs an Anthropic Messages body with `anthropic-version`.
async fn messages(gw: &TestGateway, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("gateway answers")
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]})
}

fn messages_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 50, "stream": stream,
           "messages": [{"role": "user", "content": "Hi"}]})
}

#[tokio::test]
async fn every_answer_names_the_model_asked_for_on_every_caller_api_and_provider_type() {
    for (kind, base, whole, stream) in PROVIDERS {
        let (_up, gw) = behind_fixture(kind, base, whole);
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &chat_body("m", false))
            .await;
        assert_eq!(resp.status(), 200, "{kind}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["model"], "m", "chat, {kind}: {v}");
        let v: Value = messages(&gw, &messages_body("m", false))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["model"], "m", "messages, {kind}: {v}");

        let (_up, gw) = behind_fixture(kind, base, stream);
        let mut body = chat_body("m", true);
        body["stream_options"] = json!({"include_usage": true});
        let chunks =
            json_events(&sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await);
        assert!(chunks.len() > 1, "{kind}: {chunks:?}");
        for c in &chunks {
            assert_eq!(c["model"], "m", "chat stream, {kind}: {c}");
        }
        let events = json_events(&sse_data(messages(&gw, &messages_body("m", true)).await).await);
        let start = events
            .iter()
            .find(|e| e["type"] == "message_start")
            .unwrap_or_else(|| panic!("{kind}: no message_start in {events:?}"));
        assert_eq!(start["message"]["model"], "m", "messages stream, {kind}");
    }
}
