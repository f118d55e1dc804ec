//! `/v1/responses` (the OpenAI Responses API) served by every provider type,
//! its store (`previous_response_id`, `GET /v1/responses/{id}`) and the
//! WebSocket refusal.

use crate::common::*;
use serde_json::{json, Value};

async fn post(gw: &TestGateway, key: &str, body: &Value) -> reqwest::Response {
    gw.post("/v1/responses", key, body).await
}

/// `(event name, data JSON)` of every event of a Responses stream, checking
/// that each name is its `type` and that sequence numbers rise from 0.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs: Vec<(String, Value)> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("an event: line in {e}"));
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect();
    for (n, (name, data)) in evs.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n as u64, "{name}");
    }
    evs
}

fn last(evs: &[(String, Value)]) -> (&str, &Value) {
    let (name, data) = evs.last().expect("events");
    (name.as_str(), data)
}

fn tools_request(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}],
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                  {"type": "web_search"}],
        "tool_choice": "auto", "max_output_tokens": 300, "prompt_cache_key": "pk-1",
        "store": false, "include": ["reasoning.encrypted_content"]})
}

#[tokio::test]
async fn openai_providers_get_chat_completions_and_the_caller_a_response_object() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_completion.json")),
    );
    let resp = post(&gw, "sk-test", &tools_request(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-gateway-dropped-params"],
        "tools[web_search]"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "m", "the name the caller asked for");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(body["usage"]["input_tokens"], 19);
    let got = up.single();
    assert_eq!(got.path, "/v1/chat/completions");
    let sent = got.json();
    assert_eq!(sent["model"], "upstream-model");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "Be brief."},
               {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}])
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["tools"].as_array().unwrap().len(), 1);
    assert_eq!(sent["max_completion_tokens"], 300);
    assert_eq!(sent["prompt_cache_key"], "pk-1");
    for gateway_only in ["store", "include", "input", "instructions"] {
        assert!(sent.get(gateway_only).is_none(), "{gateway_only} sent");
    }
}

