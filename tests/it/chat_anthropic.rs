//! `/v1/chat/completions` served by an `anthropic`-type provider: the mock
//! upstream checks the headers and converted body it receives and answers
//! with recorded Anthropic shapes.

use crate::common::*;
use serde_json::{json, Value};

fn start(reply: MockReply) -> (MockUpstream, TestGateway) {
    behind("anthropic", "/v1", reply)
}

fn worked_example() -> Value {
    request_fixture("anthropic/chat_request_worked_example.json")
}

#[tokio::test]
async fn the_request_is_converted_with_anthropic_headers_and_the_beta_header_passed_on() {
    let (up, gw) = start(MockReply::json(fixture("anthropic/response_text.json")));
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("sk-test")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .json(&worked_example())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = up.single();
    assert_eq!(got.path, "/v1/messages");
    assert_eq!(got.header("x-api-key"), Some("sk-upstream-secret"));
    assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        got.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(
        got.header("authorization"),
        None,
        "the gateway key must not go upstream"
    );
    let mut expected: Value =
        serde_json::from_str(&fixture("anthropic/messages_request_worked_example.json")).unwrap();
    expected["model"] = json!("upstream-model");
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn a_text_answer_comes_back_in_openai_shape_with_usage() {
    let (_up, gw) = start(MockReply::json(fixture(
        "anthropic/response_cache_usage.json",
    )));
    let body = json!({"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]});
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let fx: Value = serde_json::from_str(&fixture("anthropic/response_cache_usage.json")).unwrap();
    let u = &fx["usage"];
    let prompt = u["input_tokens"].as_u64().unwrap()
        + u["cache_read_input_tokens"].as_u64().unwrap()
        + u["cache_creation_input_tokens"].as_u64().unwrap();
    assert_eq!(
        v["usage"]["prompt_tokens"].as_u64(),
        Some(prompt),
        "E30: {v}"
    );
    assert_eq!(
        v["usage"]["prompt_tokens_details"]["cached_tokens"],
        u["cache_read_input_tokens"]
    );
}

#[tokio::test]
async fn parallel_tool_calls_become_openai_tool_calls() {
    let (_up, gw) = start(MockReply::json(fixture(
        "anthropic/response_parallel_tool_use.json",
    )));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Weather in Paris and Tokyo?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3);
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["city"], "Paris");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn thinking_comes_back_with_signatures_and_goes_upstream_again_unchanged_e18() {
    let (up, gw) = start(MockReply::json(fixture("anthropic/response_thinking.json")));
    let first = json!({"model": "m", "reasoning_effort": "low", "messages": [{"role": "user", "content": "27 * 453?"}]});
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &first)
        .await
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert!(msg["reasoning_content"].as_str().unwrap().contains("12231"));
    let blocks = msg["thinking_blocks"].clone();
    assert_eq!(blocks[0]["type"], "thinking");
    // The client sends the assistant turn back with its thinking blocks.
    let second = json!({"model": "m", "reasoning_effort": "low", "messages": [
        {"role": "user", "content": "27 * 453?"},
        {"role": "assistant", "content": msg["content"], "thinking_blocks": blocks},
        {"role": "user", "content": "And doubled?"}]});
    gw.post("/v1/chat/completions", "sk-test", &second).await;
    let sent = up.requests()[1].json();
    let fx: Value = serde_json::from_str(&fixture("anthropic/response_thinking.json")).unwrap();
    assert_eq!(sent["messages"][1]["content"][0], fx["content"][0]);
    assert_eq!(sent["messages"][1]["content"][1], fx["content"][1]);
    assert!(sent["thinking"]["budget_tokens"].as_u64().unwrap() >= 1024);
}

#[tokio::test]
async fn dropped_parameters_are_listed_in_a_header() {
    let (_up, gw) = start(MockReply::json(fixture("anthropic/response_text.json")));
    let body = json!({"model": "m", "seed": 7, "logit_bias": {"1": 1}, "messages": [{"role": "user", "content": "x"}]});
    let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
    let dropped = resp
        .headers()
        .get("x-gateway-dropped-params")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        dropped.contains("seed") && dropped.contains("logit_bias"),
        "{dropped}"
    );
}

