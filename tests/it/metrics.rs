//! `/metrics`: exact counters and label sets after real requests through
//! every provider type, success and each error class.

use crate::common::*;
use serde_json::{json, Value};

const CHAT: &str = "/v1/chat/completions";

fn dims<'a>(key: &'a str, model: &'a str, provider: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_key", key),
        ("model", model),
        ("provider", provider),
        ("endpoint", CHAT),
    ]
}

fn with<'a>(mut d: Vec<(&'a str, &'a str)>, k: &'a str, v: &'a str) -> Vec<(&'a str, &'a str)> {
    d.push((k, v));
    d
}

fn ask(model: &str, stream: bool, content: &str) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]})
}

#[tokio::test]
async fn openai_calls_are_counted_with_tokens_and_errors() {
    let up = MockUpstream::start(|r| {
        let body = String::from_utf8_lossy(&r.body).to_string();
        if body.contains("please fail") {
            MockReply::status_json(500, fixture("openai/error_500.json"))
        } else if body.contains("slow down") {
            MockReply::status_json(429, fixture("openai/error_429.json"))
        } else if body.contains("\"stream\":true") {
            MockReply::sse(&fixture("openai/chat_stream.sse"))
        } else {
            MockReply::json(fixture("openai/chat_completion.json"))
        }
    });
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    gw.post(CHAT, "sk-test", &ask("gpt-4o", false, "hi"))
        .await
        .text()
        .await
        .unwrap();
    gw.post(CHAT, "sk-test", &ask("gpt-4o", false, "hi"))
        .await
        .text()
        .await
        .unwrap();
    sse_data(gw.post(CHAT, "sk-test", &ask("gpt-4o", true, "hi")).await).await;
    gw.post(CHAT, "sk-test", &ask("gpt-4o", false, "please fail"))
        .await;
    gw.post(CHAT, "sk-test", &ask("gpt-4o", false, "slow down"))
        .await;

    let d = dims("team-a", "gpt-4o", "openai");
    gw.expect_metric("llm_requests_total", &with(d.clone(), "status", "200"), 3.0)
        .await;
    gw.expect_metric("llm_requests_total", &with(d.clone(), "status", "502"), 1.0)
        .await;
    gw.expect_metric("llm_requests_total", &with(d.clone(), "status", "429"), 1.0)
        .await;
    // 2 × 19 + 19 (the stream's usage, asked upstream although the caller did not).
    gw.expect_metric("llm_tokens_total", &with(d.clone(), "type", "input"), 57.0)
        .await;
    gw.expect_metric("llm_tokens_total", &with(d.clone(), "type", "output"), 22.0)
        .await;
    gw.expect_metric(
        "llm_errors_total",
        &with(d.clone(), "error_type", "upstream_5xx"),
        1.0,
    )
    .await;
    gw.expect_metric(
        "llm_errors_total",
        &with(d.clone(), "error_type", "rate_limit"),
        1.0,
    )
    .await;
    gw.expect_metric("llm_request_duration_seconds_count", &d, 5.0)
        .await;
    gw.expect_metric("llm_time_to_first_token_seconds_count", &d, 1.0)
        .await;
    gw.expect_metric(
        "llm_gateway_overhead_seconds_count",
        &[("provider", "openai"), ("endpoint", CHAT)],
        3.0, // the three calls that succeeded
    )
    .await;
    gw.expect_metric("llm_in_flight_requests", &[("provider", "openai")], 0.0)
        .await;
}

