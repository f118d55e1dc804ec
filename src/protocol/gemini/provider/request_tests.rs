//! Tests of the module `request`.

use super::*;
use crate::protocol::gemini::provider::tool_call_id;
use serde_json::json;

const WEATHER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gemini/openai_request_weather.json"
));
const AGENT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gemini/openai_request_agent_history.json"
));
const JSON_SCHEMA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gemini/openai_request_json_schema.json"
));
const PROTOCOLS_3_2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gemini/request_protocols_3_2.json"
));

fn request(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn convert(req: &ChatRequest) -> (Value, Vec<String>) {
    let c = to_gemini(req).unwrap();
    (serde_json::from_slice(&c.body).unwrap(), c.dropped)
}

fn convert_str(s: &str) -> (Value, Vec<String>) {
    convert(&serde_json::from_str(s).unwrap())
}

fn err(v: Value) -> Error {
    to_gemini(&request(v)).unwrap_err()
}

#[test]
fn protocols_3_2_request_is_reproduced() {
    let (body, dropped) = convert_str(WEATHER);
    let mut want: Value = serde_json::from_str(PROTOCOLS_3_2).unwrap();
    // Not produced from an OpenAI request: safety settings, topK, and the
    // fixture's thinking config; the response schema is the cleaned one
    // of the request's (an empty `properties` map is left out).
    let want_obj = want.as_object_mut().unwrap();
    want_obj.remove("safetySettings");
    let gc = want_obj["generationConfig"].as_object_mut().unwrap();
    gc.remove("topK");
    gc.remove("thinkingConfig");
    gc["responseSchema"] = json!({"type": "OBJECT", "properties": {"summary": {"type": "STRING"}}});
    assert_eq!(body, want);
    assert!(dropped.is_empty(), "{dropped:?}");
}

#[test]
fn system_and_developer_messages_join_system_instruction_e5() {
    let (body, _) = convert(&request(json!({"model": "m", "messages": [
        {"role": "system", "content": "one"},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "two"}]}
    ]})));
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "one"}, {"text": "two"}]})
    );
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}]}])
    );
}

#[test]
fn empty_text_parts_and_messages_are_dropped_e2() {
    let (body, _) = convert(&request(json!({"model": "m", "messages": [
        {"role": "system", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "q"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "r"},
        {"role": "assistant", "content": "  \n"},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": "next"}
    ]})));
    assert!(body.get("systemInstruction").is_none());
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "q"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}, "id": "call_1"}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"output": "r"}, "id": "call_1"}}]},
            {"role": "user", "parts": [{"text": "next"}]}
        ])
    );
}

#[test]
fn parallel_tool_results_are_grouped_in_call_order_e3() {
    let (body, _) = convert_str(AGENT);
    let contents = body["contents"].as_array().unwrap();
    // user, model (2 calls), user (2 responses), user; the blank
    // assistant turn is dropped (E2).
    assert_eq!(contents.len(), 4);
    let calls = contents[1]["parts"].as_array().unwrap();
    let results = contents[2]["parts"].as_array().unwrap();
    assert_eq!(calls.len(), results.len());
    assert_eq!(contents[2]["role"], "user");
    assert_eq!(
        results,
        &vec![
            json!({"functionResponse": {"name": "get_weather", "id": "call_a1",
                                        "response": {"output": "18C sunny"}}}),
            json!({"functionResponse": {"name": "get_time", "id": "call_b2",
                                        "response": {"output": {"time": "14:05", "tz": "Europe/Paris"}}}}),
        ]
    );
    assert_eq!(
        calls[1],
        json!({"functionCall": {"name": "get_time", "args": {}, "id": "call_b2"}})
    );
}

#[test]
fn tool_result_name_is_looked_up_by_id_e22() {
    let history = |tool_call_id: &str| {
        json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_old", "type": "function", "function": {"name": "old_fn", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_old", "content": "1"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_x", "type": "function", "function": {"name": "first", "arguments": "{}"}},
                {"id": "call_y", "type": "function", "function": {"name": "second", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_y", "content": "y"},
            {"role": "tool", "tool_call_id": tool_call_id, "content": "other"}
        ]})
    };
    let names = |v: &Value| -> Vec<String> {
        v["contents"][4]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["functionResponse"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // (second tool message's id, expected names in order)
    let cases = [
        ("call_x", vec!["first", "second"]),
        // an id from an earlier turn is still found by id
        ("call_old", vec!["second", "old_fn"]),
        // an unknown id falls back to the next unanswered call, by order
        ("mangled-by-client", vec!["first", "second"]),
    ];
    for (id, want) in cases {
        let (body, _) = convert(&request(history(id)));
        assert_eq!(names(&body), want, "{id}");
    }
}

#[test]
fn legacy_function_messages_use_their_name() {
    let (body, _) = convert(&request(json!({"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_x", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "function", "name": "lookup", "content": "found"}
    ]})));
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "lookup", "id": "call_x", "response": {"output": "found"}})
    );
}

