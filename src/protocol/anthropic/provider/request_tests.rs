//! Tests of the module `request`.

use super::super::tests::damaged;
use super::*;
use serde_json::json;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/",
            $name
        ))
    };
}

const WORKED_IN: &str = fixture!("chat_request_worked_example.json");
const WORKED_OUT: &str = fixture!("messages_request_worked_example.json");
const AGENT_LOOP: &str = fixture!("chat_request_agent_loop.json");
const JSON_SCHEMA: &str = fixture!("chat_request_json_schema.json");
const REQUESTS: &[&str] = &[WORKED_IN, AGENT_LOOP, JSON_SCHEMA];

const OPTS: RequestOptions<'static> = RequestOptions {
    api_model: "claude-sonnet-4-5",
    default_max_tokens: 4096,
};

struct Out {
    body: Value,
    dropped: Vec<String>,
    ctx: ResponseContext,
}

fn try_convert(req: Value) -> Result<Out, Error> {
    let req: ChatRequest = serde_json::from_value(req).unwrap();
    to_anthropic(&req, &OPTS).map(|c| Out {
        body: serde_json::from_slice(&c.body).unwrap(),
        dropped: c.dropped,
        ctx: c.ctx,
    })
}

fn convert(req: Value) -> Out {
    let out = try_convert(req).unwrap();
    check_invariants(&out.body);
    out
}

/// A request with these messages and extra top-level fields.
fn request(messages: Value, extra: Value) -> Value {
    let mut req = json!({"model": "claude-sonnet-4-5", "messages": messages});
    if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    req
}

fn hi() -> Value {
    json!([{"role": "user", "content": "hi"}])
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_id_char)
}

/// What Anthropic requires of every request (§2.3, §2.4, E1, E3, E4, E6,
/// E7, E13, E14, E25).
fn check_invariants(body: &Value) {
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "user", "{body}");
    for pair in msgs.windows(2) {
        assert_ne!(pair[0]["role"], pair[1]["role"], "{body}");
    }
    let blank = |b: &Value| b["type"] == "text" && b["text"].as_str().unwrap().trim().is_empty();
    for b in body["system"].as_array().into_iter().flatten() {
        assert!(!blank(b), "{body}");
    }
    for m in msgs {
        let blocks = m["content"].as_array().unwrap();
        assert!(!blocks.is_empty(), "{body}");
        let mut seen_other = false;
        for b in blocks {
            assert!(!blank(b), "{body}");
            match b["type"].as_str().unwrap() {
                "tool_use" => {
                    assert!(valid_id(b["id"].as_str().unwrap()), "{body}");
                    assert!(b["input"].is_object(), "{body}");
                }
                "tool_result" => {
                    assert!(valid_id(b["tool_use_id"].as_str().unwrap()), "{body}");
                    assert!(!seen_other, "tool_result after other blocks: {body}");
                }
                _ => seen_other = true,
            }
        }
    }
    assert!(
        body.get("temperature").is_none() || body.get("top_p").is_none(),
        "{body}"
    );
    for s in body["stop_sequences"].as_array().into_iter().flatten() {
        assert!(!s.as_str().unwrap().trim().is_empty(), "{body}");
    }
    if let Some(stop) = body.get("stop_sequences") {
        assert!(!stop.as_array().unwrap().is_empty(), "{body}");
    }
    for t in body["tools"].as_array().into_iter().flatten() {
        let name = t["name"].as_str().unwrap();
        assert!(valid_id(name) && name.len() <= 64, "{body}");
        assert_eq!(t["input_schema"]["type"], "object", "{body}");
    }
    if let Some(thinking) = body.get("thinking") {
        let budget = thinking["budget_tokens"].as_u64().unwrap();
        assert!(budget >= 1024, "{body}");
        assert!(body["max_tokens"].as_u64().unwrap() > budget, "{body}");
        for k in ["temperature", "top_p", "top_k"] {
            assert!(body.get(k).is_none(), "{body}");
        }
        let choice = body["tool_choice"]["type"].as_str().unwrap_or("auto");
        assert!(choice == "auto" || choice == "none", "{body}");
    }
}

