//! Every error case, in OpenAI's error shape with the right status.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.expect("JSON error body");
    let e = &v["error"];
    for key in ["message", "type", "param", "code"] {
        assert!(e.get(key).is_some(), "error body lacks `{key}`: {v}");
    }
    (status, v)
}

async fn raw_post(gw: &TestGateway, body: &'static str) -> reqwest::Response {
    client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("sk-test")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_and_missing_fields_are_400_saying_what_is_wrong() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    for (body, column) in [("{not json", 2), (r#"{"model":"gpt-4o","messages":["#, 30)] {
        let (s, v) = error_of(raw_post(&gw, body).await).await;
        assert_eq!(s, 400);
        assert_eq!(
            v["error"]["message"],
            format!("The request body is not valid JSON (line 1, column {column})."),
        );
    }
    let (s, v) = error_of(raw_post(&gw, r#"{"model":"gpt-4o"}"#).await).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `messages`"),
        "{v}"
    );
    let (s, v) =
        error_of(raw_post(&gw, r#"{"messages":[{"role":"user","content":"x"}]}"#).await).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `model`"),
        "{v}"
    );
    let (s, v) = error_of(raw_post(&gw, r#"{"model":"gpt-4o","messages":[]}"#).await).await;
    assert_eq!((s, v["error"]["param"].as_str()), (400, Some("messages")));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let gw = TestGateway::start(
        &openai_config("http://127.0.0.1:9", "")
            .replace("[server]\n", "[server]\nmax_body_bytes = 1000\n"),
    );
    let big = json!({"model": "demo", "messages": [{"role": "user", "content": "x".repeat(2000)}]});
    let (s, v) = error_of(gw.post("/v1/chat/completions", "sk-test", &big).await).await;
    assert_eq!(s, 413);
    assert_eq!(v["error"]["code"], "request_too_large");
}

#[tokio::test]
async fn a_head_over_the_limit_is_431_in_the_callers_shape() {
    let gw = TestGateway::start(
        &openai_config("http://127.0.0.1:9", "")
            .replace("[server]\n", "[server]\nmax_header_bytes = 2048\n"),
    );
    let send = |path: &'static str, filler: usize| {
        client()
            .post(gw.url(path))
            .bearer_auth("sk-test")
            .header("x-filler", "f".repeat(filler))
            .json(&json!({"model": "demo", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    assert_eq!(
        send("/v1/chat/completions", 1000).await.unwrap().status(),
        200
    );

    let resp = send("/v1/chat/completions", 3000).await.unwrap();
    assert_eq!(resp.headers()["connection"], "close");
    let (s, v) = error_of(resp).await;
    assert_eq!(s, 431);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "request_headers_too_large");

    let resp = send("/v1/messages", 3000).await.unwrap();
    assert_eq!(resp.status(), 431);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "request_too_large");

    // The default (64 KiB) is below actix's own 128 KiB, so the caller's
    // shape holds there too.
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("sk-test")
        .header("x-filler", "f".repeat(100_000))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    let (s, v) = error_of(resp).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (431, Some("request_headers_too_large"))
    );
}

#[tokio::test]
async fn an_unknown_model_is_404_model_not_found() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let body = json!({"model": "gpt-99", "messages": [{"role": "user", "content": "x"}]});
    let (s, v) = error_of(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
}

#[tokio::test]
async fn upstream_4xx_keep_their_status_and_message() {
    let up = MockUpstream::always(MockReply::status_json(
        400,
        fixture("openai/error_400.json"),
    ));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let (s, v) = error_of(
        gw.post("/v1/chat/completions", "sk-test", &chat(false))
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"],
        json!({"message": "Invalid value for 'temperature': expected a number between 0 and 2.",
               "type": "invalid_request_error", "param": "temperature", "code": "invalid_value"})
    );
}

#[tokio::test]
async fn an_upstream_401_never_shows_the_provider_key() {
    let up = MockUpstream::always(MockReply::status_json(
        401,
        r#"{"error":{"message":"Incorrect API key provided: sk-upstream-secret.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
    ));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &chat(false))
        .await;
    let (s, v) = error_of(resp).await;
    assert_eq!(s, 401);
    assert!(!v.to_string().contains("sk-upstream-secret"), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("openai"),
        "{v}"
    );
}

#[tokio::test]
async fn an_upstream_429_keeps_retry_after() {
    let up = MockUpstream::always(
        MockReply::status_json(429, fixture("openai/error_429.json")).header("retry-after", "2"),
    );
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &chat(false))
        .await;
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    let (s, v) = error_of(resp).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit reached"));
}

#[tokio::test]
async fn upstream_5xx_and_unreadable_answers_are_502() {
    let up = MockUpstream::always(MockReply::status_json(
        500,
        fixture("openai/error_500.json"),
    ));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let (s, v) = error_of(
        gw.post("/v1/chat/completions", "sk-test", &chat(false))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (502, Some("server_error"))
    );

    let up = MockUpstream::always(MockReply::json("<html>oops</html>"));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let (s, _) = error_of(
        gw.post("/v1/chat/completions", "sk-test", &chat(false))
            .await,
    )
    .await;
    assert_eq!(s, 502);
}

#[tokio::test]
async fn a_refused_connection_is_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let gw = TestGateway::start(&openai_config(&url, ""));
    let (s, v) = error_of(
        gw.post("/v1/chat/completions", "sk-test", &chat(false))
            .await,
    )
    .await;
    assert_eq!(s, 502);
    assert_eq!(v["error"]["message"], "the upstream could not be reached");
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_504() {
    let up = MockUpstream::always(MockReply {
        body: MockBody::Hang,
        ..MockReply::json("")
    });
    let gw = TestGateway::start(
        &openai_config(&up.url("/v1"), "").replace("timeout_seconds = 5", "timeout_seconds = 0.3"),
    );
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        gw.post("/v1/chat/completions", "sk-test", &chat(false)),
    )
    .await
    .expect("the gateway answers instead of hanging");
    let (s, _) = error_of(resp).await;
    assert_eq!(s, 504);
}

fn last_error_event(data: &[String]) -> Value {
    let last: Value = serde_json::from_str(data.last().expect("events")).expect("JSON event");
    assert!(
        last.get("error").is_some(),
        "last event is not an error: {last}"
    );
    last
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let up = MockUpstream::always(MockReply::sse_pieces(events[..2].to_vec()));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &chat(true))
            .await,
    )
    .await;
    assert_eq!(data.len(), 3, "{data:?}");
    let e = last_error_event(&data);
    assert_eq!(e["error"]["code"], "upstream_stream_incomplete");
    assert_eq!(e["error"]["type"], "server_error");
}

