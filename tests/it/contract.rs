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

/// Key `sk-test`; an Anthropic-type provider `up` at `base_url` serving the
/// exact model `claude-sonnet-4-5`, the patterns `claude-sonnet-4-5*` (the
/// caller's name sent on) and `claude-*` (sent as `claude-default`), and
/// `extra`.
fn pattern_config(base_url: &str, extra: &str) -> String {
    format!(
        r#"
[server]
log_level = "warn"

[[api_keys]]
key = "sk-test"
name = "team-a"

[models."claude-sonnet-4-5"]
provider = "up"
api_model = "exact-upstream"

[models."claude-sonnet-4-5*"]
provider = "up"

[models."claude-*"]
provider = "up"
api_model = "claude-default"

[providers.up]
type = "anthropic"
api_key = "sk-upstream-secret"
base_url = "{base_url}"
timeout_seconds = 5
{extra}
"#
    )
}

#[tokio::test]
async fn model_patterns_route_dated_ids_exact_names_first_longest_pattern_next() {
    let up = MockUpstream::always(MockReply::json(fixture("anthropic/response_text.json")));
    let gw = TestGateway::start(&pattern_config(&up.url("/v1"), ""));
    let table = [
        // (asked, sent upstream)
        ("claude-sonnet-4-5", "exact-upstream"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
        ("claude-haiku-4-5-20251001", "claude-default"),
    ];
    for (asked, sent) in table {
        let resp = messages(&gw, &messages_body(asked, false)).await;
        assert_eq!(resp.status(), 200, "{asked}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["model"], asked);
        let got = up.requests().pop().unwrap().json();
        assert_eq!(got["model"], sent, "{asked}");
    }
    // Anchored: a name that only contains a pattern's text is not caught.
    for asked in ["my-claude-sonnet-4-5", "gpt-4o"] {
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &chat_body(asked, false))
            .await;
        assert_eq!(resp.status(), 404, "{asked}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "model_not_found");
    }
    assert_eq!(up.requests().len(), 3);
    // count_tokens routes the same way.
    let resp = client()
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-sonnet-4-5-20250929",
                      "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = up.requests().pop().unwrap();
    assert_eq!(got.path, "/v1/messages/count_tokens");
    assert_eq!(got.json()["model"], "claude-sonnet-4-5-20250929");
    // Listings name exact models only.
    assert_eq!(gw.model_ids("sk-test").await, ["claude-sonnet-4-5"]);
    // Metrics name the pattern: labels stay bounded whatever ids arrive.
    let labels = [
        ("api_key", "team-a"),
        ("model", "claude-sonnet-4-5*"),
        ("provider", "up"),
        ("endpoint", "/v1/messages"),
        ("status", "200"),
    ];
    gw.expect_metric("llm_requests_total", &labels, 1.0).await;
}

#[tokio::test]
async fn anthropic_version_and_beta_reach_anthropic_verbatim_else_the_configured_version() {
    let up = MockUpstream::always(MockReply::json(fixture("anthropic/response_text.json")));
    let gw = TestGateway::start(&pattern_config(
        &up.url("/v1"),
        r#"api_version = "2023-01-01""#,
    ));
    let beta = "claude-code-20250219,context-management-2025-06-27,advanced-tool-use-2025-11-20";
    let resp = client()
        .post(gw.url("/v1/messages?beta=true"))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", beta)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = up.requests().pop().unwrap();
    assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(got.header("anthropic-beta"), Some(beta));
    // An OpenAI-format caller's too (converted for Anthropic).
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("sk-test")
        .header("anthropic-version", "2023-06-01")
        .json(&chat_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        up.requests().pop().unwrap().header("anthropic-version"),
        Some("2023-06-01")
    );
    // None sent: the provider's configured version.
    let resp = gw
        .post(
            "/v1/chat/completions",
            "sk-test",
            &chat_body("claude-sonnet-4-5", false),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        up.requests().pop().unwrap().header("anthropic-version"),
        Some("2023-01-01")
    );
}

/// `GET /v1/models?{query}` as an Anthropic caller (`x-api-key` only).
async fn anthropic_models(gw: &TestGateway, query: &str) -> (u16, Value) {
    let resp = client()
        .get(gw.url(&format!("/v1/models{query}")))
        .header("x-api-key", "sk-test")
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn anthropic_callers_page_through_the_models_with_limit_after_id_and_before_id() {
    let mut extra = String::new();
    for name in ["m-a", "m-b", "m-c", "m-d"] {
        extra.push_str(&format!("[models.\"{name}\"]\nprovider = \"up\"\n"));
    }
    let gw = TestGateway::start(&pattern_config("http://127.0.0.1:9", &extra));
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, v) = anthropic_models(&gw, "").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&v), ["claude-sonnet-4-5", "m-a", "m-b", "m-c", "m-d"]);
    assert_eq!(
        v["data"][0],
        json!({"type": "model", "id": "claude-sonnet-4-5", "display_name": "claude-sonnet-4-5",
               "created_at": "1970-01-01T00:00:00Z"})
    );
    assert_eq!(
        (&v["has_more"], &v["first_id"], &v["last_id"]),
        (&json!(false), &json!("claude-sonnet-4-5"), &json!("m-d"))
    );
    let (_, v) = anthropic_models(&gw, "?limit=2").await;
    assert_eq!(ids(&v), ["claude-sonnet-4-5", "m-a"]);
    assert_eq!(
        (&v["has_more"], &v["last_id"]),
        (&json!(true), &json!("m-a"))
    );
    let (_, v) = anthropic_models(&gw, "?limit=2&after_id=m-a").await;
    assert_eq!(ids(&v), ["m-b", "m-c"]);
    assert_eq!(v["has_more"], true);
    let (_, v) = anthropic_models(&gw, "?limit=2&after_id=m-c").await;
    assert_eq!(ids(&v), ["m-d"]);
    assert_eq!(v["has_more"], false);
    let (_, v) = anthropic_models(&gw, "?limit=2&before_id=m-c").await;
    assert_eq!(ids(&v), ["m-a", "m-b"]);
    assert_eq!(
        (&v["has_more"], &v["first_id"]),
        (&json!(true), &json!("m-a"))
    );
    let (_, v) = anthropic_models(&gw, "?after_id=zzz").await;
    assert_eq!(
        v,
        json!({"data": [], "has_more": false, "first_id": null, "last_id": null})
    );
    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=x",
        "?after_id=a&before_id=b",
    ] {
        let (status, v) = anthropic_models(&gw, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(v["type"], "error", "{bad}: in Anthropic's shape");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{bad}");
    }
    // OpenAI callers keep OpenAI's shape, unpaginated.
    let v: Value = client()
        .get(gw.url("/v1/models?limit=1"))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 5);
}