#[test]
fn worked_example_4_1_converts_verbatim() {
    let out = convert(serde_json::from_str(WORKED_IN).unwrap());
    let want: Value = serde_json::from_str(WORKED_OUT).unwrap();
    assert_eq!(out.body, want);
    assert!(out.dropped.is_empty());
    assert_eq!(out.ctx, ResponseContext::default());
}

#[test]
fn agent_loop_fixture_converts() {
    let out = convert(serde_json::from_str(AGENT_LOOP).unwrap());
    let b = &out.body;
    assert_eq!(
        b["system"],
        json!([{"type": "text", "text": "You are a travel assistant."},
               {"type": "text", "text": "Prefer metric units."}])
    );
    assert_eq!(
        b["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(b["max_tokens"], 2048 + 1024);
    assert_eq!(b["stream"], true);
    assert_eq!(b["metadata"], json!({"user_id": "user-7f3a"}));
    assert!(b.get("stop_sequences").is_none());
    assert_eq!(b["tool_choice"], json!({"type": "auto"}));
    let clock = tool_name("mcp.clock.now").into_owned();
    assert_eq!(
        out.ctx.tool_names,
        [(clock.clone(), "mcp.clock.now".to_owned())]
    );
    assert_eq!(b["tools"][1]["name"], clock);
    assert_eq!(
        b["tools"][1]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
    let weather_id = tool_id("functions.get_weather:0").into_owned();
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "What's the weather where this photo was taken, and what time is it there?"},
                {"type": "image", "source": {"type": "url", "url": "https://upload.example.com/photos/eiffel.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQKJcfsj6IK"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "The photo shows the Eiffel Tower, so Paris.", "signature": "EqQBCkgIARABGAIiQGm7Vx2kLq9"},
                {"type": "tool_use", "id": weather_id, "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_Zq8Xn3Lp2Vb", "name": clock, "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": weather_id, "content": "{\"temp_c\": 18, \"sky\": \"overcast\"}"},
                {"type": "tool_result", "tool_use_id": "call_Zq8Xn3Lp2Vb", "content": [{"type": "text", "text": "14:05 CEST"}]},
                {"type": "text", "text": "Thanks! Keep it short."}]}
        ])
    );
    let mut dropped = out.dropped.clone();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "logprobs",
            "seed",
            "temperature",
            "tools[].function.strict",
            "top_p"
        ]
    );
}

#[test]
fn json_schema_fixture_uses_a_forced_tool_and_drops_the_prefill() {
    let out = convert(serde_json::from_str(JSON_SCHEMA).unwrap());
    let b = &out.body;
    assert_eq!(b["tools"][0]["name"], "json_response");
    assert_eq!(
        b["tools"][0]["input_schema"]["required"],
        json!(["name", "born"])
    );
    assert_eq!(
        b["tool_choice"],
        json!({"type": "tool", "name": "json_response"})
    );
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Ada Lovelace was born in 1815 in London."}]}])
    );
    assert_eq!(out.ctx.json_tool.as_deref(), Some("json_response"));
    assert_eq!(out.ctx.prefill, None);
    assert_eq!(
        out.dropped,
        [
            "presence_penalty",
            "frequency_penalty",
            "response_format.json_schema.strict"
        ]
    );
}

#[test]
fn empty_text_blocks_are_dropped_e1() {
    let out = convert(request(
        json!([
            {"role": "system", "content": "   "},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Weather?"}]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "assistant", "content": [{"type": "text", "text": " \n"}], "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_2", "content": ""},
            {"role": "user", "content": "\t"}
        ]),
        json!({}),
    ));
    assert!(out.body.get("system").is_none());
    assert_eq!(
        out.body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_2", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_2"}]}
        ])
    );
}