#[tokio::test]
async fn a_stream_that_goes_silent_ends_with_a_timeout_error_event() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let up = MockUpstream::always(MockReply {
        body: MockBody::ChunksThenHang(events[..2].to_vec()),
        ..MockReply::sse("")
    });
    let gw = TestGateway::start(&openai_config(
        &up.url("/v1"),
        "[routing]\nstream_idle_timeout_seconds = 0.3\n",
    ));
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &chat(true))
            .await,
    )
    .await;
    let e = last_error_event(&data);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("silent"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unknown_endpoint_is_404_in_openai_shape() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let resp = client().get(gw.url("/v1/nope")).send().await.unwrap();
    let (s, v) = error_of(resp).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("unknown_url")));
}

#[tokio::test]
async fn an_upstream_error_echoing_the_provider_key_in_any_field_never_shows_it() {
    let up = MockUpstream::always(MockReply::status_json(
        400,
        r#"{"error":{"message":"bad key sk-upstream-secret","type":"invalid_request_error","param":"x-sk-upstream-secret","code":"sk-upstream-secret"}}"#,
    ));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let (s, v) = error_of(
        gw.post("/v1/chat/completions", "sk-test", &chat(false))
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(!v.to_string().contains("sk-upstream-secret"), "{v}");
    assert_eq!(
        (&v["error"]["param"], &v["error"]["code"]),
        (&json!("x-***"), &json!("***"))
    );
}

#[tokio::test]
async fn an_upstream_error_is_passed_on_cut_to_a_bounded_size() {
    let long = "é".repeat(20_000);
    let body = json!({"error": {"message": long, "param": long, "code": long}});
    let up = MockUpstream::always(MockReply::status_json(400, body.to_string()));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let (s, v) = error_of(
        gw.post("/v1/chat/completions", "sk-test", &chat(false))
            .await,
    )
    .await;
    assert_eq!(s, 400);
    let chars = |f: &str| v["error"][f].as_str().unwrap().chars().count();
    assert_eq!(
        chars("message"),
        llm_gateway::error::MAX_UPSTREAM_MESSAGE + 1
    );
    assert_eq!(chars("param"), llm_gateway::error::MAX_UPSTREAM_FIELD + 1);
    assert_eq!(chars("code"), llm_gateway::error::MAX_UPSTREAM_FIELD + 1);
    assert!(v["error"]["message"].as_str().unwrap().ends_with("é…"));
}

#[tokio::test]
async fn a_mid_stream_upstream_error_echoing_the_provider_key_never_shows_it() {
    let mut events = split_events(&fixture("openai/chat_stream.sse"))[..2].to_vec();
    events.push("data: {\"error\":{\"message\":\"key sk-upstream-secret revoked\"}}\n\n".into());
    let up = MockUpstream::always(MockReply::sse_pieces(events));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &chat(true))
            .await,
    )
    .await;
    let e = last_error_event(&data);
    assert_eq!(e["error"]["message"], "key *** revoked", "{data:?}");
}

#[tokio::test]
async fn a_400_never_quotes_the_callers_text() {
    let (_up, gw) = behind("anthropic", "/v1", MockReply::json("{}"));
    let secret = "secret-prompt-text";
    for body in [
        json!({"model": "m", "messages": secret}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": secret}),
        // Past the routing fields, in the typed conversion to Anthropic.
        json!({"model": "m", "messages": [{"role": secret, "content": "x"}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": secret}),
    ] {
        let (s, v) = error_of(gw.post("/v1/chat/completions", "sk-test", &body).await).await;
        assert_eq!(s, 400, "{v}");
        assert!(!v.to_string().contains(secret), "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid request body: "),
            "{v}"
        );
    }
}

#[tokio::test]
async fn an_unknown_model_is_quoted_short_and_sanitised() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    for (model, quoted) in [
        ("x".repeat(1024 * 1024), format!("{}…", "x".repeat(64))),
        (
            "bad\r\nmodel\u{0}\u{202e}".to_owned(),
            "bad??model??".to_owned(),
        ),
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "x"}]});
        let resp = gw.post("/v1/chat/completions", "sk-test", &body).await;
        let (s, v) = error_of(resp).await;
        assert_eq!(s, 404);
        assert_eq!(
            v["error"]["message"],
            format!("The model `{quoted}` does not exist on this gateway.")
        );
    }
}
