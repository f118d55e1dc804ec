//! Gemini's API (`/v1beta/models/{model}:generateContent`, …) served by
//! every provider type: Gemini upstreams get the caller's body relayed (the
//! model rewritten in the URL), OpenAI and Anthropic upstreams a converted
//! request; answers, streams (SSE and JSON array) and errors come back in
//! Gemini's shapes.

use crate::common::*;
use serde_json::{json, Value};

/// (provider type, base path, whole answer, stream answer, the answer's text)
fn upstreams() -> [(&'static str, &'static str, String, String, &'static str); 3] {
    [
        (
            "openai",
            "/v1",
            fixture("openai/chat_completion.json"),
            fixture("openai/chat_stream.sse"),
            "Hello! How can I assist you today?",
        ),
        (
            "anthropic",
            "/v1",
            fixture("anthropic/response_text.json"),
            fixture("anthropic/stream_thinking.sse"),
            "Hello! How can I help you today?",
        ),
        (
            "gemini",
            "/v1beta",
            fixture("gemini/response_protocols_3_7.json"),
            fixture("gemini/stream_text.sse"),
            "It is 18C and sunny.",
        ),
    ]
}

/// A mock upstream of `kind` answering whole or streamed requests.
fn start(kind: &str, base: &str, whole: String, stream: String) -> (MockUpstream, TestGateway) {
    let up = MockUpstream::start(move |r| {
        let streamed = r.path.contains(":streamGenerateContent")
            || serde_json::from_slice::<Value>(&r.body).is_ok_and(|b| b["stream"] == true);
        if streamed {
            MockReply::sse(&stream)
        } else {
            MockReply::json(whole.clone())
        }
    });
    let gw = TestGateway::start(&provider_config(kind, &up.url(base)));
    (up, gw)
}

fn chat_body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello."}]},
            {"role": "user", "parts": [{"text": "How are you?"}]}
        ],
        "generationConfig": {"temperature": 0.3, "topP": 0.9, "maxOutputTokens": 256,
                             "stopSequences": ["END"]},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    })
}

async fn post(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .header("x-goog-api-key", "sk-test")
        .json(body)
        .send()
        .await
        .expect("gateway answers")
}