#[tokio::test]
async fn anthropic_and_gemini_streams_count_provider_usage_including_cache_reads() {
    let (_up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::sse(&fixture("anthropic/stream_usage_deltas.sse")),
    );
    sse_data(gw.post(CHAT, "sk-test", &ask("m", true, "hi")).await).await;
    let d = dims("team-a", "m", "up");
    gw.expect_metric("llm_requests_total", &with(d.clone(), "status", "200"), 1.0)
        .await;
    let text = gw.scrape().await;
    let cached = metric_value(
        &text,
        "llm_tokens_total",
        &with(d.clone(), "type", "cached_input"),
    );
    assert!(
        cached.is_some_and(|c| c > 0.0),
        "cache reads are counted:\n{text}"
    );

    let (_up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::sse(&fixture("gemini/stream_protocols_4_6.sse")),
    );
    sse_data(gw.post(CHAT, "sk-test", &ask("m", true, "hi")).await).await;
    // The last usageMetadata: prompt 40; candidates 18 + thoughts 37.
    gw.expect_metric("llm_tokens_total", &with(d.clone(), "type", "input"), 40.0)
        .await;
    gw.expect_metric("llm_tokens_total", &with(d.clone(), "type", "output"), 55.0)
        .await;
}

#[tokio::test]
async fn gateway_side_errors_are_classified() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let gw = TestGateway::start(&openai_config(&url, ""));
    gw.post(CHAT, "sk-nope", &ask("gpt-4o", false, "x")).await;
    gw.post(CHAT, "sk-test", &ask("no-such-model", false, "x"))
        .await;
    gw.post(CHAT, "sk-test", &json!({"model": "gpt-4o"})).await;
    gw.post(CHAT, "sk-test", &ask("gpt-4o", false, "x")).await;
    let unknown = dims("unknown", "unknown", "unknown");
    gw.expect_metric(
        "llm_errors_total",
        &with(unknown.clone(), "error_type", "auth"),
        1.0,
    )
    .await;
    let team_unknown = dims("team-a", "unknown", "unknown");
    gw.expect_metric(
        "llm_errors_total",
        &with(team_unknown.clone(), "error_type", "model_not_found"),
        1.0,
    )
    .await;
    gw.expect_metric(
        "llm_errors_total",
        &with(team_unknown, "error_type", "invalid_request"),
        1.0,
    )
    .await;
    let d = dims("team-a", "gpt-4o", "openai");
    gw.expect_metric(
        "llm_errors_total",
        &with(d.clone(), "error_type", "connection"),
        1.0,
    )
    .await;
    gw.expect_metric("llm_requests_total", &with(d, "status", "502"), 1.0)
        .await;
}

#[tokio::test]
async fn timeouts_and_abandoned_streams_are_classified() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let up = MockUpstream::start(move |r| {
        if String::from_utf8_lossy(&r.body).contains("\"stream\":true") {
            MockReply {
                body: MockBody::ChunksThenHang(events[..2].to_vec()),
                ..MockReply::sse("")
            }
        } else {
            MockReply {
                body: MockBody::Hang,
                ..MockReply::json("")
            }
        }
    });
    let gw = TestGateway::start(
        &openai_config(&up.url("/v1"), "").replace("timeout_seconds = 5", "timeout_seconds = 0.5"),
    );
    gw.post(CHAT, "sk-test", &ask("gpt-4o", false, "x")).await;
    let mut resp = gw.post(CHAT, "sk-test", &ask("gpt-4o", true, "x")).await;
    resp.chunk().await.unwrap();
    drop(resp);
    let d = dims("team-a", "gpt-4o", "openai");
    gw.expect_metric(
        "llm_errors_total",
        &with(d.clone(), "error_type", "timeout"),
        1.0,
    )
    .await;
    gw.expect_metric(
        "llm_errors_total",
        &with(d.clone(), "error_type", "client_closed"),
        1.0,
    )
    .await;
    // The abandoned stream keeps the 200 it was sent with.
    gw.expect_metric("llm_requests_total", &with(d, "status", "200"), 1.0)
        .await;
}