#[tokio::test]
async fn openai_streams_become_response_events_ending_in_completed_with_usage() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::sse(&fixture("openai/chat_stream.sse")),
    );
    let evs = events(
        post(
            &gw,
            "sk-test",
            &json!({"model": "m", "input": "Hi", "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(evs[0].0, "response.created");
    assert_eq!(evs[1].0, "response.in_progress");
    let text: String = evs
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    let (name, done) = last(&evs);
    assert_eq!(name, "response.completed");
    assert_eq!(done["response"]["model"], "m");
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], text);
    assert!(done["response"]["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let sent = up.single().json();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn anthropic_tool_use_becomes_function_call_items_and_tool_outputs_tool_results() {
    let (up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::json(fixture("anthropic/response_tool_use.json")),
    );
    let resp = post(&gw, "sk-test", &tools_request(false)).await;
    assert_eq!(resp.status(), 200);
    let dropped = resp.headers()["x-gateway-dropped-params"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(dropped.contains("tools[web_search]"), "{dropped}");
    assert!(dropped.contains("prompt_cache_key"), "{dropped}");
    let body: Value = resp.json().await.unwrap();
    let call = body["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .expect("a function_call item")
        .clone();
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["call_id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 1800);
    let first = up.single().json();
    assert_eq!(first["system"][0]["text"], "Be brief.");
    assert!(first.get("prompt_cache_key").is_none());

    // The round trip: the call and its output go back as the next input.
    let mut next = tools_request(false);
    next["input"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18°C, sunny"}
    ]);
    assert_eq!(post(&gw, "sk-test", &next).await.status(), 200);
    let sent = up.requests()[1].json();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    assert_eq!(
        messages[1]["content"][0]["id"],
        "toolu_01A09q90qw90lq917835lq9"
    );
    assert_eq!(
        messages[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "18°C, sunny"})
    );
}

#[tokio::test]
async fn anthropic_thinking_streams_as_reasoning_summary_events() {
    let (_up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::sse(&fixture("anthropic/stream_thinking.sse")),
    );
    let body = json!({"model": "m", "input": "Think", "stream": true, "reasoning": {"effort": "low", "summary": "auto"}});
    let evs = events(post(&gw, "sk-test", &body).await).await;
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"response.reasoning_summary_text.delta"),
        "{names:?}"
    );
    let (name, done) = last(&evs);
    assert_eq!(name, "response.completed");
    let reasoning = &done["response"]["output"][0];
    assert_eq!(reasoning["type"], "reasoning");
    assert!(!reasoning["summary"][0]["text"].as_str().unwrap().is_empty());
    assert!(
        reasoning["encrypted_content"].is_string(),
        "the signed blocks"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_in_response_failed_never_completed() {
    let (_up, gw) = behind(
        "anthropic",
        "/v1",
        MockReply::sse(&fixture("anthropic/stream_cut_off.sse")),
    );
    let evs = events(
        post(
            &gw,
            "sk-test",
            &json!({"model": "m", "input": "Hi", "stream": true}),
        )
        .await,
    )
    .await;
    assert!(evs.iter().all(|(n, _)| n != "response.completed"));
    let (name, failed) = last(&evs);
    assert_eq!(name, "response.failed");
    assert_eq!(failed["response"]["status"], "failed");
    let error = &failed["response"]["error"];
    assert_eq!(error["code"], "server_error", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("ended"),
        "{error}"
    );
}

#[tokio::test]
async fn gemini_function_calls_and_streams_are_served() {
    let (up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::json(fixture("gemini/response_function_call.json")),
    );
    let body: Value = post(&gw, "sk-test", &tools_request(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["output"][0]["type"], "function_call");
    assert_eq!(body["output"][0]["name"], "get_weather");
    assert!(up.single().path.ends_with("upstream-model:generateContent"));

    let (_up, gw) = behind(
        "gemini",
        "/v1beta",
        MockReply::sse(&fixture("gemini/stream_text.sse")),
    );
    let evs = events(
        post(
            &gw,
            "sk-test",
            &json!({"model": "m", "input": "Hi", "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(last(&evs).0, "response.completed");
}

#[tokio::test]
async fn json_schema_formats_reach_the_provider_as_response_formats() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_json_schema.json")),
    );
    let schema =
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
    let body = json!({"model": "m", "input": "x",
        "text": {"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": true}}});
    let resp: Value = post(&gw, "sk-test", &body).await.json().await.unwrap();
    assert_eq!(resp["text"]["format"]["name"], "thing");
    assert_eq!(
        up.single().json()["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": true}})
    );
}

#[tokio::test]
async fn previous_response_id_continues_a_stored_conversation_and_get_returns_it() {
    let (up, gw) = behind(
        "openai",
        "/v1",
        MockReply::json(fixture("openai/chat_completion.json")),
    );
    let first: Value = post(
        &gw,
        "sk-test",
        &json!({"model": "m", "input": "My name is Ada."}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = first["id"].as_str().unwrap();
    let got = client()
        .get(gw.url(&format!("/v1/responses/{id}")))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.json::<Value>().await.unwrap(), first);

    let second = json!({"model": "m", "input": "What is my name?", "previous_response_id": id});
    let resp = post(&gw, "sk-test", &second).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["previous_response_id"],
        id
    );
    let sent = up.requests()[1].json();
    let answer = first["output"][0]["content"][0]["text"].clone();
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "My name is Ada."},
               {"role": "assistant", "content": answer},
               {"role": "user", "content": "What is my name?"}])
    );
}