/// A request Claude Code 2.1.332 sent (captured from a real run): 12 tools
/// (one with `defer_loading`), `thinking` adaptive with `display: omitted`,
/// `context_management`, `output_config.effort`, `cache_control` on system
/// and message blocks (here with `ttl`, and on a tool too), a `system` turn
/// inside `messages`.
fn claude_code_request() -> Value {
    let mut req = request_fixture("messages/claude_code_2_1_332_request.json");
    // As Claude Code marks them with a 1-hour cache, and on a tool.
    req["system"][1]["cache_control"]["ttl"] = json!("1h");
    req["tools"][11]["cache_control"] = json!({"type": "ephemeral", "ttl": "1h"});
    req
}

/// What OpenAI's Chat Completions accepts at the top level (a stricter
/// upstream refuses anything else with a 400).
const OPENAI_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "reasoning_effort",
];

/// Members only Anthropic's (beta) API knows, that no other provider
/// accepts.
const BETA_ONLY: &[&str] = &[
    "\"cache_control\"",
    "\"context_management\"",
    "\"defer_loading\"",
    "\"output_config\"",
    "\"display\"",
    "\"thinking\"",
];

#[tokio::test]
async fn claude_codes_beta_fields_never_reach_other_providers_and_are_named() {
    for (kind, base, _, stream) in PROVIDERS {
        let (up, gw) = behind_fixture(kind, base, stream);
        let resp = client()
            .post(gw.url("/v1/messages?beta=true"))
            .header("x-api-key", "sk-test")
            .header("anthropic-version", "2023-06-01")
            .header(
                "anthropic-beta",
                "claude-code-20250219,context-management-2025-06-27",
            )
            .json(&claude_code_request())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{kind}");
        let named = resp
            .headers()
            .get("x-gateway-dropped-params")
            .map(|v| v.to_str().unwrap().to_owned());
        let _ = resp.text().await.unwrap();
        let sent = up.single();
        if kind == "anthropic" {
            // Passed through: every beta field and header kept.
            assert_eq!(named, None);
            let mut expected = claude_code_request();
            expected["model"] = json!("upstream-model");
            assert_eq!(sent.json(), expected);
            assert_eq!(
                sent.header("anthropic-beta"),
                Some("claude-code-20250219,context-management-2025-06-27")
            );
            continue;
        }
        let text = String::from_utf8_lossy(&sent.body).to_string();
        for beta in BETA_ONLY {
            assert!(!text.contains(beta), "{kind} got {beta}");
        }
        if kind == "openai" {
            let body = sent.json();
            for key in body.as_object().unwrap().keys() {
                assert!(OPENAI_FIELDS.contains(&key.as_str()), "{kind} got `{key}`");
            }
            // output_config.effort has an equivalent.
            assert_eq!(body["reasoning_effort"], "high");
        }
        let named = named.unwrap_or_else(|| panic!("{kind}: nothing named"));
        let named: Vec<&str> = named.split(',').collect();
        for want in [
            "context_management",
            "cache_control",
            "thinking",
            "tools[10].defer_loading",
        ] {
            assert!(named.contains(&want), "{kind}: {want} not in {named:?}");
        }
        assert!(!named.contains(&"output_config.effort"), "{named:?}");
    }
}