#[test]
fn consecutive_tool_messages_merge_into_one_user_turn_e3() {
    let out = convert(request(
        json!([
            {"role": "user", "content": "Paris and Tokyo?"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Tokyo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_b", "content": "25C"}
        ]),
        json!({}),
    ));
    let msgs = out.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "25C"}]})
    );
}

#[test]
fn tool_results_come_before_user_text_e4() {
    let call = json!({"role": "assistant", "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{}"}}]});
    let result = json!({"role": "tool", "tool_call_id": "call_a", "content": "18C"});
    let text = json!({"role": "user", "content": "And now?"});
    let want = json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
        {"type": "text", "text": "And now?"}]});
    // Tool result then text, and text sent before the tool result.
    for tail in [json!([result, text]), json!([text, result])] {
        let mut msgs = vec![json!({"role": "user", "content": "Weather?"}), call.clone()];
        msgs.extend(tail.as_array().unwrap().iter().cloned());
        let out = convert(request(Value::Array(msgs), json!({})));
        assert_eq!(out.body["messages"][2], want);
    }
}

#[test]
fn conversation_is_made_to_start_with_a_user_turn_e6() {
    let table = [
        (
            "assistant first",
            json!([{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Hi"}]),
            json!([
                {"role": "user", "content": [{"type": "text", "text": "."}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]),
        ),
        (
            "system only",
            json!([{"role": "system", "content": "Say hi."}]),
            json!([{"role": "user", "content": [{"type": "text", "text": "."}]}]),
        ),
        (
            "only blank user text",
            json!([{"role": "user", "content": " "}]),
            json!([{"role": "user", "content": [{"type": "text", "text": "."}]}]),
        ),
    ];
    for (name, msgs, want) in table {
        let out = convert(request(msgs, json!({})));
        assert_eq!(out.body["messages"], want, "{name}");
    }
}

#[test]
fn same_role_runs_are_merged_e6() {
    let out = convert(request(
        json!([
            {"role": "user", "content": "a"},
            {"role": "system", "content": "s"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": "d"},
            {"role": "user", "content": "e"}
        ]),
        json!({}),
    ));
    assert_eq!(
        out.body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
            {"role": "user", "content": [{"type": "text", "text": "e"}]}
        ])
    );
    assert_eq!(out.body["system"], json!([{"type": "text", "text": "s"}]));
}

#[test]
fn tool_call_ids_are_sanitised_the_same_way_on_both_sides_e7() {
    let table = [
        ("call_abc-123", true),
        ("toolu_01A09q90qw90lq917835lq9", true),
        ("functions.Bash:0", false),
        ("call|1", false),
        ("c2lnbmF0dXJl+/==", false),
        ("", false),
        ("émoji🙂", false),
    ];
    let mut seen = Vec::new();
    for (id, valid) in table {
        let out = convert(request(
            json!([
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [
                    {"id": id, "type": "function", "function": {"name": "t", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": id, "content": "ok"}
            ]),
            json!({}),
        ));
        let used = out.body["messages"][1]["content"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            out.body["messages"][2]["content"][0]["tool_use_id"], used,
            "{id}"
        );
        assert!(valid_id(&used), "{id} -> {used}");
        assert_eq!(used == id, valid, "{id} -> {used}");
        assert_eq!(tool_id(id), used, "deterministic: {id}");
        assert!(!seen.contains(&used), "collision: {id}");
        seen.push(used);
    }
    // Ids that differ only in the replaced characters stay distinct.
    assert_ne!(tool_id("a.b"), tool_id("a:b"));
}

#[test]
fn invalid_tool_names_are_renamed_consistently() {
    let long = "x".repeat(80);
    for name in ["mcp.clock.now", long.as_str(), "a b"] {
        let out = convert(request(
            json!([
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": name, "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}
            ]),
            json!({
                "tools": [{"type": "function", "function": {"name": name}}],
                "tool_choice": {"type": "function", "function": {"name": name}}
            }),
        ));
        let sent = out.body["tools"][0]["name"].as_str().unwrap();
        assert_eq!(
            out.body["messages"][1]["content"][0]["name"], sent,
            "{name}"
        );
        assert_eq!(out.body["tool_choice"]["name"], sent, "{name}");
        assert_eq!(out.ctx.tool_names, [(sent.to_owned(), name.to_owned())]);
    }
}

#[test]
fn tool_arguments_become_input_objects() {
    let table = [
        ("", json!({})),
        ("  ", json!({})),
        ("null", json!({})),
        (
            "{\"a\": [1, {\"b\": null}]}",
            json!({"a": [1, {"b": null}]}),
        ),
    ];
    for (args, want) in table {
        let out = convert(request(
            json!([{"role": "user", "content": "go"},
                   {"role": "assistant", "tool_calls": [
                       {"id": "c", "type": "function", "function": {"name": "t", "arguments": args}}]},
                   {"role": "tool", "tool_call_id": "c", "content": "ok"}]),
            json!({}),
        ));
        assert_eq!(
            out.body["messages"][1]["content"][0]["input"], want,
            "{args:?}"
        );
    }
}

#[test]
fn unparseable_tool_arguments_are_rejected_naming_the_message() {
    for args in ["{\"city\": \"Par", "[1]", "\"x\"", "{} {}"] {
        let e = try_convert(request(
            json!([
                {"role": "system", "content": "s"},
                {"role": "user", "content": "go"},
                {"role": "user", "content": "now"},
                {"role": "assistant", "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "t", "arguments": args}}]}
            ]),
            json!({}),
        ))
        .err()
        .unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{args}");
        assert_eq!(
            e.param.as_deref(),
            Some("messages[3].tool_calls[0].function.arguments"),
            "{args}"
        );
        assert!(
            !e.message.contains(args),
            "the message names fields, not values"
        );
    }
}

#[test]
fn max_tokens_comes_from_either_field_or_the_default() {
    let table = [
        (json!({}), 4096),
        (json!({"max_tokens": 100}), 100),
        (json!({"max_completion_tokens": 200}), 200),
        (
            json!({"max_tokens": 100, "max_completion_tokens": 200}),
            200,
        ),
    ];
    for (extra, want) in table {
        let out = convert(request(hi(), extra.clone()));
        assert_eq!(out.body["max_tokens"], want, "{extra}");
    }
}

#[test]
fn only_temperature_is_sent_when_both_are_given_e13() {
    let table = [
        (
            json!({"temperature": 0.2, "top_p": 1}),
            Some(0.2),
            None,
            vec!["top_p"],
        ),
        (
            json!({"temperature": 1.7, "top_p": 0.9}),
            Some(1.0),
            None,
            vec!["top_p"],
        ),
        (json!({"temperature": -1}), Some(0.0), None, vec![]),
        (json!({"top_p": 0.9}), None, Some(0.9), vec![]),
        (json!({}), None, None, vec![]),
    ];
    for (extra, temperature, top_p, dropped) in table {
        let out = convert(request(hi(), extra.clone()));
        assert_eq!(out.body["temperature"].as_f64(), temperature, "{extra}");
        assert_eq!(out.body["top_p"].as_f64(), top_p, "{extra}");
        assert_eq!(out.dropped, dropped, "{extra}");
    }
}

#[test]
fn blank_stop_sequences_are_dropped_e14() {
    let table = [
        (json!("\n"), None),
        (json!(""), None),
        (json!(["\n", " ", ""]), None),
        (json!(["\n", "END"]), Some(json!(["END"]))),
        (json!("STOP"), Some(json!(["STOP"]))),
        (json!(["a\n", "b"]), Some(json!(["a\n", "b"]))),
    ];
    for (stop, want) in table {
        let out = convert(request(hi(), json!({"stop": stop})));
        assert_eq!(out.body.get("stop_sequences").cloned(), want, "{stop}");
    }
}

#[test]
fn tools_and_tool_choice_convert() {
    let tools = json!([
        {"type": "function", "function": {"name": "a", "description": "A", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "b"}},
        {"type": "function", "function": {"name": "c", "parameters": {"properties": {}}}}
    ]);
    let table = [
        (json!(null), json!(null), vec!["a", "b", "c"]),
        (json!("auto"), json!({"type": "auto"}), vec!["a", "b", "c"]),
        (
            json!("required"),
            json!({"type": "any"}),
            vec!["a", "b", "c"],
        ),
        (json!("none"), json!({"type": "none"}), vec!["a", "b", "c"]),
        (
            json!({"type": "function", "function": {"name": "b"}}),
            json!({"type": "tool", "name": "b"}),
            vec!["a", "b", "c"],
        ),
        (
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "required",
                "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "c"}}]}}),
            json!({"type": "any"}),
            vec!["a", "c"],
        ),
        (
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto",
                "tools": [{"type": "function", "function": {"name": "b"}}]}}),
            json!({"type": "auto"}),
            vec!["b"],
        ),
    ];
    for (choice, want, names) in table {
        let mut extra = json!({"tools": tools});
        if !choice.is_null() {
            extra["tool_choice"] = choice.clone();
        }
        let out = convert(request(hi(), extra));
        assert_eq!(
            out.body.get("tool_choice").cloned().unwrap_or(Value::Null),
            want,
            "{choice}"
        );
        let sent: Vec<&str> = out.body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(sent, names, "{choice}");
    }
    let out = convert(request(hi(), json!({"tools": tools})));
    assert_eq!(
        out.body["tools"],
        json!([
            {"name": "a", "description": "A", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
            {"name": "b", "description": "", "input_schema": {"type": "object", "properties": {}}},
            {"name": "c", "description": "", "input_schema": {"type": "object", "properties": {}}}
        ])
    );
}

#[test]
fn parallel_tool_calls_false_disables_parallel_tool_use() {
    let tools = json!([{"type": "function", "function": {"name": "a"}}]);
    let table = [
        (
            json!(null),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (
            json!("required"),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
        (
            json!({"type": "function", "function": {"name": "a"}}),
            json!({"type": "tool", "name": "a", "disable_parallel_tool_use": true}),
        ),
        (json!("none"), json!({"type": "none"})),
    ];
    for (choice, want) in table {
        let mut extra = json!({"tools": tools, "parallel_tool_calls": false});
        if !choice.is_null() {
            extra["tool_choice"] = choice.clone();
        }
        assert_eq!(
            convert(request(hi(), extra)).body["tool_choice"],
            want,
            "{choice}"
        );
    }
    // Without tools there is nothing to disable.
    let out = convert(request(hi(), json!({"parallel_tool_calls": false})));
    assert!(out.body.get("tool_choice").is_none());
}

#[test]
fn bad_tool_choice_and_tools_are_rejected() {
    let table = [
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (
            json!({"tool_choice": {"type": "custom", "name": "x"}}),
            "tool_choice",
        ),
        (
            json!({"tools": [{"type": "custom", "function": {"name": "x"}}]}),
            "tools[0].type",
        ),
        (json!({"n": 2}), "n"),
        (json!({"n": 0}), "n"),
        (json!({"reasoning_effort": "extreme"}), "reasoning_effort"),
        (json!({"top_k": "many"}), "top_k"),
    ];
    for (extra, param) in table {
        let e = try_convert(request(hi(), extra.clone())).err().unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{extra}");
        assert_eq!(e.param.as_deref(), Some(param), "{extra}");
    }
}

#[test]
fn images_and_documents_convert() {
    let table = [
        (
            "data:image/png;base64,iVBORw0",
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}}),
        ),
        (
            "data:image/jpg;base64,/9j/4",
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4"}}),
        ),
        (
            "data:image/PNG;name=x.png;base64,iVBO",
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}),
        ),
        (
            "data:application/pdf;base64,JVBERi0",
            json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0"}}),
        ),
        (
            "https://example.com/a.jpg",
            json!({"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}),
        ),
        (
            "https://example.com/a.PDF?x=1",
            json!({"type": "document", "source": {"type": "url", "url": "https://example.com/a.PDF?x=1"}}),
        ),
    ];
    for (url, want) in table {
        let out = convert(request(
            json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}]),
            json!({}),
        ));
        assert_eq!(out.body["messages"][0]["content"][0], want, "{url}");
    }
    for url in [
        "data:image/bmp;base64,Qk0",
        "data:image/png,rawbytes",
        "data:image/png;base64",
        "ftp://x/a.png",
        "file:///etc/passwd",
    ] {
        let e = try_convert(request(
            json!([{"role": "user", "content": [{"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": url}}]}]),
            json!({}),
        ))
        .err()
        .unwrap();
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[1].image_url.url"),
            "{url}"
        );
    }
}

