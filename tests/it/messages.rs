//! `/v1/messages` (the Anthropic Messages API) served by every provider type.

use crate::common::*;
use serde_json::{json, Value};

async fn post_messages(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14",
        )
        .json(body)
        .send()
        .await
        .unwrap()
}

fn hello(stream: bool) -> Value {
    json!({"model": "m", "max_tokens": 100, "stream": stream, "context_management": {"edits": []},
           "messages": [{"role": "user", "content": "Hello"}]})
}

/// `(event name, data JSON)` of every event of an Anthropic stream.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .expect("an event: line");
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("a data: line");
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn anthropic_providers_get_the_request_natively_with_only_the_model_rewritten() {
    let (up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::json(fixture("anthropic/response_text.json")),
    );
    let resp = post_messages(&gw, "/v1/messages?beta=true", &hello(false)).await;
    assert_eq!(resp.status(), 200);
    // Byte for byte, but for the model: the name the caller asked for.
    assert_eq!(
        resp.text().await.unwrap(),
        fixture("anthropic/response_text.json").replace(
            r#""model": "claude-sonnet-4-5-20250929""#,
            &format!(r#""model": {}"#, hello(false)["model"])
        )
    );
    let got = up.single();
    assert_eq!(got.path, "/v1/messages");
    assert_eq!(
        got.header("anthropic-beta"),
        Some("claude-code-20250219,interleaved-thinking-2025-05-14")
    );
    assert_eq!(got.header("x-api-key"), Some("sk-upstream-secret"));
    let mut expected = hello(false);
    expected["model"] = json!("upstream-model");
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn native_streams_are_relayed_event_by_event_and_counted() {
    let (_up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::sse(&fixture("anthropic/stream_text_then_tool.sse")),
    );
    let evs = events(post_messages(&gw, "/v1/messages", &hello(true)).await).await;
    let upstream: Vec<String> = split_events(&fixture("anthropic/stream_text_then_tool.sse"))
        .iter()
        .filter_map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_owned)
        })
        .collect();
    let names: Vec<String> = evs.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, upstream);
    let d = [
        ("api_key", "team-a"),
        ("model", "m"),
        ("provider", "up"),
        ("endpoint", "/v1/messages"),
        ("type", "output"),
    ];
    gw.expect_metric("llm_tokens_total", &d, 58.0).await;
}

#[tokio::test]
async fn openai_providers_stream_back_proper_anthropic_events_with_tool_input() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::sse(&fixture("messages/stream_text_then_tool.openai.sse")),
    );
    let mut body = hello(true);
    body["tools"] = json!([{"name": "Read", "description": "Read a file", "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
        "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}]);
    let evs = events(post_messages(&gw, "/v1/messages", &body).await).await;
    let sent = up.single().json();
    assert_eq!(sent["model"], "upstream-model");
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["tools"][0]["function"]["name"], "Read");
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    let input: String = evs
        .iter()
        .filter(|(n, d)| n == "content_block_delta" && d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        serde_json::from_str::<Value>(&input).unwrap().is_object(),
        "{input}"
    );
    let delta = &evs[evs.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn gemini_and_mock_providers_answer_in_anthropic_shape() {
    let (_up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::json(fixture("gemini/response_protocols_3_7.json")),
    );
    let v: Value = post_messages(&gw, "/v1/messages", &hello(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["type"].as_str(), v["role"].as_str()),
        (Some("message"), Some("assistant"))
    );
    assert_eq!(
        v["content"][0],
        json!({"type": "text", "text": "It is 18C and sunny."})
    );
    assert_eq!(v["model"], "m", "the caller's model name is echoed");
    assert_eq!(v["stop_reason"], "end_turn");

    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let mut body = hello(true);
    body["model"] = json!("demo");
    let evs = events(post_messages(&gw, "/v1/messages", &body).await).await;
    let text: String = evs
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(evs.last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn errors_are_in_anthropic_shape_with_529_for_overload() {
    let up = MockUpstream::always(MockReply::status_json(
        529,
        fixture("anthropic/error_529.json"),
    ));
    let gw = TestGateway::start(
        &(provider_config("anthropic", &up.url("/v1")) + "\n[routing]\nmax_retries = 0\n"),
    );
    let resp = post_messages(&gw, "/v1/messages", &hello(false)).await;
    assert_eq!(resp.status(), 529);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error");

    let mut body = hello(false);
    body["model"] = json!("nope");
    let resp = post_messages(&gw, "/v1/messages", &body).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );

    let resp = client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "bad")
        .json(&hello(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"type": "error", "error": {"type": "authentication_error",
               "message": "Invalid or missing API key. Send your gateway key as `Authorization: Bearer <key>`."}})
    );
}

#[tokio::test]
async fn an_upstream_failure_mid_stream_is_an_error_event_without_message_stop() {
    let (_up, gw) = behind(
        "openai",
        "/v1",
        MockReply::sse(&fixture("messages/stream_error.openai.sse")),
    );
    let evs = events(post_messages(&gw, "/v1/messages", &hello(true)).await).await;
    assert_eq!(evs.last().unwrap().0, "error", "{evs:?}");
    assert!(!evs.iter().any(|(n, _)| n == "message_stop"));
}

#[tokio::test]
async fn count_tokens_is_exact_from_anthropic_and_estimated_elsewhere() {
    let (up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::json(r#"{"input_tokens": 1234}"#),
    );
    let body: Value = serde_json::from_str(&fixture("messages/count_tokens_request.json")).unwrap();
    let mut body = body;
    body["model"] = json!("m");
    let v: Value = post_messages(&gw, "/v1/messages/count_tokens?beta=true", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"input_tokens": 1234}));
    assert_eq!(up.single().path, "/v1/messages/count_tokens");
    assert_eq!(up.single().json()["model"], "upstream-model");

    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    body["model"] = json!("demo");
    let v: Value = post_messages(&gw, "/v1/messages/count_tokens", &body)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["input_tokens"].as_u64().is_some_and(|n| n > 0), "{v}");
}

#[tokio::test]
async fn models_are_listed_in_anthropic_shape_for_anthropic_clients() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let v: Value = client()
        .get(gw.url("/v1/models"))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!(v["data"][0]["id"], "demo");
    assert_eq!(
        (
            v["first_id"].as_str(),
            v["last_id"].as_str(),
            v["has_more"].as_bool()
        ),
        (Some("demo"), Some("gpt-4o"), Some(false))
    );
}

#[tokio::test]
async fn a_wrongly_typed_routing_field_is_named_and_not_quoted() {
    let gw = TestGateway::start(&provider_config("mock", "http://127.0.0.1:9"));
    let mut body = hello(false);
    body["stream"] = json!("secret-prompt-text");
    let resp = post_messages(&gw, "/v1/messages", &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "stream: a boolean is required");
    for (model, message) in [
        (json!(null), "model: a string is required"),
        (json!(["secret-prompt-text"]), "model: a string is required"),
    ] {
        body = hello(false);
        body["model"] = model;
        let resp = post_messages(&gw, "/v1/messages", &body).await;
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["message"], message);
    }
    let body = json!({"max_tokens": 5, "messages": []});
    let v: Value = post_messages(&gw, "/v1/messages", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["message"], "model: Field required");
}