#[test]
fn tool_message_without_any_call_is_rejected() {
    let e = err(json!({"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "tool", "tool_call_id": "call_1", "content": "r"}
    ]}));
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(e.param.as_deref(), Some("messages[1].tool_call_id"));
}

#[test]
fn function_response_output_is_a_json_object_or_the_text() {
    let cases = [
        (json!("{\"a\": [1, 2]}"), json!({"a": [1, 2]})),
        (json!("  {\"a\":1}  "), json!({"a": 1})),
        (json!("[1, 2]"), json!("[1, 2]")),
        (json!("42"), json!("42")),
        (json!("{not json"), json!("{not json")),
        (json!(""), json!("")),
        (
            json!([{"type": "text", "text": "{\"b\":"}, {"type": "text", "text": "true}"}]),
            json!({"b": true}),
        ),
        (
            json!([{"type": "text", "text": "part "}, {"type": "text", "text": "two"}]),
            json!("part two"),
        ),
    ];
    for (content, want) in cases {
        let (body, _) = convert(&request(json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": content}
        ]})));
        assert_eq!(
            body["contents"][2]["parts"][0]["functionResponse"]["response"],
            json!({"output": want}),
            "{content}"
        );
    }
}

#[test]
fn thought_signature_is_restored_from_the_tool_call_id_e18() {
    let signature = "CiQBVKhc+/9x8QZ1yA==";
    let synthesized = tool_call_id("resp-1", 0, 0, None, Some(signature));
    let with_gemini_id = tool_call_id("resp-1", 0, 1, Some("fc_7"), Some("raw sig"));
    let (body, _) = convert(&request(json!({"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [
            {"id": synthesized, "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
            {"id": with_gemini_id, "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": synthesized, "content": "a"},
        {"role": "tool", "tool_call_id": with_gemini_id, "content": "b"}
    ]})));
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            // a synthesized id is not sent to Gemini
            {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": signature},
            {"functionCall": {"name": "g", "args": {}, "id": "fc_7"}, "thoughtSignature": "raw sig"}
        ])
    );
    assert_eq!(
        body["contents"][2]["parts"],
        json!([
            {"functionResponse": {"name": "f", "response": {"output": "a"}}},
            {"functionResponse": {"name": "g", "response": {"output": "b"}, "id": "fc_7"}}
        ])
    );
}

#[test]
fn images_and_files_become_inline_data() {
    let (body, _) = convert_str(AGENT);
    let parts = body["contents"][0]["parts"].as_array().unwrap();
    assert_eq!(parts[1]["inlineData"]["mimeType"], "image/jpeg");
    assert!(parts[1]["inlineData"]["data"]
        .as_str()
        .unwrap()
        .starts_with("iVBOR"));
    assert_eq!(parts[2]["inlineData"]["mimeType"], "application/pdf");

    let cases = [
        ("data:image/png;base64,AAAA", "image/png"),
        ("data:IMAGE/PNG;base64,AAAA", "image/png"),
        ("data:image/jpg;base64,AAAA", "image/jpeg"),
        ("data:image/webp;name=a.webp;base64,AAAA", "image/webp"),
    ];
    for (url, mime) in cases {
        let (body, _) = convert(&request(json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        ]})));
        assert_eq!(
            body["contents"][0]["parts"][0]["inlineData"],
            json!({"mimeType": mime, "data": "AAAA"}),
            "{url}"
        );
    }
    let (body, _) = convert(&request(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}]}
    ]})));
    assert_eq!(
        body["contents"][0]["parts"][0]["inlineData"],
        json!({"mimeType": "audio/wav", "data": "UklG"})
    );
}

#[test]
fn image_urls_and_unreadable_parts_are_rejected_naming_the_part() {
    let user = |part: Value| {
        json!({"model": "m", "messages": [
            {"role": "user", "content": "first"},
            {"role": "user", "content": [{"type": "text", "text": "look"}, part]}
        ]})
    };
    let cases = [
        (
            json!({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}),
            "messages[1].content[1].image_url.url",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": "HTTP://example.com/cat.png"}}),
            "messages[1].content[1].image_url.url",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}),
            "messages[1].content[1].image_url.url",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}),
            "messages[1].content[1].image_url.url",
        ),
        (
            json!({"type": "file", "file": {"file_id": "file-abc"}}),
            "messages[1].content[1].file.file_data",
        ),
        (
            json!({"type": "input_audio", "input_audio": {"data": "x"}}),
            "messages[1].content[1].input_audio",
        ),
        (
            json!({"type": "video_url", "video_url": {"url": "x"}}),
            "messages[1].content[1].type",
        ),
    ];
    for (part, param) in cases {
        let e = err(user(part.clone()));
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{part}");
        assert_eq!(e.param.as_deref(), Some(param), "{part}");
        assert!(!e.message.contains("example.com"), "no values in messages");
    }
}