#[test]
fn file_parts_and_unsupported_parts() {
    let out = convert(request(
        json!([{"role": "user", "content": [
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "JVBERi0"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi1"}}]}]),
        json!({}),
    ));
    let blocks = &out.body["messages"][0]["content"];
    assert_eq!(blocks[0]["source"]["data"], "JVBERi0");
    assert_eq!(blocks[1]["source"]["data"], "JVBERi1");
    let table = [
        (
            json!({"type": "file", "file": {"file_id": "file-abc"}}),
            "messages[0].content[0].file.file_id",
        ),
        (
            json!({"type": "file", "file": {"file_data": "JVBERi0"}}),
            "messages[0].content[0].file.file_data",
        ),
        (
            json!({"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}),
            "messages[0].content[0]",
        ),
        (
            json!({"type": "video_url", "video_url": {"url": "x"}}),
            "messages[0].content[0]",
        ),
    ];
    for (part, param) in table {
        let e = try_convert(request(
            json!([{"role": "user", "content": [part]}]),
            json!({}),
        ))
        .err()
        .unwrap();
        assert_eq!(e.param.as_deref(), Some(param), "{part}");
    }
    let e = try_convert(request(
        json!([{"role": "user", "content": "x"}, {"role": "function", "name": "f", "content": "r"}]),
        json!({}),
    ))
    .err()
    .unwrap();
    assert_eq!(e.param.as_deref(), Some("messages[1].role"));
}

#[test]
fn json_object_uses_a_forced_synthetic_tool() {
    let out = convert(request(
        hi(),
        json!({"response_format": {"type": "json_object"}}),
    ));
    assert_eq!(
        out.body["tools"],
        json!([{"name": "json_response", "description": JSON_TOOL_DESCRIPTION, "input_schema": {"type": "object"}}])
    );
    assert_eq!(
        out.body["tool_choice"],
        json!({"type": "tool", "name": "json_response"})
    );
    assert_eq!(out.ctx.json_tool.as_deref(), Some("json_response"));
    let out = convert(request(hi(), json!({"response_format": {"type": "text"}})));
    assert!(out.body.get("tools").is_none());
    assert_eq!(out.ctx.json_tool, None);
}

#[test]
fn json_mode_with_caller_tools_requires_some_tool() {
    let tools = json!([{"type": "function", "function": {"name": "json_response"}}]);
    let rf = json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"properties": {"a": {"type": "string"}}}}});
    let out = convert(request(
        hi(),
        json!({"tools": tools, "response_format": rf}),
    ));
    // The synthetic tool's name does not clash with the caller's.
    assert_eq!(out.ctx.json_tool.as_deref(), Some("json_response_"));
    assert_eq!(out.body["tools"][1]["name"], "json_response_");
    assert_eq!(out.body["tools"][1]["input_schema"]["type"], "object");
    assert_eq!(out.body["tool_choice"], json!({"type": "any"}));
    let out = convert(request(
        hi(),
        json!({"tools": tools, "response_format": rf, "tool_choice": "none"}),
    ));
    assert_eq!(
        out.body["tool_choice"],
        json!({"type": "tool", "name": "json_response_"})
    );
    let e = try_convert(request(
        hi(),
        json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}}),
    ))
    .err()
    .unwrap();
    assert_eq!(
        e.param.as_deref(),
        Some("response_format.json_schema.schema")
    );
}

