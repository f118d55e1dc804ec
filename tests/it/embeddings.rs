//! `/v1/embeddings` through every provider type.

use crate::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn openai_providers_pass_embeddings_through_with_the_model_rewritten() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("embeddings/openai_response.json")),
    );
    let body = json!({"model": "m", "input": ["a", "b"], "encoding_format": "float", "dimensions": 8, "x_extra": 1});
    let resp = gw.post("/v1/embeddings", "sk-test", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        fixture("embeddings/openai_response.json")
    );
    let got = up.single();
    assert_eq!(got.path, "/v1/embeddings");
    let mut expected = body;
    expected["model"] = json!("upstream-model");
    assert_eq!(got.json(), expected);
    let fx: Value = serde_json::from_str(&fixture("embeddings/openai_response.json")).unwrap();
    let d = [
        ("api_key", "team-a"),
        ("model", "m"),
        ("provider", "up"),
        ("endpoint", "/v1/embeddings"),
        ("type", "input"),
    ];
    gw.expect_metric(
        "llm_tokens_total",
        &d,
        fx["usage"]["prompt_tokens"].as_f64().unwrap(),
    )
    .await;
}

#[tokio::test]
async fn gemini_embeddings_are_converted_to_batch_embed_contents_and_back() {
    let (up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::json(fixture("embeddings/gemini_batch_response.json")),
    );
    let body = json!({"model": "m", "input": ["one", "two", "three"], "dimensions": 8, "taskType": "RETRIEVAL_DOCUMENT"});
    let v: Value = gw
        .post("/v1/embeddings", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    let got = up.single();
    assert_eq!(got.path, "/v1beta/models/upstream-model:batchEmbedContents");
    assert_eq!(got.header("x-goog-api-key"), Some("sk-upstream-secret"));
    let sent = got.json();
    assert_eq!(sent["requests"].as_array().unwrap().len(), 3);
    assert_eq!(sent["requests"][1]["content"]["parts"][0]["text"], "two");
    assert_eq!(sent["requests"][0]["outputDimensionality"], 8);
    assert_eq!(sent["requests"][0]["taskType"], "RETRIEVAL_DOCUMENT");
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"][2]["index"], 2);
    assert!(
        v["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
        "an estimate where Gemini gives none"
    );

    let mut b64 = body.clone();
    b64["encoding_format"] = json!("base64");
    let v: Value = gw
        .post("/v1/embeddings", "sk-test", &b64)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["data"][0]["embedding"].is_string());
}

#[tokio::test]
async fn gemini_embedding_numbers_reach_the_caller_exactly_and_base64_stays_f32() {
    let numbers = "[-0.4013671875, 0.30000000000000004, 1.5e-7, 2]";
    let (_up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::json(format!(r#"{{"embeddings": [{{"values": {numbers}}}]}}"#)),
    );
    let body = json!({"model": "m", "input": "x", "encoding_format": "float"});
    let text = gw
        .post("/v1/embeddings", "sk-test", &body)
        .await
        .text()
        .await
        .unwrap();
    let sent = r#""embedding":[-0.4013671875,0.30000000000000004,1.5e-7,2]"#;
    assert!(text.contains(sent), "{text}");

    let mut b64 = body;
    b64["encoding_format"] = json!("base64");
    let v: Value = gw
        .post("/v1/embeddings", "sk-test", &b64)
        .await
        .json()
        .await
        .unwrap();
    let want: Vec<u8> = [-0.401_367_2_f32, 0.3, 1.5e-7, 2.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    use base64::Engine as _;
    let got = base64::engine::general_purpose::STANDARD
        .decode(v["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    assert_eq!(got, want);
}

#[tokio::test]
async fn anthropic_providers_refuse_embeddings_clearly_and_mock_vectors_are_deterministic() {
    let (up, gw) = behind("anthropic", "/v1", MockReply::json("{}"));
    let resp = gw
        .post(
            "/v1/embeddings",
            "sk-test",
            &json!({"model": "m", "input": "x"}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "embeddings_not_supported");
    assert!(up.requests().is_empty());

    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let body = json!({"model": "demo", "input": ["same", "other", "same"]});
    let v: Value = gw
        .post("/v1/embeddings", "sk-test", &body)
        .await
        .json()
        .await
        .unwrap();
    let d = v["data"].as_array().unwrap();
    assert_eq!(d[0]["embedding"], d[2]["embedding"]);
    assert_ne!(d[0]["embedding"], d[1]["embedding"]);
}

#[tokio::test]
async fn gemini_embedding_errors_map_like_chat() {
    let (_up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::status_json(400, fixture("gemini/error_400_api_key_invalid.json")),
    );
    let resp = gw
        .post(
            "/v1/embeddings",
            "sk-test",
            &json!({"model": "m", "input": "x"}),
        )
        .await;
    assert_eq!(resp.status(), 401);
    let resp = gw
        .post(
            "/v1/embeddings",
            "sk-test",
            &json!({"model": "m", "input": []}),
        )
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_400_never_quotes_the_callers_text() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let secret = "secret-prompt-text";
    for body in [
        json!({"model": "demo", "input": "x", "encoding_format": secret}),
        json!({"model": "demo", "input": "x", "dimensions": secret}),
        json!({"model": "demo", "input": [1, secret]}),
        json!({"model": ["demo", secret], "input": "x"}),
    ] {
        let resp = gw.post("/v1/embeddings", "sk-test", &body).await;
        assert_eq!(resp.status(), 400);
        let text = resp.text().await.unwrap();
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("Invalid request body: "), "{text}");
    }
}