#[test]
fn unparseable_tool_arguments_are_a_400_naming_the_message() {
    let with_args = |args: &str| {
        json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": args}}]}
        ]})
    };
    for bad in ["{\"a\":", "[1]", "\"text\"", "12", "{} {}"] {
        let e = err(with_args(bad));
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{bad}");
        assert_eq!(
            e.param.as_deref(),
            Some("messages[1].tool_calls[0].function.arguments"),
            "{bad}"
        );
    }
    for (empty, want) in [
        ("", json!({})),
        ("  ", json!({})),
        ("null", json!({})),
        (" {\"a\":1} ", json!({"a": 1})),
    ] {
        let (body, _) = convert(&request(with_args(empty)));
        assert_eq!(
            body["contents"][1]["parts"][0]["functionCall"]["args"],
            want
        );
    }
}

#[test]
fn tools_are_declared_once_with_cleaned_parameters_e15() {
    let (body, _) = convert_str(AGENT);
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Get the weather for a city", "parameters": {
                "type": "OBJECT",
                "properties": {
                    "city": {"type": "STRING", "minLength": 1},
                    "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"], "nullable": true},
                    "days": {"type": "INTEGER", "nullable": true}
                },
                "required": ["city"]
            }},
            {"name": "get_time", "description": "Current local time"}
        ]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
}

#[test]
fn tool_choice_maps_to_function_calling_config() {
    let tools = json!([
        {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "b"}}
    ]);
    let cases = [
        (
            json!("auto"),
            json!({"functionCallingConfig": {"mode": "AUTO"}}),
            2,
        ),
        (
            json!("required"),
            json!({"functionCallingConfig": {"mode": "ANY"}}),
            2,
        ),
        (
            json!("none"),
            json!({"functionCallingConfig": {"mode": "NONE"}}),
            2,
        ),
        (
            json!({"type": "function", "function": {"name": "b"}}),
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}}),
            2,
        ),
        (
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
            {"type": "function", "function": {"name": "a"}}]}}),
            json!({"functionCallingConfig": {"mode": "AUTO"}}),
            1,
        ),
        (
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [
            {"type": "function", "function": {"name": "b"}}]}}),
            json!({"functionCallingConfig": {"mode": "ANY"}}),
            1,
        ),
    ];
    for (choice, want, declared) in cases {
        let (body, _) = convert(&request(
            json!({"model": "m", "tools": tools, "tool_choice": choice,
            "messages": [{"role": "user", "content": "q"}]}),
        ));
        assert_eq!(body["toolConfig"], want, "{choice}");
        assert_eq!(
            body["tools"][0]["functionDeclarations"]
                .as_array()
                .unwrap()
                .len(),
            declared,
            "{choice}"
        );
    }
    // No tools: no toolConfig either.
    let (body, _) = convert(&request(json!({"model": "m", "tool_choice": "auto",
        "messages": [{"role": "user", "content": "q"}]})));
    assert!(body.get("tools").is_none() && body.get("toolConfig").is_none());

    for bad in [
        json!("sometimes"),
        json!({"type": "custom", "custom": {"name": "x"}}),
    ] {
        let e = err(json!({"model": "m", "tools": tools, "tool_choice": bad,
            "messages": [{"role": "user", "content": "q"}]}));
        assert_eq!(e.param.as_deref(), Some("tool_choice"), "{bad}");
    }
    let e = err(
        json!({"model": "m", "tools": [{"type": "custom", "function": {"name": "x"}}],
        "messages": [{"role": "user", "content": "q"}]}),
    );
    assert_eq!(e.param.as_deref(), Some("tools[0].type"));
}

#[test]
fn generation_config_maps_sampling_fields() {
    let (body, _) = convert_str(AGENT);
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.4, "maxOutputTokens": 2048, "stopSequences": ["END"],
               "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}})
    );
    let (body, _) = convert(&request(
        json!({"model": "m", "messages": [{"role": "user", "content": "q"}],
        "stop": ["", "a", "b"], "presence_penalty": 0.5, "frequency_penalty": -0.5, "max_tokens": 10}),
    ));
    assert_eq!(
        body["generationConfig"],
        json!({"stopSequences": ["a", "b"], "presencePenalty": 0.5, "frequencyPenalty": -0.5,
               "maxOutputTokens": 10})
    );
    let (body, _) = convert(&request(
        json!({"model": "m", "messages": [{"role": "user", "content": "q"}]}),
    ));
    assert!(body.get("generationConfig").is_none());
}