/// An OpenAI-format request marking five breakpoints the LiteLLM way: a
/// tool, a system part (1h), a user part, a tool result message and the
/// last user message.
fn marked_chat() -> Value {
    let eph = json!({"type": "ephemeral"});
    json!({
        "model": "m",
        "max_tokens": 100,
        "tools": [
            {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}},
             "cache_control": eph},
        ],
        "messages": [
            {"role": "system", "content": [
                {"type": "text", "text": "Long instructions.",
                 "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "A big document.", "cache_control": eph},
                {"type": "text", "text": "Question one?"}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "b", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "result", "cache_control": eph},
            {"role": "assistant", "content": "Answer one."},
            {"role": "user", "content": "Question two?", "cache_control": eph},
        ],
    })
}

/// Every `cache_control` in `v` with the path to it.
fn marks(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "cache_control" {
                    out.push((path.to_owned(), x.clone()));
                } else {
                    marks(x, &format!("{path}.{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                marks(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn openai_callers_cache_marks_become_anthropic_breakpoints_the_last_four_winning() {
    let (up, gw) = behind_fixture("anthropic", "/v1", "anthropic/response_text.json");
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &marked_chat())
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-gateway-dropped-params"],
        "cache_control",
        "the earliest of five is named"
    );
    let mut got = Vec::new();
    marks(&up.single().json(), "", &mut got);
    let eph = json!({"type": "ephemeral"});
    assert_eq!(
        got,
        [
            // The tool's mark, the earliest in prompt order, loses.
            (".messages[0].content[0]".to_owned(), eph.clone()),
            (".messages[2].content[0]".to_owned(), eph.clone()),
            (".messages[4].content[0]".to_owned(), eph.clone()),
            (
                ".system[0]".to_owned(),
                json!({"type": "ephemeral", "ttl": "1h"})
            ),
        ],
        "on the system part, the document, the tool result and the last user turn"
    );
    // Four or fewer: all kept, with their ttl.
    let mut body = marked_chat();
    let messages = body["messages"].as_array_mut().unwrap();
    messages.truncate(2);
    let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-gateway-dropped-params").is_none());
    let mut got = Vec::new();
    marks(&up.requests().pop().unwrap().json(), "", &mut got);
    assert_eq!(
        got,
        [
            (".messages[0].content[0]".to_owned(), eph.clone()),
            (
                ".system[0]".to_owned(),
                json!({"type": "ephemeral", "ttl": "1h"})
            ),
            (".tools[1]".to_owned(), eph),
        ]
    );
}

#[tokio::test]
async fn openai_callers_cache_marks_are_dropped_and_named_for_other_providers() {
    for (kind, base, whole, _) in PROVIDERS.iter().filter(|p| p.0 != "anthropic") {
        let (up, gw) = behind_fixture(kind, base, whole);
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &marked_chat())
            .await;
        assert_eq!(resp.status(), 200, "{kind}");
        assert_eq!(
            resp.headers()["x-gateway-dropped-params"],
            "cache_control",
            "{kind}"
        );
        let sent = up.single().json();
        let mut got = Vec::new();
        marks(&sent, "", &mut got);
        assert_eq!(got, [], "{kind}");
        if *kind == "openai" {
            // Relayed otherwise unchanged.
            let mut expected = marked_chat();
            let mut strip = |v: &mut Value| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("cache_control");
                }
            };
            for t in expected["tools"].as_array_mut().unwrap() {
                strip(t);
            }
            for m in expected["messages"].as_array_mut().unwrap() {
                strip(m);
                if let Some(parts) = m["content"].as_array_mut() {
                    parts.iter_mut().for_each(&mut strip);
                }
            }
            expected["model"] = json!("upstream-model");
            assert_eq!(sent, expected);
        }
    }
}

