//! Tests of the module `response`.

use super::*;
use crate::protocol::gemini::provider::decode_tool_call_id;
use serde_json::json;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gemini/",
            $name
        ))
    };
}

fn ctx() -> ResponseContext {
    ResponseContext {
        model: "gemini-requested".to_owned(),
        created: 1_730_000_000,
    }
}

fn convert(body: &str) -> ChatResponse {
    from_gemini(body.as_bytes(), &ctx()).unwrap()
}

#[test]
fn protocols_3_7_response_converts() {
    let got = serde_json::to_value(convert(fixture!("response_protocols_3_7.json"))).unwrap();
    assert_eq!(
        got,
        json!({
            "id": "chatcmpl-mQZ5aN2xB...",
            "object": "chat.completion",
            "created": 1_730_000_000,
            "model": "gemini-2.5-flash",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "It is 18C and sunny.", "refusal": null},
                "finish_reason": "stop",
                "logprobs": null
            }],
            "usage": {
                "prompt_tokens": 40, "completion_tokens": 50, "total_tokens": 90,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 38}
            }
        })
    );
}

/// (fixture, content, reasoning, tool call names, finish, prompt, completion, total)
type Row = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
    FinishReason,
    u64,
    u64,
    u64,
);

#[test]
fn recorded_responses_convert() {
    let rows: [Row; 7] = [
        (fixture!("response_protocols_3_7.json"), Some("It is 18C and sunny."), None, &[], FinishReason::Stop, 40, 50, 90),
        (fixture!("response_thoughts_text.json"), Some("9.9 is larger than 9.11."),
         Some("**Comparing the two numbers**\n\nI need to compare 9.11 and 9.9 digit by digit."),
         &[], FinishReason::Stop, 14, 221, 235),
        (fixture!("response_parallel_tools.json"), None, None, &["get_weather", "get_weather"],
         FinishReason::ToolCalls, 118, 193, 311),
        (fixture!("response_json_schema.json"),
         Some("{\n  \"name\": \"Ada Lovelace\",\n  \"born\": 1815,\n  \"fields\": [\"mathematics\", \"computing\"]\n}"),
         None, &[], FinishReason::Stop, 61, 31, 92),
        (fixture!("response_safety_block.json"), None, None, &[], FinishReason::ContentFilter, 23, 0, 23),
        (fixture!("response_prompt_block.json"), None, None, &[], FinishReason::ContentFilter, 17, 0, 17),
        (fixture!("response_max_tokens.json"),
         Some("Once upon a time, in a village at the edge of a great forest, there lived"),
         None, &[], FinishReason::Length, 9, 16, 25),
    ];
    for (body, content, reasoning, calls, finish, prompt, completion, total) in rows {
        let r = convert(body);
        let choice = &r.choices[0];
        let m = &choice.message;
        assert_eq!(m.content.as_deref(), content, "{body}");
        assert_eq!(m.reasoning_content.as_deref(), reasoning, "{body}");
        let names: Vec<&str> = m
            .tool_calls
            .iter()
            .flatten()
            .map(|c| c.function.name.as_str())
            .collect();
        assert_eq!(names, calls, "{body}");
        assert_eq!(choice.finish_reason, Some(finish), "{body}");
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (prompt, completion, total),
            "{body}"
        );
        assert!(r.id.starts_with("chatcmpl-"));
        assert_ne!(r.model, "gemini-requested");
    }
}

#[test]
fn function_calls_finish_with_tool_calls_even_on_stop_e17() {
    let r = convert(fixture!("response_parallel_tools.json"));
    let calls = r.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(
        calls[0].function.arguments,
        r#"{"city":"Paris","unit":"celsius"}"#
    );
    assert_eq!(
        calls[1].function.arguments,
        r#"{"city":"Rome","unit":"celsius"}"#
    );
    assert!(calls.iter().all(|c| c.kind == "function"));
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    // Whatever Gemini says: a call means tool_calls.
    for reason in ["STOP", "MAX_TOKENS", "SAFETY", "OTHER"] {
        assert_eq!(finish_reason(Some(reason), true), FinishReason::ToolCalls);
    }
}

