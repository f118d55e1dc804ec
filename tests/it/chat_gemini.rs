//! `/v1/chat/completions` served by a `gemini`-type provider: the mock
//! upstream checks the URL, the key header and the converted body, and
//! answers with recorded Gemini shapes.

use crate::common::*;
use serde_json::{json, Value};

fn start(reply: MockReply) -> (MockUpstream, TestGateway) {
    behind("gemini", "/v1beta", reply)
}

fn weather_request() -> Value {
    request_fixture("gemini/openai_request_weather.json")
}

#[tokio::test]
async fn the_url_carries_the_model_and_the_key_goes_in_a_header() {
    let (up, gw) = start(MockReply::json(fixture(
        "gemini/response_protocols_3_7.json",
    )));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &weather_request())
        .await;
    assert_eq!(resp.status(), 200);
    let got = up.single();
    assert_eq!(got.path, "/v1beta/models/upstream-model:generateContent");
    assert_eq!(got.query, "", "the key must never be in the URL");
    assert_eq!(got.header("x-goog-api-key"), Some("sk-upstream-secret"));
    let body = got.json();
    assert_eq!(
        body["systemInstruction"]["parts"][0]["text"],
        "You are terse."
    );
    // E22: the function response carries the name of the earlier call.
    let tool_turn = body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["parts"][0].get("functionResponse").is_some())
        .expect("a functionResponse turn");
    assert_eq!(
        tool_turn["parts"][0]["functionResponse"]["name"],
        "get_weather"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "It is 18C and sunny."
    );
    assert_eq!(v["usage"]["completion_tokens"], 50);
}

#[tokio::test]
async fn tool_schemas_are_cleaned_of_keywords_gemini_rejects_e15() {
    let (up, gw) = start(MockReply::json(fixture(
        "gemini/response_parallel_tools.json",
    )));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
            "properties": {"city": {"$ref": "#/$defs/City"}, "unit": {"type": ["string", "null"], "enum": ["c", "f"]}},
            "$defs": {"City": {"type": "string", "const": "Paris"}}}}}]});
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    let sent = up.single().json().to_string();
    for bad in ["$schema", "additionalProperties", "$ref", "$defs", "const"] {
        assert!(!sent.contains(bad), "`{bad}` reached Gemini: {sent}");
    }
    // E17: a function call means tool_calls, although Gemini said STOP.
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn blocks_become_content_filter_never_an_error_e16() {
    for file in [
        "gemini/response_prompt_block.json",
        "gemini/response_safety_block.json",
    ] {
        let (_up, gw) = start(MockReply::json(fixture(file)));
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
        assert_eq!(resp.status(), 200, "{file}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "content_filter", "{file}");
    }
}

#[tokio::test]
async fn json_schema_output_sets_the_response_schema() {
    let (up, gw) = start(MockReply::json(fixture("gemini/response_json_schema.json")));
    let mut body: Value =
        serde_json::from_str(&fixture("gemini/openai_request_json_schema.json")).unwrap();
    body["model"] = json!("m");
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    let sent = up.single().json();
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert!(sent["generationConfig"]["responseSchema"].is_object());
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(serde_json::from_str::<Value>(content).is_ok(), "{content}");
}

#[tokio::test]
async fn the_stream_uses_alt_sse_and_is_converted_with_usage() {
    let (up, gw) = start(MockReply::sse(&fixture("gemini/stream_protocols_4_6.sse")));
    let mut body = weather_request();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    let got = up.single();
    assert_eq!(
        got.path,
        "/v1beta/models/upstream-model:streamGenerateContent"
    );
    assert_eq!(got.query, "alt=sse");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let events = json_events(&data);
    let call = &events
        .iter()
        .find(|e| e["choices"][0]["delta"]["tool_calls"].is_array())
        .unwrap()["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris"})
    );
    let last = events.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 95);
}

#[tokio::test]
async fn gemini_errors_map_to_openai_statuses_e29() {
    for (status, file, expected) in [
        (400, "gemini/error_400_api_key_invalid.json", 401),
        (400, "gemini/error_400_invalid_argument.json", 400),
        (429, "gemini/error_429_resource_exhausted.json", 429),
        (500, "gemini/error_500_internal.json", 502),
    ] {
        let (_up, gw) = start(MockReply::status_json(status, fixture(file)));
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
        assert_eq!(resp.status().as_u16(), expected, "{file}");
        if expected == 429 {
            assert!(
                resp.headers().get("retry-after").is_some(),
                "RetryInfo becomes Retry-After"
            );
        }
    }
}

#[tokio::test]
async fn http_image_urls_are_refused_without_fetching() {
    let (up, gw) = start(MockReply::json(fixture(
        "gemini/response_protocols_3_7.json",
    )));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
    assert_eq!(resp.status(), 400);
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn data_url_images_go_inline_and_max_tokens_stops_are_length() {
    let (up, gw) = start(MockReply::json(fixture("gemini/response_max_tokens.json")));
    let body = json!({"model": "m", "max_completion_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQ"}}]}]});
    let v: Value = gw
        .post("/v1/chat/completions", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let sent = up.single().json();
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 5);
    assert_eq!(
        sent["contents"][0]["parts"][1]["inlineData"],
        json!({"mimeType": "image/jpeg", "data": "/9j/4AAQ"})
    );
}