#[tokio::test]
async fn unknown_unstored_and_foreign_responses_are_404_and_nothing_goes_upstream() {
    let up = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let config = provider_config("openai", &up.url("/v1"))
        + "\n[[api_keys]]\nkey = \"sk-other\"\nname = \"team-b\"\n";
    let gw = TestGateway::start(&config);
    let unstored: Value = post(
        &gw,
        "sk-test",
        &json!({"model": "m", "input": "x", "store": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    let stored: Value = post(&gw, "sk-test", &json!({"model": "m", "input": "x"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(up.requests().len(), 2);
    for (key, id) in [
        ("sk-test", unstored["id"].as_str().unwrap()),
        ("sk-other", stored["id"].as_str().unwrap()),
        ("sk-test", "resp_unknown"),
    ] {
        let resp = post(
            &gw,
            key,
            &json!({"model": "m", "input": "y", "previous_response_id": id}),
        )
        .await;
        assert_eq!(resp.status(), 404);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["param"], "previous_response_id");
        assert!(err["error"]["message"].as_str().unwrap().contains(id));
        let get = client()
            .get(gw.url(&format!("/v1/responses/{id}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 404);
    }
    assert_eq!(up.requests().len(), 2, "nothing more went upstream");
}

#[tokio::test]
async fn a_websocket_upgrade_is_426_so_clients_fall_back_to_http() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let resp = client()
        .get(gw.url("/v1/responses"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 426);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "websocket_not_supported");
}

#[tokio::test]
async fn errors_come_in_openai_shape_with_chat_statuses_and_are_counted() {
    let up = MockUpstream::start(|r| {
        if String::from_utf8_lossy(&r.body).contains("slow down") {
            MockReply::status_json(429, fixture("openai/error_429.json")).header("retry-after", "7")
        } else {
            MockReply::json(fixture("openai/chat_completion.json"))
        }
    });
    let gw = TestGateway::start(&provider_config("openai", &up.url("/v1")));
    let cases = [
        ("sk-wrong", json!({"model": "m", "input": "x"}), 401),
        ("sk-test", json!({"model": "nope", "input": "x"}), 404),
        ("sk-test", json!({"model": "m"}), 400),
        (
            "sk-test",
            json!({"model": "m", "input": "x", "background": true}),
            400,
        ),
        ("sk-test", json!({"model": "m", "input": "slow down"}), 429),
    ];
    for (key, body, status) in cases {
        let resp = post(&gw, key, &body).await;
        assert_eq!(resp.status(), status, "{body}");
        if status == 429 {
            assert_eq!(resp.headers()["retry-after"], "7");
        }
        let err: Value = resp.json().await.unwrap();
        assert!(err["error"]["message"].is_string(), "{err}");
        assert!(err["error"]["type"].is_string(), "{err}");
    }
    assert_eq!(
        post(&gw, "sk-test", &json!({"model": "m", "input": "x"}))
            .await
            .status(),
        200
    );
    let labels = [
        ("api_key", "team-a"),
        ("model", "m"),
        ("provider", "up"),
        ("endpoint", "/v1/responses"),
        ("status", "200"),
    ];
    gw.expect_metric("llm_requests_total", &labels, 1.0).await;
}

#[tokio::test]
async fn the_mock_provider_streams_responses() {
    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    let evs = events(
        post(
            &gw,
            "sk-test",
            &json!({"model": "demo", "input": "hello mock world", "stream": true}),
        )
        .await,
    )
    .await;
    let (name, done) = last(&evs);
    assert_eq!(name, "response.completed");
    assert_eq!(
        done["response"]["output"][0]["content"][0]["text"],
        "hello mock world"
    );
    assert_eq!(done["response"]["usage"]["output_tokens"], 3);
}

/// A provider marked `responses = true`, answering with `reply`.
fn native(reply: MockReply) -> (MockUpstream, TestGateway) {
    let up = MockUpstream::always(reply);
    let config = provider_config("openai", &up.url("/v1")) + "responses = true\n";
    (up, TestGateway::start(&config))
}

#[tokio::test]
async fn responses_providers_get_the_body_natively_and_answers_become_the_calls_own() {
    let (up, gw) = native(MockReply::json(fixture("openai/responses_text.json")));
    let body = json!({"model": "m", "input": "Tell a story", "tools": [{"type": "web_search"}],
        "include": ["reasoning.encrypted_content"], "store": true});
    let resp = post(&gw, "sk-test", &body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-gateway-dropped-params").is_none());
    let answer: Value = resp.json().await.unwrap();
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b");
    assert_eq!(answer["model"], "m");
    assert_eq!(
        answer["output"][0]["encrypted_content"],
        "gAAAAABoISQ24OyVRYbkYfukiQ_ALtWpvB2hr5qD"
    );
    let got = up.single();
    assert_eq!(got.path, "/v1/responses");
    let mut expected = body.clone();
    expected["model"] = json!("upstream-model");
    assert_eq!(
        got.json(),
        expected,
        "the caller's body, the model rewritten"
    );

    // Kept under the gateway's id; the next turn carries it, expanded.
    let next = json!({"model": "m", "input": "More", "previous_response_id": id});
    assert_eq!(post(&gw, "sk-test", &next).await.status(), 200);
    let sent = up.requests()[1].json();
    assert_eq!(sent["previous_response_id"], Value::Null);
    let input = sent["input"].as_array().unwrap();
    assert_eq!(input.len(), 4, "{input:?}");
    assert_eq!(input[2]["type"], "message");
    assert_eq!(input[3]["content"], "More");
}

#[tokio::test]
async fn responses_provider_streams_are_relayed_with_the_calls_id_and_model() {
    let (_up, gw) = native(MockReply::sse(&fixture("openai/responses_stream.sse")));
    let evs = events(
        post(
            &gw,
            "sk-test",
            &json!({"model": "m", "input": "Hi", "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(evs.len(), 9);
    let (name, done) = last(&evs);
    assert_eq!(name, "response.completed");
    let id = done["response"]["id"].as_str().unwrap();
    assert_eq!(evs[0].1["response"]["id"], id);
    assert_ne!(id, "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654");
    assert!(evs
        .iter()
        .filter_map(|(_, d)| d.get("response"))
        .all(|r| r["model"] == "m"));
    assert_eq!(done["response"]["usage"]["total_tokens"], 48);
    let got = client()
        .get(gw.url(&format!("/v1/responses/{id}")))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    assert_eq!(got.json::<Value>().await.unwrap(), done["response"]);
}

#[tokio::test]
async fn a_continued_conversation_is_bounded_by_the_body_limit() {
    let up = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let config = provider_config("openai", &up.url("/v1"))
        .replace("[server]\n", "[server]\nmax_body_bytes = 4096\n");
    let gw = TestGateway::start(&config);
    let first: Value = post(
        &gw,
        "sk-test",
        &json!({"model": "m", "input": "x".repeat(3000)}),
    )
    .await
    .json()
    .await
    .unwrap();
    let next =
        json!({"model": "m", "input": "y".repeat(1000), "previous_response_id": first["id"]});
    let resp = post(&gw, "sk-test", &next).await;
    assert_eq!(resp.status(), 413);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "request_too_large");
    assert_eq!(up.requests().len(), 1, "nothing more went upstream");
}

#[tokio::test]
async fn with_a_redis_limits_store_every_replica_finds_a_stored_response() {
    let redis = Redis::start();
    let up = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let config = provider_config("openai", &up.url("/v1"))
        + &format!(
            "[limits]\nstore = \"redis\"\nredis_url = \"{}\"\nstore_timeout_ms = 1000\n",
            redis.url()
        );
    let (a, b) = (TestGateway::start(&config), TestGateway::start(&config));
    let first: Value = post(
        &a,
        "sk-test",
        &json!({"model": "m", "input": "My name is Ada."}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = first["id"].as_str().unwrap();
    // Written in the background: wait (bounded) until it has landed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !redis.keys().iter().any(|k| k.ends_with(id)) {
        assert!(
            std::time::Instant::now() < deadline,
            "never stored in Redis"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let key = redis.keys().into_iter().find(|k| k.ends_with(id)).unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query(&mut redis.connection().unwrap())
        .unwrap();
    assert!((1..=86_400).contains(&ttl), "kept with the TTL: {ttl}");
    let next = json!({"model": "m", "input": "Who am I?", "previous_response_id": id});
    assert_eq!(post(&b, "sk-test", &next).await.status(), 200);
    let sent = up.requests()[1].json();
    assert_eq!(sent["messages"][0]["content"], "My name is Ada.");
    assert_eq!(sent["messages"][2]["content"], "Who am I?");
    let got = client()
        .get(b.url(&format!("/v1/responses/{id}")))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    assert_eq!(got.json::<Value>().await.unwrap(), first);
}