#[test]
fn reasoning_effort_enables_thinking() {
    let table = [
        (json!({"reasoning_effort": "low"}), Some(1024), 4096, vec![]),
        (
            json!({"reasoning_effort": "medium", "max_tokens": 8000}),
            Some(2048),
            8000,
            vec![],
        ),
        (
            json!({"reasoning_effort": "high", "max_tokens": 1000}),
            Some(4096),
            5096,
            vec![],
        ),
        (
            json!({"reasoning_effort": "low", "temperature": 0.5, "top_p": 0.9, "top_k": 5}),
            Some(1024),
            4096,
            vec!["top_p", "temperature", "top_k"],
        ),
        (
            json!({"reasoning_effort": "none", "top_k": 5}),
            None,
            4096,
            vec![],
        ),
        (
            json!({"reasoning_effort": "high", "tool_choice": "required",
                   "tools": [{"type": "function", "function": {"name": "a"}}]}),
            None,
            4096,
            vec!["reasoning_effort"],
        ),
        (
            json!({"reasoning_effort": "high", "response_format": {"type": "json_object"}}),
            None,
            4096,
            vec!["reasoning_effort"],
        ),
    ];
    for (extra, budget, max_tokens, dropped) in table {
        let out = convert(request(hi(), extra.clone()));
        assert_eq!(
            out.body["thinking"]["budget_tokens"].as_u64(),
            budget,
            "{extra}"
        );
        assert_eq!(out.body["max_tokens"], max_tokens, "{extra}");
        assert_eq!(out.dropped, dropped, "{extra}");
    }
    let out = convert(request(
        hi(),
        json!({"reasoning_effort": "none", "top_k": 5}),
    ));
    assert_eq!(out.body["top_k"], 5);
}