/// The non-thought text of every candidate-0 part in `events`.
fn text_of(events: &[Value]) -> String {
    events
        .iter()
        .flat_map(|e| {
            e["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn generate_content_is_served_by_every_provider_type() {
    for (kind, base, whole, stream, text) in upstreams() {
        let (up, gw) = start(kind, base, whole, stream);
        let resp = post(&gw, "/v1beta/models/m:generateContent", &chat_body()).await;
        assert_eq!(resp.status(), 200, "{kind}");
        let dropped = resp
            .headers()
            .get("x-gateway-dropped-params")
            .map(|v| v.to_str().unwrap().to_owned());
        let v: Value = resp.json().await.unwrap();
        assert_eq!(text_of(std::slice::from_ref(&v)), text, "{kind}: {v}");
        assert_eq!(v["candidates"][0]["content"]["role"], "model", "{kind}");
        assert_eq!(v["candidates"][0]["finishReason"], "STOP", "{kind}");
        assert!(
            v["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0,
            "{kind}: {v}"
        );
        let sent = up.single();
        let body = sent.json();
        match kind {
            "gemini" => {
                assert_eq!(sent.path, "/v1beta/models/upstream-model:generateContent");
                assert_eq!(sent.header("x-goog-api-key"), Some("sk-upstream-secret"));
                // Relayed: the caller's own body, safety settings included.
                assert_eq!(body, chat_body());
                assert_eq!(dropped, None);
                assert_eq!(v["modelVersion"], "m", "the name the caller asked for");
                assert_eq!(
                    v["responseId"], "mQZ5aN2xB...",
                    "the rest as Gemini wrote it"
                );
            }
            "openai" => {
                assert_eq!(sent.path, "/v1/chat/completions");
                assert_eq!(body["model"], "upstream-model");
                assert_eq!(
                    body["messages"][0],
                    json!({"role": "system", "content": "You are terse."})
                );
                assert_eq!(
                    body["messages"][2],
                    json!({"role": "assistant", "content": "Hello."})
                );
                assert_eq!(body["temperature"], 0.3);
                assert_eq!(body["top_p"], 0.9);
                assert_eq!(body["max_tokens"], 256);
                assert_eq!(body["stop"], json!(["END"]));
                assert!(body.get("safetySettings").is_none());
                assert_eq!(dropped.as_deref(), Some("safetySettings"));
                assert_eq!(v["modelVersion"], "m", "the name the caller asked for");
            }
            _ => {
                assert_eq!(sent.path, "/v1/messages");
                assert_eq!(body["system"][0]["text"], "You are terse.");
                assert_eq!(body["messages"].as_array().unwrap().len(), 3);
                assert_eq!(body["max_tokens"], 256);
                assert_eq!(body["stop_sequences"], json!(["END"]));
                // Anthropic's own drop (top_p beside temperature) is named too.
                assert_eq!(dropped.as_deref(), Some("safetySettings,top_p"));
                assert_eq!(v["modelVersion"], "m");
            }
        }
    }
}

/// The events of a JSON-array stream body.
fn array_events(text: &str) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(text).expect("one JSON array")
}

#[tokio::test]
async fn streams_come_as_sse_with_alt_sse_and_as_one_json_array_without() {
    for (kind, base, whole, stream, _) in upstreams() {
        let (up, gw) = start(kind, base, whole, stream);
        let resp = post(
            &gw,
            "/v1beta/models/m:streamGenerateContent?alt=sse",
            &chat_body(),
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let data = sse_data(resp).await;
        assert!(
            !data.iter().any(|d| d == "[DONE]"),
            "{kind}: no [DONE] in Gemini streams"
        );
        let sse = json_events(&data);
        let resp = post(&gw, "/v1beta/models/m:streamGenerateContent", &chat_body()).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let array = array_events(&resp.text().await.unwrap());
        for events in [&sse, &array] {
            let stream_text = text_of(events);
            if kind == "anthropic" {
                assert!(stream_text.contains("12,231."), "{kind}: {stream_text}");
            } else if kind == "openai" {
                assert_eq!(stream_text, "Hello!");
            } else {
                assert!(
                    stream_text.starts_with("The capital of France"),
                    "{stream_text}"
                );
            }
            let finishes: Vec<_> = events
                .iter()
                .filter(|e| e["candidates"][0].get("finishReason").is_some())
                .collect();
            assert_eq!(finishes.len(), 1, "{kind}: one finishReason");
            assert!(events.iter().all(|e| e["modelVersion"] == "m"), "{kind}");
            let last = events.last().unwrap();
            assert_eq!(last["candidates"][0]["finishReason"], "STOP", "{kind}");
            assert!(
                last["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 0,
                "{kind}"
            );
        }
        let sent = up.requests();
        if kind == "gemini" {
            assert!(sent.iter().all(|r| r.path
                == "/v1beta/models/upstream-model:streamGenerateContent"
                && r.query == "alt=sse"));
        }
    }
}

fn tool_turns() -> Value {
    json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "call_abc", "name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "call_abc", "name": "get_weather", "response": {"output": "18C, sunny"}}}]}
        ],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]
    })
}

#[tokio::test]
async fn function_responses_reach_each_provider_as_tool_results_paired_by_id() {
    for (kind, base, whole, stream, _) in upstreams() {
        let (up, gw) = start(kind, base, whole, stream);
        let resp = post(&gw, "/v1beta/models/m:generateContent", &tool_turns()).await;
        assert_eq!(resp.status(), 200, "{kind}");
        let body = up.single().json();
        match kind {
            "openai" => {
                let m = &body["messages"];
                assert_eq!(m[1]["tool_calls"][0]["id"], "call_abc");
                assert_eq!(
                    m[1]["tool_calls"][0]["function"]["arguments"],
                    r#"{"city":"Paris"}"#
                );
                assert_eq!(
                    m[2],
                    json!({"role": "tool", "tool_call_id": "call_abc", "content": "18C, sunny"})
                );
                assert_eq!(
                    body["tools"][0]["function"]["parameters"],
                    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
                );
            }
            "anthropic" => {
                let m = &body["messages"];
                assert_eq!(m[1]["content"][0]["type"], "tool_use");
                assert_eq!(m[1]["content"][0]["id"], "call_abc");
                assert_eq!(m[2]["content"][0]["type"], "tool_result");
                assert_eq!(m[2]["content"][0]["tool_use_id"], "call_abc");
                assert_eq!(
                    body["tools"][0]["input_schema"]["properties"]["city"]["type"],
                    "string"
                );
            }
            _ => assert_eq!(body, tool_turns()),
        }
    }
}

#[tokio::test]
async fn a_function_call_comes_back_with_its_name_args_and_id() {
    let (_up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_tool_call.json")),
    );
    let mut body = tool_turns();
    body["contents"] = json!([{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]);
    let v: Value = post(&gw, "/v1beta/models/m:generateContent", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"id": "call_9mHq2VdXo3LkP7rTbN4sWc1E", "name": "get_weather", "args": {"city": "Paris"}})
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn mode_any_with_one_allowed_name_forces_that_tool() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_tool_call.json")),
    );
    let mut body = tool_turns();
    body["contents"] = json!([{"role": "user", "parts": [{"text": "Weather?"}]}]);
    body["tools"][0]["functionDeclarations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}}}));
    body["toolConfig"] =
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}});
    assert_eq!(
        post(&gw, "/v1beta/models/m:generateContent", &body)
            .await
            .status(),
        200
    );
    let sent = up.single().json();
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    assert_eq!(
        sent["tools"].as_array().unwrap().len(),
        1,
        "only the allowed tool"
    );
}