#[tokio::test]
async fn unknown_keys_and_models_cannot_add_label_values() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    for i in 0..20 {
        gw.post(CHAT, &format!("sk-attacker-{i}"), &ask("demo", false, "x"))
            .await;
        gw.post(
            CHAT,
            "sk-test",
            &ask(&format!("evil-model-{i}"), false, "x"),
        )
        .await;
        client()
            .get(gw.url(&format!("/v1/random-path-{i}")))
            .send()
            .await
            .unwrap();
    }
    let unknown = dims("unknown", "unknown", "unknown");
    gw.expect_metric(
        "llm_errors_total",
        &with(unknown, "error_type", "auth"),
        20.0,
    )
    .await;
    let text = gw.scrape().await;
    for bad in ["sk-attacker", "evil-model", "random-path", "sk-test"] {
        assert!(!text.contains(bad), "`{bad}` reached /metrics:\n{text}");
    }
    assert!(
        text.contains("endpoint=\"UNKNOWN\""),
        "unmatched paths are masked"
    );
}

#[tokio::test]
async fn unknown_methods_cannot_add_label_values() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    for i in 0..50 {
        let token = format!("X{i}{}", "M".repeat(1000));
        let method = reqwest::Method::from_bytes(token.as_bytes()).unwrap();
        let resp = client()
            .request(method, gw.url(CHAT))
            .bearer_auth("sk-test")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unknown_url");
    }
    let series = [("endpoint", CHAT), ("method", "OTHER"), ("status", "404")];
    gw.expect_metric("llm_gateway_http_requests_total", &series, 50.0)
        .await;
    let text = gw.scrape().await;
    assert!(!text.contains("MMMM"), "a method token reached /metrics");
}

#[tokio::test]
async fn key_hashes_are_published_only_when_asked_salted_and_never_the_key() {
    let salt = "per-deployment-salt-0123";
    let gw = TestGateway::start(&openai_config(
        "http://127.0.0.1:9",
        &format!("[metrics]\ninclude_api_key_hash = true\nkey_hash_salt = \"{salt}\"\n"),
    ));
    let salted = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt.as_bytes());
    let hash: String = ring::hmac::sign(&salted, b"sk-test").as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    gw.expect_metric(
        "llm_api_key_info",
        &[("api_key", "team-a"), ("key_hash", &hash)],
        1.0,
    )
    .await;
    // The unsalted SHA-256 prefix is what a weak key could be found from.
    use sha2::Digest;
    let unsalted: String = sha2::Sha256::digest(b"sk-test")[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = gw.scrape().await;
    assert!(
        !text.contains(&unsalted) && !text.contains("sk-test"),
        "{text}"
    );

    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    assert!(!gw.scrape().await.contains("llm_api_key_info{"));
}

#[test]
fn key_hashes_are_refused_without_a_long_enough_salt() {
    for extra in [
        "[metrics]\ninclude_api_key_hash = true\n",
        "[metrics]\ninclude_api_key_hash = true\nkey_hash_salt = \"short\"\n",
    ] {
        let err =
            llm_gateway::config::load::load_str(&openai_config("http://127.0.0.1:9", extra), "t")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("t: metrics.key_hash_salt: is required"),
            "{err}"
        );
        assert!(!err.contains("short"), "{err}");
    }
}

#[tokio::test]
async fn metrics_can_be_disabled_or_moved() {
    let gw = TestGateway::start(&openai_config(
        "http://127.0.0.1:9",
        "[metrics]\nenabled = false\n",
    ));
    let resp = client().get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    let gw = TestGateway::start(&openai_config(
        "http://127.0.0.1:9",
        "[metrics]\nendpoint = \"/internal/prom\"\n",
    ));
    gw.post(CHAT, "sk-test", &ask("demo", false, "x")).await;
    let text = client()
        .get(gw.url("/internal/prom"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("llm_gateway_http_requests_total"), "{text}");
}

#[tokio::test]
async fn the_overhead_header_is_sent() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let resp = gw.post(CHAT, "sk-test", &ask("demo", false, "x")).await;
    let v = resp
        .headers()
        .get("x-gateway-overhead-ms")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(v.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{v}");
}