#[test]
fn thinking_blocks_are_restored_before_text_and_tool_use_e18() {
    let out = convert(request(
        json!([
            {"role": "user", "content": "27 * 453?"},
            {"role": "assistant", "content": "Let me compute.",
             "reasoning_content": "ignored without blocks",
             "thinking_blocks": [
                {"type": "thinking", "thinking": "27*453 = 12231", "signature": "EqQBCkgIARAB"},
                {"type": "redacted_thinking", "data": "EmwKAhgB"}],
             "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "calc", "arguments": "{\"e\":\"27*453\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "12231"}
        ]),
        json!({"reasoning_effort": "low"}),
    ));
    assert_eq!(
        out.body["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "27*453 = 12231", "signature": "EqQBCkgIARAB"},
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {"type": "text", "text": "Let me compute."},
            {"type": "tool_use", "id": "call_1", "name": "calc", "input": {"e": "27*453"}}
        ])
    );
}

#[test]
fn trailing_assistant_message_is_a_prefill_e19() {
    let msgs = json!([
        {"role": "user", "content": "Write a story."},
        {"role": "assistant", "content": "Once upon a time, "}
    ]);
    let out = convert(request(msgs.clone(), json!({})));
    assert_eq!(
        out.body["messages"][1],
        json!({"role": "assistant", "content": [{"type": "text", "text": "Once upon a time,"}]})
    );
    assert_eq!(out.ctx.prefill.as_deref(), Some("Once upon a time,"));
    // With thinking on, the prefill is dropped.
    let out = convert(request(msgs, json!({"reasoning_effort": "low"})));
    assert_eq!(out.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(out.ctx.prefill, None);
    // A trailing assistant tool call is not a prefill.
    let out = convert(request(
        json!([{"role": "user", "content": "go"},
               {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "t", "arguments": "{}"}}]}]),
        json!({}),
    ));
    assert_eq!(out.ctx.prefill, None);
    assert_eq!(out.body["messages"][1]["content"][0]["type"], "tool_use");
}