#[tokio::test]
async fn json_output_with_a_schema_and_an_inline_image_convert() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_json_schema.json")),
    );
    let body = json!({
        "contents": [{"role": "user", "parts": [
            {"text": "What is in the picture?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}],
        "generationConfig": {"responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"thing": {"type": "STRING"}}}}
    });
    assert_eq!(
        post(&gw, "/v1beta/models/m:generateContent", &body)
            .await
            .status(),
        200
    );
    let sent = up.single().json();
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}})
    );
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"],
        json!({"type": "object", "properties": {"thing": {"type": "string"}}})
    );
}

#[tokio::test]
async fn file_data_is_a_clear_400_for_providers_that_cannot_read_it() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_completion.json")),
    );
    let body = json!({"contents": [{"role": "user", "parts": [
        {"fileData": {"mimeType": "application/pdf", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]});
    let resp = post(&gw, "/v1beta/models/m:generateContent", &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inlineData"),
        "{v}"
    );
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn errors_come_in_geminis_shape_with_the_right_status() {
    let up = MockUpstream::always(
        MockReply::status_json(429, fixture("openai/error_429.json")).header("retry-after", "7"),
    );
    let gw = TestGateway::start(&provider_config("openai", &up.url("/v1")));
    let cases = [
        (
            "/v1beta/models/nope:generateContent",
            chat_body(),
            404,
            "NOT_FOUND",
        ),
        (
            "/v1beta/models/m:generateContent",
            json!({"contents": "x"}),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            "/v1beta/models/m:generateContent",
            json!({"contents": []}),
            400,
            "INVALID_ARGUMENT",
        ),
        ("/v1beta/models/m:predict", chat_body(), 404, "NOT_FOUND"),
        (
            "/v1beta/models/m:generateContent",
            chat_body(),
            429,
            "RESOURCE_EXHAUSTED",
        ),
    ];
    for (path, body, status, name) in cases {
        let resp = post(&gw, path, &body).await;
        assert_eq!(resp.status(), status, "{path}");
        if status == 429 {
            assert_eq!(resp.headers()["retry-after"], "7");
        }
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], status, "{v}");
        assert_eq!(v["error"]["status"], name, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn the_key_may_come_in_any_of_geminis_three_places_and_refusals_are_alike() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let url = gw.url("/v1beta/models/demo:generateContent");
    let body = json!({"contents": [{"parts": [{"text": "hi"}]}]});
    let c = client();
    let accepted = [
        c.post(&url).header("x-goog-api-key", "sk-test"),
        c.post(format!("{url}?key=sk-test")),
        c.post(&url).bearer_auth("sk-test"),
    ];
    for r in accepted {
        assert_eq!(r.json(&body).send().await.unwrap().status(), 200);
    }
    let refused = [
        c.post(&url),
        c.post(&url).header("x-goog-api-key", "sk-unknown"),
        c.post(format!("{url}?key=sk-disabled")),
    ];
    let mut bodies = Vec::new();
    for r in refused {
        let resp = r.json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        bodies.push(resp.json::<Value>().await.unwrap());
    }
    assert_eq!(bodies[0]["error"]["status"], "UNAUTHENTICATED");
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    // `?key=` is Gemini's only: other routes do not read it.
    let other = c
        .post(gw.url("/v1/chat/completions?key=sk-test"))
        .json(&json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
}

#[tokio::test]
async fn count_tokens_is_relayed_to_gemini_and_estimated_elsewhere() {
    let up = MockUpstream::always(MockReply::json(r#"{"totalTokens": 31}"#));
    let gw = TestGateway::start(&provider_config("gemini", &up.url("/v1beta")));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Hello there, how are you today?"}]}]});
    let v: Value = post(&gw, "/v1beta/models/m:countTokens", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"totalTokens": 31}));
    assert_eq!(
        up.single().path,
        "/v1beta/models/upstream-model:countTokens"
    );

    let (up, gw) = behind("openai", "/v1", MockReply::json("{}"));
    let v: Value = post(&gw, "/v1beta/models/m:countTokens", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["totalTokens"], 12,
        "ceil(31 bytes / 4) + 4 for the message"
    );
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn models_are_listed_and_got_in_geminis_shape() {
    let gw = TestGateway::start(&openai_config(
        "http://127.0.0.1:9",
        "[[api_keys]]\nkey = \"sk-narrow\"\nname = \"narrow\"\nmodels = [\"demo\"]\n",
    ));
    let get = |path: &str, key: &str| {
        client()
            .get(gw.url(path))
            .header("x-goog-api-key", key)
            .send()
    };
    let v: Value = get("/v1beta/models", "sk-test")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["models/demo", "models/gpt-4o"]);
    let narrow: Value = get("/v1beta/models", "sk-narrow")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(narrow["models"].as_array().unwrap().len(), 1);
    let one: Value = get("/v1beta/models/demo", "sk-test")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "models/demo");
    assert!(one["supportedGenerationMethods"]
        .as_array()
        .unwrap()
        .contains(&json!("generateContent")));
    assert!(one["inputTokenLimit"].as_u64().unwrap() > 0);
    let v1: Value = get("/v1/models/demo", "sk-test")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1, one, "Gemini's v1 with its key header");
    let openai: Value = client()
        .get(gw.url("/v1/models/demo"))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        openai,
        json!({"id": "demo", "object": "model", "created": 0, "owned_by": "mock"})
    );
    let hidden = get("/v1beta/models/gpt-4o", "sk-narrow").await.unwrap();
    assert_eq!(hidden.status(), 404);
    assert_eq!(
        hidden.json::<Value>().await.unwrap()["error"]["status"],
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn gemini_calls_are_counted_under_templated_endpoints() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let body = json!({"contents": [{"parts": [{"text": "hi"}]}]});
    assert_eq!(
        post(&gw, "/v1beta/models/demo:generateContent", &body)
            .await
            .status(),
        200
    );
    gw.expect_metric(
        "llm_requests_total",
        &[
            ("api_key", "team-a"),
            ("model", "demo"),
            ("provider", "mock"),
            ("endpoint", "/v1beta/models/{model}:generateContent"),
            ("status", "200"),
        ],
        1.0,
    )
    .await;
    let text = gw.scrape().await;
    assert!(
        !text.contains("/v1beta/models/demo"),
        "raw model paths never label a metric"
    );
}

#[tokio::test]
async fn embed_content_and_batches_are_served_by_gemini_openai_and_the_mock() {
    let single = json!({"model": "models/m", "content": {"parts": [{"text": "Hello world"}]},
        "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 2});
    let batch = json!({"requests": [
        {"model": "models/m", "content": {"parts": [{"text": "a"}]}},
        {"model": "models/m", "content": {"parts": [{"text": "b"}]}}]});

    let up = MockUpstream::start(|r| {
        let n = r.json()["requests"].as_array().map_or(0, Vec::len);
        let e: Vec<Value> = (0..n).map(|i| json!({"values": [0.125, i]})).collect();
        MockReply::json(json!({"embeddings": e}).to_string())
    });
    let gw = TestGateway::start(&provider_config("gemini", &up.url("/v1beta")));
    let v: Value = post(&gw, "/v1beta/models/m:embedContent", &single)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"embedding": {"values": [0.125, 0]}}));
    let sent = up.requests()[0].clone();
    assert_eq!(
        sent.path,
        "/v1beta/models/upstream-model:batchEmbedContents"
    );
    assert_eq!(
        sent.json()["requests"][0],
        json!({"model": "models/upstream-model", "content": {"parts": [{"text": "Hello world"}]},
               "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 2})
    );
    let v: Value = post(&gw, "/v1beta/models/m:batchEmbedContents", &batch)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        json!({"embeddings": [{"values": [0.125, 0]}, {"values": [0.125, 1]}]})
    );

    let up = MockUpstream::always(MockReply::json(
        r#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5]},{"object":"embedding","index":0,"embedding":[0.25]}],"model":"e","usage":{"prompt_tokens":2,"total_tokens":2}}"#,
    ));
    let gw = TestGateway::start(&provider_config("openai", &up.url("/v1")));
    let resp = post(&gw, "/v1beta/models/m:batchEmbedContents", &batch).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-gateway-dropped-params").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"embeddings": [{"values": [0.25]}, {"values": [0.5]}]})
    );
    let sent = up.single();
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(
        sent.json(),
        json!({"model": "upstream-model", "input": ["a", "b"], "encoding_format": "float"})
    );

    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let v: Value = post(&gw, "/v1beta/models/demo:embedContent", &single)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 2);

    let (up, gw) = behind("anthropic", "/v1", MockReply::json("{}"));
    let resp = post(&gw, "/v1beta/models/m:embedContent", &single).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn a_mid_stream_error_is_the_json_arrays_last_element() {
    let (_up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::sse(&fixture("gemini/stream_error.sse")),
    );
    let resp = post(&gw, "/v1beta/models/m:streamGenerateContent", &chat_body()).await;
    assert_eq!(resp.status(), 200);
    let events = array_events(&resp.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last["error"]["status"], "UNAVAILABLE", "{last}");
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| e.get("candidates").is_some()));
}

#[tokio::test]
async fn a_model_outside_the_keys_allow_list_is_permission_denied() {
    let gw = TestGateway::start(&openai_config(
        "http://127.0.0.1:9",
        "[[api_keys]]\nkey = \"sk-narrow\"\nname = \"narrow\"\nmodels = [\"demo\"]\n",
    ));
    let resp = client()
        .post(gw.url("/v1beta/models/gpt-4o:generateContent"))
        .header("x-goog-api-key", "sk-narrow")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "PERMISSION_DENIED");
}