/// Each provider's answers reporting cache reads (and Anthropic's writes) in
/// its own fields: (kind, base, whole, stream, prompt tokens in OpenAI's
/// sense, reads, writes).
fn cache_answers() -> Vec<(&'static str, &'static str, String, String, u64, u64, u64)> {
    vec![
        (
            "openai",
            "/v1",
            fixture("openai/chat_completion.json")
                .replace(r#""cached_tokens": 0"#, r#""cached_tokens": 16"#),
            fixture("openai/chat_stream.sse")
                .replace(r#""cached_tokens":0"#, r#""cached_tokens":16"#),
            19,
            16,
            0,
        ),
        (
            "anthropic",
            "/v1",
            fixture("anthropic/response_cache_usage.json"),
            fixture("anthropic/stream_usage_deltas.sse"),
            10_221,
            9000,
            1200,
        ),
        (
            "gemini",
            "/v1beta",
            fixture("gemini/response_protocols_3_7.json").replace(
                r#""cachedContentTokenCount": 0"#,
                r#""cachedContentTokenCount": 32"#,
            ),
            fixture("gemini/stream_text.sse").replace(
                r#""promptTokenCount":8,"candidatesTokenCount":8"#,
                r#""promptTokenCount":40,"cachedContentTokenCount":32,"candidatesTokenCount":8"#,
            ),
            40,
            32,
            0,
        ),
    ]
}

#[tokio::test]
async fn cache_usage_reaches_each_caller_in_its_own_terms_whole_and_streamed_and_is_counted() {
    for (kind, base, whole, stream, prompt, read, write) in cache_answers() {
        let (_up, gw) = behind(kind, base, MockReply::json(whole));
        let v: Value = gw
            .post("/v1/chat/completions", "sk-test", &chat_body("m", false))
            .await
            .json()
            .await
            .unwrap();
        let u = &v["usage"];
        assert_eq!(
            u["prompt_tokens"], prompt,
            "{kind}: reads and writes included: {u}"
        );
        assert_eq!(
            u["prompt_tokens_details"]["cached_tokens"], read,
            "{kind}: {u}"
        );
        let written = &u["prompt_tokens_details"]["cache_write_tokens"];
        assert_eq!(written.as_u64().unwrap_or(0), write, "{kind}: {u}");
        let v: Value = messages(&gw, &messages_body("m", false))
            .await
            .json()
            .await
            .unwrap();
        let u = &v["usage"];
        assert_eq!(
            u["input_tokens"],
            prompt - read - write,
            "{kind}: reads and writes excluded: {u}"
        );
        assert_eq!(u["cache_read_input_tokens"], read, "{kind}: {u}");
        assert_eq!(u["cache_creation_input_tokens"], write, "{kind}: {u}");
        let d = [("api_key", "team-a"), ("model", "m"), ("provider", "up")];
        for (endpoint, n) in [("/v1/chat/completions", read), ("/v1/messages", read)] {
            let labels = |t| [d[0], d[1], d[2], ("endpoint", endpoint), ("type", t)];
            gw.expect_metric("llm_tokens_total", &labels("cache_read"), n as f64)
                .await;
            if write > 0 {
                gw.expect_metric("llm_tokens_total", &labels("cache_write"), write as f64)
                    .await;
            }
        }

        let (_up, gw) = behind(kind, base, MockReply::sse(&stream));
        let mut body = chat_body("m", true);
        body["stream_options"] = json!({"include_usage": true});
        let chunks =
            json_events(&sse_data(gw.post("/v1/chat/completions", "sk-test", &body).await).await);
        let u = &chunks.last().unwrap()["usage"];
        assert_eq!(u["prompt_tokens"], prompt, "{kind} stream: {u}");
        assert_eq!(
            u["prompt_tokens_details"]["cached_tokens"], read,
            "{kind} stream: {u}"
        );
        let events = json_events(&sse_data(messages(&gw, &messages_body("m", true)).await).await);
        let delta = events
            .iter()
            .rev()
            .find(|e| e["type"] == "message_delta")
            .unwrap();
        let start = &events[0]["message"]["usage"];
        let read_seen = delta["usage"]["cache_read_input_tokens"]
            .as_u64()
            .or(start["cache_read_input_tokens"].as_u64());
        assert_eq!(read_seen, Some(read), "{kind} stream: {events:?}");
        let labels = [
            d[0],
            d[1],
            d[2],
            ("endpoint", "/v1/messages"),
            ("type", "cache_read"),
        ];
        gw.expect_metric("llm_tokens_total", &labels, read as f64)
            .await;
    }
}

#[tokio::test]
async fn thousands_of_cache_marks_cost_no_more_than_the_last_few() {
    let (up, gw) = behind_fixture("anthropic", "/v1", "anthropic/response_text.json");
    let eph = json!({"type": "ephemeral"});
    let parts: Vec<Value> = (0..5000)
        .map(|i| json!({"type": "text", "text": format!("part {i}"), "cache_control": eph}))
        .collect();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": parts}]});
    let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-dropped-params"], "cache_control");
    let mut got = Vec::new();
    marks(&up.single().json(), "", &mut got);
    let at: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        at,
        [
            ".messages[0].content[4996]",
            ".messages[0].content[4997]",
            ".messages[0].content[4998]",
            ".messages[0].content[4999]",
        ]
    );
}