#[test]
fn user_becomes_metadata_user_id() {
    let out = convert(request(hi(), json!({"user": "u-123"})));
    assert_eq!(out.body["metadata"], json!({"user_id": "u-123"}));
    assert!(out.dropped.is_empty());
}

#[test]
fn unsupported_parameters_are_dropped_and_listed() {
    let out = convert(request(
        hi(),
        json!({"seed": 1, "presence_penalty": 0.1, "frequency_penalty": 0.1, "logprobs": true,
               "top_logprobs": 2, "logit_bias": {"1": 1}, "store": true, "metadata": {"a": "b"},
               "service_tier": "flex", "top_k": 40, "stream_options": {"include_usage": true}, "n": 1}),
    ));
    assert_eq!(
        out.dropped,
        [
            "seed",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "logprobs",
            "metadata",
            "service_tier",
            "store",
            "top_logprobs"
        ]
    );
    assert_eq!(out.body["top_k"], 40);
    for k in [
        "seed",
        "logprobs",
        "store",
        "service_tier",
        "n",
        "stream_options",
    ] {
        assert!(out.body.get(k).is_none(), "{k}");
    }
    assert!(out.body.get("metadata").is_none());
}

/// Structural variations of a request: each message removed, moved to the
/// end or emptied, crossed with top-level overrides.
fn variants(base: &Value) -> Vec<Value> {
    let msgs = base["messages"].as_array().unwrap().clone();
    let mut message_sets = vec![msgs.clone()];
    for i in 0..msgs.len() {
        let mut removed = msgs.clone();
        let m = removed.remove(i);
        message_sets.push(removed.clone());
        removed.push(m.clone());
        message_sets.push(removed);
        let mut emptied = msgs.clone();
        if emptied[i].get("content").is_some() {
            emptied[i]["content"] = json!(" ");
        }
        message_sets.push(emptied);
    }
    let overrides = [
        json!({}),
        json!({"reasoning_effort": "high", "max_tokens": 1}),
        json!({"reasoning_effort": "low", "tool_choice": "required"}),
        json!({"response_format": {"type": "json_object"}}),
        json!({"response_format": {"type": "json_object"}, "reasoning_effort": "low"}),
        json!({"tool_choice": "none", "parallel_tool_calls": false}),
        json!({"tool_choice": {"type": "function", "function": {"name": "ocr"}}}),
        json!({"temperature": 2, "top_p": 0.1, "top_k": 3, "stop": [" ", "x"]}),
        json!({"tools": null, "tool_choice": null, "max_completion_tokens": 0}),
    ];
    let mut out = Vec::new();
    for set in &message_sets {
        for o in &overrides {
            let mut v = base.clone();
            v["messages"] = Value::Array(set.clone());
            if let (Some(r), Some(e)) = (v.as_object_mut(), o.as_object()) {
                r.extend(e.clone());
            }
            out.push(v);
        }
    }
    out
}

#[test]
fn varied_requests_always_meet_anthropics_rules() {
    for fixture in REQUESTS {
        let base: Value = serde_json::from_str(fixture).unwrap();
        for v in variants(&base) {
            let Ok(req) = serde_json::from_value::<ChatRequest>(v.clone()) else {
                continue;
            };
            if let Ok(c) = to_anthropic(&req, &OPTS) {
                check_invariants(&serde_json::from_slice(&c.body).unwrap());
            }
        }
    }
}

#[test]
fn damaged_requests_never_panic() {
    for fixture in REQUESTS {
        for bytes in damaged(fixture.as_bytes()) {
            let Ok(req) = serde_json::from_slice::<ChatRequest>(&bytes) else {
                continue;
            };
            if let Ok(c) = to_anthropic(&req, &OPTS) {
                check_invariants(&serde_json::from_slice(&c.body).unwrap());
            }
        }
    }
}
