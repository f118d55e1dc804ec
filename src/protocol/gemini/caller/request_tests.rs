use super::*;
use serde_json::json;

fn convert(v: serde_json::Value) -> Converted {
    to_openai(parse(v.to_string().as_bytes()).unwrap(), "gem").unwrap()
}

fn error(v: serde_json::Value) -> Error {
    to_openai(parse(v.to_string().as_bytes()).unwrap(), "gem").unwrap_err()
}

fn messages(c: &Converted) -> serde_json::Value {
    serde_json::to_value(&c.request.messages).unwrap()
}

#[test]
fn function_responses_without_ids_pair_by_name_earliest_unanswered_first() {
    let c = convert(json!({"contents": [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}},
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"text": "Thanks."}]}
    ]}));
    let m = messages(&c);
    assert_eq!(m[1]["tool_calls"][0]["id"], "call_1_0");
    assert_eq!(m[1]["tool_calls"][1]["id"], "call_1_1");
    assert_eq!(
        m[1]["tool_calls"][1]["function"]["arguments"],
        r#"{"city":"Rome"}"#
    );
    // Tool results first, in order, then the turn's text.
    assert_eq!(
        m[2],
        json!({"role": "tool", "tool_call_id": "call_1_0", "content": "18C"})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "call_1_1", "content": "{\"temp\":21}"})
    );
    assert_eq!(m[4], json!({"role": "user", "content": "Thanks."}));
}

#[test]
fn a_function_response_that_answers_no_call_is_a_400_naming_the_part() {
    let e = error(json!({"contents": [
        {"role": "user", "parts": [{"functionResponse": {"name": "x", "response": {}}}]}]}));
    assert_eq!(
        e.param.as_deref(),
        Some("contents[0].parts[0].functionResponse")
    );
    let e = error(json!({"contents": [{"role": "system", "parts": [{"text": "hi"}]}]}));
    assert_eq!(e.param.as_deref(), Some("contents[0].role"));
    let e = error(json!({"contents": [{"role": "user", "parts": [{"text": ""}]}]}));
    assert_eq!(e.param.as_deref(), Some("contents"));
}

#[test]
fn thoughts_become_reasoning_and_signatures_are_named_as_dropped() {
    let c = convert(json!({"contents": [
        {"role": "user", "parts": [{"text": "27 * 453?"}]},
        {"role": "model", "parts": [
            {"text": "Multiplying.", "thought": true},
            {"text": "12,231.", "thoughtSignature": "c2ln"}]},
        {"role": "user", "parts": [{"text": "Doubled?"}]}]}));
    let m = messages(&c);
    assert_eq!(m[1]["content"], "12,231.");
    assert_eq!(m[1]["reasoning_content"], "Multiplying.");
    assert_eq!(c.dropped, ["thoughtSignature"]);
}

#[test]
fn non_image_inline_data_is_a_file_part() {
    let c = convert(json!({"contents": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]}]}));
    assert_eq!(
        messages(&c)[0]["content"],
        json!([{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}])
    );
}

#[test]
fn thinking_config_maps_to_a_reasoning_effort() {
    let effort = |t: serde_json::Value| {
        convert(json!({"contents": [{"parts": [{"text": "hi"}]}],
                       "generationConfig": {"thinkingConfig": t}}))
        .request
        .reasoning_effort
    };
    assert_eq!(
        effort(json!({"thinkingBudget": 0})).as_deref(),
        Some("none")
    );
    assert_eq!(
        effort(json!({"thinkingBudget": 1024})).as_deref(),
        Some("low")
    );
    assert_eq!(
        effort(json!({"thinkingBudget": 8192})).as_deref(),
        Some("medium")
    );
    assert_eq!(
        effort(json!({"thinkingBudget": 24576})).as_deref(),
        Some("high")
    );
    assert_eq!(
        effort(json!({"thinkingBudget": -1})),
        None,
        "dynamic: the provider's default"
    );
    assert_eq!(effort(json!({"includeThoughts": true})), None);
    assert_eq!(
        effort(json!({"thinkingLevel": "HIGH"})).as_deref(),
        Some("high")
    );
}

#[test]
fn generation_config_maps_and_names_what_it_cannot_carry() {
    let c = convert(json!({"contents": [{"parts": [{"text": "hi"}]}],
        "generationConfig": {"topK": 64.0, "candidateCount": 2, "seed": 7,
            "responseMimeType": "text/x.enum", "responseModalities": ["TEXT"]},
        "tools": [{"googleSearch": {}}],
        "cachedContent": "cachedContents/x"}));
    assert_eq!(c.request.extra["top_k"], json!(64));
    assert_eq!((c.request.n, c.request.seed), (Some(2), Some(7)));
    assert!(c.request.tools.is_none());
    for name in [
        "cachedContent",
        "tools[].googleSearch",
        "generationConfig.responseMimeType",
        "generationConfig.responseModalities",
    ] {
        assert!(
            c.dropped.iter().any(|d| d == name),
            "{name}: {:?}",
            c.dropped
        );
    }
    let c = convert(json!({"contents": [{"parts": [{"text": "hi"}]}],
        "generationConfig": {"topK": -3, "responseMimeType": "application/json"}}));
    assert!(c.request.extra.get("top_k").is_none());
    assert_eq!(c.dropped, ["generationConfig.topK"]);
    assert_eq!(c.request.response_format, Some(ResponseFormat::JsonObject));
}

#[test]
fn calling_modes_map_to_tool_choice() {
    let choice = |config: serde_json::Value| {
        let c = convert(json!({"contents": [{"parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}],
            "toolConfig": {"functionCallingConfig": config}}));
        (
            serde_json::to_value(&c.request.tool_choice).unwrap(),
            c.request.tools.map_or(0, |t| t.len()),
        )
    };
    assert_eq!(choice(json!({"mode": "AUTO"})), (json!("auto"), 2));
    assert_eq!(choice(json!({"mode": "NONE"})), (json!("none"), 2));
    assert_eq!(choice(json!({"mode": "ANY"})), (json!("required"), 2));
    assert_eq!(
        choice(json!({"mode": "ANY", "allowedFunctionNames": ["a", "b"]})),
        (json!("required"), 2)
    );
    assert_eq!(
        choice(json!({"mode": "any", "allowedFunctionNames": ["b"]})),
        (json!({"type": "function", "function": {"name": "b"}}), 1)
    );
    assert_eq!(choice(json!({})), (json!(null), 2));
}

#[test]
fn damaged_bodies_never_panic() {
    let body = json!({"systemInstruction": {"parts": [{"text": "s"}]},
        "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
                     {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
                     {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"output": "x"}}}]}],
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}],
        "generationConfig": {"temperature": 1, "thinkingConfig": {"thinkingBudget": 5}}})
    .to_string();
    let bytes = body.as_bytes();
    for i in 0..bytes.len() {
        if let Ok(req) = parse(&bytes[..i]) {
            let _ = to_openai(req, "gem");
        }
    }
}
