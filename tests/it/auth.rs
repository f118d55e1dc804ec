//! Gateway keys: every way in and every way out.

use crate::common::*;
use serde_json::{json, Value};

fn body() -> Value {
    json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]})
}

async fn assert_401(resp: reqwest::Response) {
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {
            "message": "Invalid or missing API key. Send your gateway key as `Authorization: Bearer <key>`.",
            "type": "authentication_error", "param": null, "code": "invalid_api_key"}})
    );
}

#[tokio::test]
async fn bearer_and_x_api_key_are_both_accepted() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &body())
            .await
            .status(),
        200
    );
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .header("x-api-key", "sk-test")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn chat_with_authorization(gw: &TestGateway, value: &str) -> reqwest::Response {
    client()
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", value)
        .json(&body())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_bearer_scheme_is_required_and_matched_in_any_case() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    for value in ["bearer sk-test", "BEARER sk-test", "Bearer   sk-test "] {
        let resp = chat_with_authorization(&gw, value).await;
        assert_eq!(resp.status(), 200, "{value}");
    }
    for value in ["sk-test", "Basic sk-test", "Bearersk-test", "Bearer"] {
        assert_401(chat_with_authorization(&gw, value).await).await;
    }
}

#[tokio::test]
async fn missing_unknown_and_disabled_keys_get_the_same_401() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let missing = client()
        .post(gw.url("/v1/chat/completions"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_401(missing).await;
    assert_401(gw.post("/v1/chat/completions", "sk-nope", &body()).await).await;
    assert_401(
        gw.post("/v1/chat/completions", "sk-disabled", &body())
            .await,
    )
    .await;
    // A key that differs from a valid one only in its last character.
    assert_401(gw.post("/v1/chat/completions", "sk-tesT", &body()).await).await;
    let models = client().get(gw.url("/v1/models")).send().await.unwrap();
    assert_401(models).await;
}

#[tokio::test]
async fn health_and_ready_need_no_key() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let h = client().get(gw.url("/health")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let r = client().get(gw.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    gw.shared.set_ready(false);
    let r = client().get(gw.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn a_refused_key_keeps_the_connection_open() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let resp = gw.post("/v1/chat/completions", "sk-nope", &body()).await;
    assert_eq!(resp.status(), 401);
    assert_ne!(
        resp.headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close"),
        "the body was read, so keep-alive holds"
    );
}