#[test]
fn reasoning_effort_maps_to_a_thinking_budget() {
    let cases = [
        ("none", Some(json!({"thinkingBudget": 0}))),
        (
            "minimal",
            Some(json!({"thinkingBudget": 512, "includeThoughts": true})),
        ),
        (
            "low",
            Some(json!({"thinkingBudget": 1024, "includeThoughts": true})),
        ),
        (
            "medium",
            Some(json!({"thinkingBudget": 8192, "includeThoughts": true})),
        ),
        (
            "high",
            Some(json!({"thinkingBudget": 24576, "includeThoughts": true})),
        ),
        (
            "xhigh",
            Some(json!({"thinkingBudget": 24576, "includeThoughts": true})),
        ),
        ("turbo", None),
    ];
    for (effort, want) in cases {
        let (body, dropped) = convert(&request(json!({"model": "m", "reasoning_effort": effort,
            "messages": [{"role": "user", "content": "q"}]})));
        assert_eq!(
            body.pointer("/generationConfig/thinkingConfig").cloned(),
            want,
            "{effort}"
        );
        assert_eq!(
            dropped.contains(&"reasoning_effort".to_owned()),
            want.is_none()
        );
    }
}

#[test]
fn response_format_maps_to_mime_type_and_schema() {
    let (body, _) = convert_str(JSON_SCHEMA);
    assert_eq!(
        body["generationConfig"],
        json!({
            "candidateCount": 2, "seed": 7,
            "responseMimeType": "application/json",
            "responseSchema": {"title": "Person", "type": "OBJECT", "properties": {
                "name": {"type": "STRING"},
                "born": {"type": "INTEGER", "format": "int32"},
                "fields": {"type": "ARRAY", "items": {"type": "STRING"}},
                "website": {"type": "STRING", "nullable": true}
            }, "required": ["name", "born", "fields", "website"]},
            "thinkingConfig": {"thinkingBudget": 0}
        })
    );
    let (body, _) = convert(&request(
        json!({"model": "m", "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": "json please"}]}),
    ));
    assert_eq!(
        body["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let (body, _) = convert(&request(
        json!({"model": "m", "response_format": {"type": "text"},
        "messages": [{"role": "user", "content": "q"}]}),
    ));
    assert!(body.get("generationConfig").is_none());
}

#[test]
fn unmapped_fields_are_dropped_and_listed() {
    let (_, mut dropped) = convert_str(AGENT);
    dropped.sort();
    assert_eq!(
        dropped,
        ["logit_bias", "metadata", "store", "user"],
        "parallel_tool_calls: true is Gemini's own behaviour"
    );
    let (_, dropped) = convert(&request(json!({"model": "m", "parallel_tool_calls": false,
        "messages": [{"role": "user", "content": "q"}]})));
    assert_eq!(dropped, ["parallel_tool_calls"]);
    let (_, dropped) = convert(&request(json!({"model": "m", "messages": [
        {"role": "user", "content": "q", "name": "ann"},
        {"role": "assistant", "content": "a", "reasoning_content": "r", "refusal": "no",
         "thinking_blocks": [{"type": "redacted_thinking", "data": "x"}]}
    ], "logprobs": true, "top_logprobs": 2})));
    for field in [
        "messages[].name",
        "messages[].reasoning_content",
        "messages[].refusal",
        "messages[].thinking_blocks",
        "logprobs",
        "top_logprobs",
    ] {
        assert!(dropped.iter().any(|d| d == field), "{field} in {dropped:?}");
    }
}

#[test]
fn a_conversation_with_nothing_to_send_is_rejected() {
    for messages in [
        json!([]),
        json!([{"role": "system", "content": "s"}]),
        json!([{"role": "user", "content": " "}]),
    ] {
        let e = err(json!({"model": "m", "messages": messages}));
        assert_eq!(e.param.as_deref(), Some("messages"), "{messages}");
    }
    let e = err(json!({"model": "m", "messages": [
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
        {"role": "user", "content": "q"}]}));
    assert_eq!(e.param.as_deref(), Some("messages[0].content[0]"));
}

#[test]
fn response_context_carries_the_requested_model() {
    let c = to_gemini(&serde_json::from_str(WEATHER).unwrap()).unwrap();
    assert_eq!(c.ctx.model, "gemini-2.5-flash");
}

#[test]
fn a_callers_top_k_becomes_top_k_and_is_not_named_dropped() {
    let mut req = request(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
    req.extra.insert("top_k".to_owned(), json!(40));
    let (body, dropped) = convert(&req);
    assert_eq!(body["generationConfig"]["topK"], 40);
    assert!(!dropped.iter().any(|d| d == "top_k"), "{dropped:?}");

    req.extra.insert("top_k".to_owned(), json!("many"));
    let (body, dropped) = convert(&req);
    assert!(body.get("generationConfig").is_none());
    assert!(dropped.iter().any(|d| d == "top_k"), "{dropped:?}");
}