#[tokio::test]
async fn the_dropped_parameters_header_is_bounded_and_sanitised_before_the_call() {
    let (up, gw) = start(MockReply::json(fixture("anthropic/response_text.json")));
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let fields = body.as_object_mut().unwrap();
    fields.insert("a\r\nset-cookie: x\u{0}".into(), json!(1));
    fields.insert("b".repeat(1000), json!(1));
    for i in 0..20_000 {
        fields.insert(format!("unknown_{i:05}"), json!(1));
    }
    let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
    assert_eq!(resp.status(), 200);
    let dropped = resp
        .headers()
        .get("x-gateway-dropped-params")
        .expect("the header")
        .to_str()
        .expect("visible ASCII")
        .to_owned();
    assert!(dropped.len() < 4096, "{} bytes", dropped.len());
    let names: Vec<&str> = dropped.split(',').collect();
    assert_eq!(names.len(), 33, "{dropped}");
    assert!(names.contains(&"a__set-cookie__x_"), "{dropped}");
    assert!(names.contains(&"b".repeat(64).as_str()), "{dropped}");
    assert_eq!(names[32], "+19970 more");
    resp.text().await.unwrap();
    assert_eq!(up.requests().len(), 1);
}

#[tokio::test]
async fn the_stream_is_converted_chunk_by_chunk_with_usage_when_asked() {
    let (_up, gw) = start(MockReply::sse(&fixture(
        "anthropic/stream_text_then_tool.sse",
    )));
    let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Weather?"}]});
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let events = json_events(&data);
    let args: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Let me check.");
    let last = events.last().unwrap();
    assert_eq!(
        (
            last["choices"].clone(),
            last["usage"]["completion_tokens"].clone()
        ),
        (json!([]), json!(58))
    );
    assert!(events
        .iter()
        .any(|e| e["choices"][0]["finish_reason"] == "tool_calls"));
}

#[tokio::test]
async fn an_error_event_mid_stream_becomes_an_openai_error_payload_e26() {
    let (_up, gw) = start(MockReply::sse(&fixture(
        "anthropic/stream_error_overloaded.sse",
    )));
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error", "{last}");
}

#[tokio::test]
async fn a_stream_cut_without_message_stop_ends_with_an_error() {
    let (_up, gw) = start(MockReply::sse(&fixture("anthropic/stream_cut_off.sse")));
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last.get("error").is_some(), "{data:?}");
    assert!(!data.contains(&"[DONE]".to_owned()));
}

#[tokio::test]
async fn anthropic_errors_map_to_openai_statuses() {
    for (status, file, expected) in [
        (429, "anthropic/error_429.json", 429),
        (500, "anthropic/error_500.json", 502),
        (529, "anthropic/error_529.json", 503),
        (400, "anthropic/error_400.json", 400),
    ] {
        let (_up, gw) =
            start(MockReply::status_json(status, fixture(file)).header("retry-after", "3"));
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
        assert_eq!(resp.status().as_u16(), expected, "{file}");
        let v: Value = resp.json().await.unwrap();
        let fx: Value = serde_json::from_str(&fixture(file)).unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(fx["error"]["message"].as_str().unwrap()),
            "{file}: {v}"
        );
    }
}

#[tokio::test]
async fn n_greater_than_one_is_a_clear_400() {
    let (up, gw) = start(MockReply::json(fixture("anthropic/response_text.json")));
    let body = json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]});
    let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "n");
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn json_mode_stop_sequences_and_max_tokens_come_back_as_openai_expects() {
    let cases = [
        (
            "anthropic/response_json_mode.json",
            json!({"type": "json_object"}),
            "stop",
        ),
        ("anthropic/response_stop_sequence.json", Value::Null, "stop"),
        ("anthropic/response_max_tokens.json", Value::Null, "length"),
    ];
    for (file, format, finish) in cases {
        let (up, gw) = start(MockReply::json(fixture(file)));
        let mut body = json!({"model": "m", "stop": ["\n", "END"], "messages": [{"role": "user", "content": "Give me JSON"}]});
        if !format.is_null() {
            body["response_format"] = format.clone();
        }
        let v: Value = gw
            .post("/v1/chat/completions", "sk-test", &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], finish, "{file}");
        let sent = up.single().json();
        assert_eq!(
            sent["stop_sequences"],
            json!(["END"]),
            "E14: blank stop sequences dropped"
        );
        if !format.is_null() {
            let content = v["choices"][0]["message"]["content"].as_str().unwrap();
            assert!(
                serde_json::from_str::<Value>(content).is_ok_and(|c| c.is_object()),
                "{content}"
            );
            assert!(
                sent["tool_choice"]["type"] == "tool",
                "the JSON tool is forced: {sent}"
            );
        }
    }
}