#[test]
fn tool_call_ids_are_stable_and_carry_the_signature_e18() {
    let body = fixture!("response_parallel_tools.json");
    let ids = |r: ChatResponse| -> Vec<String> {
        r.choices[0]
            .message
            .tool_calls
            .clone()
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    let first = ids(convert(body));
    assert_eq!(first, ids(convert(body)), "same response, same ids");
    assert_ne!(first[0], first[1]);
    let raw: Value = serde_json::from_str(body).unwrap();
    let signature = raw["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
        .as_str()
        .unwrap();
    let decoded = decode_tool_call_id(&first[0]);
    assert_eq!(decoded.signature.as_deref(), Some(signature));
    assert_eq!(decoded.gemini_id, None);
    assert!(first[0].starts_with("call_"));
    assert_eq!(first[1].len(), 29, "no signature, plain call_<24>");
    for id in &first {
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    }
}

#[test]
fn gemini_function_call_ids_pass_through() {
    let body = json!({"candidates": [{"content": {"parts": [
        {"functionCall": {"id": "fc-91xq", "name": "f", "args": null}}]}, "finishReason": "STOP"}]});
    let r = convert(&body.to_string());
    let call = &r.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "fc-91xq");
    assert_eq!(call.function.arguments, "{}");
    assert_eq!(
        r.model, "gemini-requested",
        "no modelVersion: the requested model"
    );
}

#[test]
fn safety_finish_is_content_filter_with_empty_content_e16() {
    let r = convert(fixture!("response_safety_block.json"));
    let m = &r.choices[0].message;
    assert_eq!(
        r.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(m.content, None);
    assert_eq!(
        m.refusal.as_deref(),
        Some("The response was blocked by the provider's content filter (SAFETY).")
    );
    // Partial text before a filter is not passed on.
    let body = json!({"candidates": [{"content": {"parts": [{"text": "Verbatim lyr"}]},
                                      "finishReason": "RECITATION"}]});
    let r = convert(&body.to_string());
    assert_eq!(r.choices[0].message.content, None);
    assert_eq!(
        r.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
}

#[test]
fn finish_reasons_map_as_documented() {
    let cases = [
        (Some("STOP"), FinishReason::Stop),
        (Some("MAX_TOKENS"), FinishReason::Length),
        (Some("SAFETY"), FinishReason::ContentFilter),
        (Some("BLOCKLIST"), FinishReason::ContentFilter),
        (Some("PROHIBITED_CONTENT"), FinishReason::ContentFilter),
        (Some("SPII"), FinishReason::ContentFilter),
        (Some("IMAGE_SAFETY"), FinishReason::ContentFilter),
        (Some("LANGUAGE"), FinishReason::ContentFilter),
        (Some("RECITATION"), FinishReason::ContentFilter),
        (Some("MALFORMED_FUNCTION_CALL"), FinishReason::Stop),
        (Some("OTHER"), FinishReason::Stop),
        (Some("FINISH_REASON_UNSPECIFIED"), FinishReason::Stop),
        (None, FinishReason::Stop),
    ];
    for (reason, want) in cases {
        assert_eq!(finish_reason(reason, false), want, "{reason:?}");
    }
}

#[test]
fn blocked_prompt_is_a_content_filter_choice_not_an_error_e16() {
    let r = convert(fixture!("response_prompt_block.json"));
    assert_eq!(r.choices.len(), 1);
    let c = &r.choices[0];
    assert_eq!(c.index, 0);
    assert_eq!(c.finish_reason, Some(FinishReason::ContentFilter));
    assert_eq!(c.message.content, None);
    assert!(c
        .message
        .refusal
        .as_deref()
        .unwrap()
        .contains("PROHIBITED_CONTENT"));
    assert_eq!(r.usage.unwrap().prompt_tokens, 17);
}

#[test]
fn multiple_candidates_become_multiple_choices() {
    let r = convert(fixture!("response_multiple_candidates.json"));
    let got: Vec<(u32, Option<&str>)> = r
        .choices
        .iter()
        .map(|c| (c.index, c.message.content.as_deref()))
        .collect();
    assert_eq!(got, [(0, Some("Blue.")), (1, Some("The sky is blue."))]);
    // Without `index`, the position is the index.
    let body = json!({"candidates": [{"content": {"parts": [{"text": "a"}]}},
                                     {"content": {"parts": [{"text": "b"}]}}]});
    let r = convert(&body.to_string());
    assert_eq!(
        r.choices.iter().map(|c| c.index).collect::<Vec<_>>(),
        [0, 1]
    );
}

#[test]
fn usage_maps_thoughts_and_cache_e30() {
    let u = usage_from(&UsageMetadata {
        prompt_token_count: Some(1000),
        candidates_token_count: Some(20),
        thoughts_token_count: Some(300),
        cached_content_token_count: Some(800),
        total_token_count: Some(1325),
        tool_use_prompt_token_count: Some(5),
    });
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (1000, 320, 1325)
    );
    assert_eq!(u.cached_tokens(), 800);
    assert_eq!(
        u.completion_tokens_details.unwrap().reasoning_tokens,
        Some(300)
    );
    let u = usage_from(&UsageMetadata {
        prompt_token_count: Some(10),
        candidates_token_count: Some(5),
        ..Default::default()
    });
    assert_eq!(u.total_tokens, 15, "total computed when missing");
}

#[test]
fn unreadable_bodies_are_bad_upstream_responses() {
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        "{\"candidates\": []}",
        "{\"candidates\": 3}",
        "null",
    ] {
        let e = from_gemini(body.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadUpstreamResponse, "{body}");
    }
    let e = from_gemini(fixture!("error_500_internal.json").as_bytes(), &ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Upstream(500));
}

#[test]
fn created_is_the_contexts_no_clock_is_read_here() {
    let ctx = ResponseContext {
        created: 1_750_000_000,
        ..Default::default()
    };
    let r = from_gemini(fixture!("response_protocols_3_7.json").as_bytes(), &ctx).unwrap();
    assert_eq!(r.created, 1_750_000_000);
}

/// (fixture, status, retry-after header, kind, code, message start, retry_after)
type ErrorRow = (
    &'static str,
    u16,
    Option<&'static str>,
    ErrorKind,
    Option<&'static str>,
    &'static str,
    Option<u64>,
);

#[test]
fn error_bodies_map_to_upstream_errors() {
    let rows: [ErrorRow; 8] = [
        (
            fixture!("error_400_invalid_argument.json"),
            400,
            None,
            ErrorKind::Upstream(400),
            Some("INVALID_ARGUMENT"),
            "* GenerateContentRequest.tools[0]",
            None,
        ),
        // E29: an invalid key is a 400 upstream, a 401 to the caller
        (
            fixture!("error_400_api_key_invalid.json"),
            400,
            None,
            ErrorKind::Upstream(401),
            Some("invalid_api_key"),
            "API key not valid.",
            None,
        ),
        (
            fixture!("error_429_resource_exhausted.json"),
            429,
            None,
            ErrorKind::Upstream(429),
            Some("rate_limit_exceeded"),
            "You exceeded your current quota",
            Some(17),
        ),
        (
            fixture!("error_429_resource_exhausted.json"),
            429,
            Some("5"),
            ErrorKind::Upstream(429),
            Some("rate_limit_exceeded"),
            "You exceeded your current quota",
            Some(5),
        ),
        (
            fixture!("error_500_internal.json"),
            500,
            None,
            ErrorKind::Upstream(500),
            Some("INTERNAL"),
            "An internal error has occurred.",
            None,
        ),
        (
            fixture!("error_503_array_wrapped.json"),
            503,
            None,
            ErrorKind::Upstream(503),
            Some("UNAVAILABLE"),
            "The model is overloaded.",
            None,
        ),
        (
            fixture!("error_404_not_found.json"),
            404,
            None,
            ErrorKind::Upstream(404),
            Some("model_not_found"),
            "models/gemini-0.9-ultra is not found",
            None,
        ),
        (
            "<html>Bad Gateway</html>",
            502,
            None,
            ErrorKind::Upstream(502),
            None,
            "Gemini returned HTTP 502",
            None,
        ),
    ];
    for (body, status, header, kind, code, message, retry) in rows {
        let header = header.and_then(|h: &str| h.parse().ok().map(Duration::from_secs));
        let e = error_from_gemini(status, body.as_bytes(), header);
        assert_eq!(e.kind, kind, "{body}");
        assert_eq!(e.code.as_deref(), code, "{body}");
        assert!(e.message.starts_with(message), "{} / {body}", e.message);
        assert_eq!(e.retry_after, retry.map(Duration::from_secs), "{body}");
    }
}

#[test]
fn invalid_key_is_401_for_openai_clients_e29() {
    let e = error_from_gemini(
        400,
        fixture!("error_400_api_key_invalid.json").as_bytes(),
        None,
    );
    assert_eq!(e.kind, ErrorKind::Upstream(401));
    assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
}

#[test]
fn retry_delay_is_read_with_bounds() {
    let cases = [
        (json!("17s"), Some(17_000)),
        (json!("0.4s"), Some(400)),
        (json!("2.000s"), Some(2_000)),
        (json!({"seconds": "30"}), Some(30_000)),
        (json!("soon"), None),
        (json!("-3s"), None),
        (json!("1e30s"), None),
    ];
    for (delay, want) in cases {
        let details =
            [json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})];
        let want = want.map(Duration::from_millis);
        assert_eq!(retry_delay(&details), want, "{delay}");
    }
}
