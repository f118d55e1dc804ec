//! Tests of the module `stream`.

use super::*;
use crate::protocol::gemini::provider::decode_tool_call_id;
use crate::protocol::sse::SseParser;
use crate::protocol::ErrorKind;
use serde_json::{json, Value};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gemini/",
            $name
        ))
    };
}

const ALL: [&str; 12] = [
    fixture!("stream_protocols_4_6.sse"),
    fixture!("stream_text.sse"),
    fixture!("stream_crlf.sse"),
    fixture!("stream_thinking_tools.sse"),
    fixture!("stream_usage_final_only.sse"),
    fixture!("stream_usage_gap.sse"),
    fixture!("stream_prompt_block.sse"),
    fixture!("stream_safety_mid.sse"),
    fixture!("stream_error.sse"),
    fixture!("stream_truncated.sse"),
    fixture!("stream_multiple_candidates.sse"),
    "",
];

/// What a stream turned into: every chunk (including those of
/// `finish()`), the error that ended it if any, and the usage.
#[derive(Debug, PartialEq)]
struct Outcome {
    chunks: Vec<ChatChunk>,
    error: Option<Error>,
    usage: Option<Usage>,
}

fn ctx() -> ResponseContext {
    ResponseContext {
        model: "gemini-requested".to_owned(),
        created: 0,
    }
}

/// Feeds `input` in pieces of `piece` bytes through the SSE parser and
/// the decoder, as the pump does.
fn run(input: &[u8], piece: usize) -> Outcome {
    let mut parser = SseParser::new();
    let mut decoder = GeminiToOpenAi::new(ctx(), 1_730_000_000);
    let mut chunks = Vec::new();
    let mut events = Vec::new();
    let mut feed_all = |events: &mut Vec<SseEvent>, chunks: &mut Vec<ChatChunk>| {
        for ev in events.drain(..) {
            match decoder.feed(&ev) {
                Ok(c) => chunks.extend(c),
                Err(e) => return Some(e),
            }
        }
        None
    };
    for bytes in input.chunks(piece.max(1)) {
        parser.feed(bytes, &mut events).expect("within limits");
        if let Some(error) = feed_all(&mut events, &mut chunks) {
            return Outcome {
                chunks,
                error: Some(error),
                usage: decoder.usage(),
            };
        }
    }
    events.extend(parser.finish().expect("within limits"));
    if let Some(error) = feed_all(&mut events, &mut chunks) {
        return Outcome {
            chunks,
            error: Some(error),
            usage: decoder.usage(),
        };
    }
    let error = match decoder.finish() {
        Ok(c) => {
            chunks.extend(c);
            None
        }
        Err(e) => Some(e),
    };
    Outcome {
        chunks,
        error,
        usage: decoder.usage(),
    }
}

fn whole(input: &str) -> Outcome {
    run(input.as_bytes(), input.len())
}

fn deltas(o: &Outcome) -> Vec<Value> {
    o.chunks
        .iter()
        .map(|c| {
            let ch = &c.choices[0];
            json!({"i": ch.index, "delta": ch.delta, "finish": ch.finish_reason})
        })
        .collect()
}

#[test]
fn protocols_4_6_worked_example() {
    let out = whole(fixture!("stream_protocols_4_6.sse"));
    assert_eq!(out.error, None);
    let expected: Vec<Value> = fixture!("stream_protocols_4_6.openai.sse")
        .split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let (usage_chunk, content_chunks) = expected.split_last().unwrap();
    let mut got: Vec<Value> = out
        .chunks
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap();
            // The recorded example leaves out null logprobs.
            v["choices"][0].as_object_mut().unwrap().remove("logprobs");
            v
        })
        .collect();
    // The id is ours: a synthesized call id carrying the signature (E18).
    let id_slot = &mut got[1]["choices"][0]["delta"]["tool_calls"][0]["id"];
    let id = id_slot.as_str().unwrap().to_owned();
    assert!(id.starts_with("call_"), "{id}");
    assert_eq!(
        decode_tool_call_id(&id).signature.as_deref(),
        Some("CiQBVKhc...")
    );
    *id_slot = json!("call_3f9c2a7e");
    assert_eq!(got, content_chunks);
    // Decoders record usage; the pipeline sends the usage chunk (E11).
    assert_eq!(
        serde_json::to_value(out.usage.unwrap()).unwrap(),
        usage_chunk["usage"]
    );
}

#[test]
fn byte_split_input_gives_the_same_result_at_every_piece_size() {
    for input in ALL {
        let reference = whole(input);
        for piece in 1..input.len() {
            assert_eq!(
                run(input.as_bytes(), piece),
                reference,
                "piece {piece} of {input}"
            );
        }
    }
}

#[test]
fn crlf_framing_gives_the_same_chunks() {
    assert_eq!(
        whole(fixture!("stream_crlf.sse")),
        whole(fixture!("stream_text.sse"))
    );
    for input in ALL {
        let crlf = input.replace("\r\n", "\n").replace('\n', "\r\n");
        assert_eq!(whole(&crlf), whole(input), "{input}");
    }
}

#[test]
fn text_stream_sends_role_once_then_deltas_then_finish() {
    let out = whole(fixture!("stream_text.sse"));
    assert_eq!(
        deltas(&out),
        [
            json!({"i": 0, "delta": {"role": "assistant", "content": "The capital"}, "finish": null}),
            json!({"i": 0, "delta": {"content": " of France"}, "finish": null}),
            json!({"i": 0, "delta": {"content": " is Paris."}, "finish": null}),
            json!({"i": 0, "delta": {}, "finish": "stop"}),
        ]
    );
    assert!(out
        .chunks
        .iter()
        .all(|c| &*c.id == "chatcmpl-stx1aOKsGJWZz7IPkrGYiAk"
            && &*c.model == "gemini-2.5-flash"
            && c.created == 1_730_000_000
            && c.usage.is_none()));
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (8, 8, 16)
    );
}

#[test]
fn thoughts_text_and_parallel_calls_stream_in_order_e17_e18() {
    let out = whole(fixture!("stream_thinking_tools.sse"));
    assert_eq!(out.error, None);
    let d = deltas(&out);
    assert_eq!(d.len(), 5);
    assert_eq!(
        d[0],
        json!({"i": 0, "delta": {"role": "assistant",
            "reasoning_content": "**Planning the lookup**\n\nThe user wants the weather in two cities."}, "finish": null})
    );
    assert_eq!(
        d[1],
        json!({"i": 0, "delta": {"reasoning_content": " I will call the tool twice."}, "finish": null})
    );
    assert_eq!(
        d[2],
        json!({"i": 0, "delta": {"content": "Let me check both cities."}, "finish": null})
    );
    let calls = out.chunks[3].choices[0].delta.tool_calls.clone().unwrap();
    assert_eq!(calls.len(), 2);
    for (k, call) in calls.iter().enumerate() {
        assert_eq!(call.index, u32::try_from(k).unwrap());
        assert_eq!(call.kind.as_deref(), Some("function"));
        let f = call.function.as_ref().unwrap();
        assert_eq!(f.name.as_deref(), Some("get_weather"));
    }
    assert_eq!(
        calls[0].function.as_ref().unwrap().arguments.as_deref(),
        Some(r#"{"city":"Paris"}"#)
    );
    let first = decode_tool_call_id(calls[0].id.as_deref().unwrap());
    assert!(
        first.signature.is_some(),
        "first call carries the signature"
    );
    assert_eq!(
        decode_tool_call_id(calls[1].id.as_deref().unwrap()).signature,
        None
    );
    // Gemini said STOP; a call was made (E17).
    assert_eq!(d[4], json!({"i": 0, "delta": {}, "finish": "tool_calls"}));
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (96, 118, 214)
    );
    assert_eq!(
        u.completion_tokens_details.unwrap().reasoning_tokens,
        Some(88)
    );
}

#[test]
fn usage_is_the_last_seen_and_never_reset_e12() {
    // Only the final event carries usage.
    let out = whole(fixture!("stream_usage_final_only.sse"));
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (5, 3, 8)
    );
    // Later events without usage keep the earlier value.
    let out = whole(fixture!("stream_usage_gap.sse"));
    assert_eq!(out.error, None);
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (12, 1, 13)
    );
    // Running totals replace each other, they are not added up.
    let out = whole(fixture!("stream_text.sse"));
    assert_eq!(out.usage.unwrap().completion_tokens, 8);
}

#[test]
fn blocked_prompt_stream_finishes_with_content_filter_e16() {
    let out = whole(fixture!("stream_prompt_block.sse"));
    assert_eq!(out.error, None);
    assert_eq!(
        deltas(&out),
        [json!({"i": 0, "delta": {"role": "assistant",
            "refusal": "The prompt was blocked by the provider's content filter (SAFETY)."},
            "finish": "content_filter"})]
    );
    assert_eq!(out.usage.unwrap().prompt_tokens, 11);
}

#[test]
fn output_blocked_mid_stream_finishes_with_content_filter() {
    let out = whole(fixture!("stream_safety_mid.sse"));
    assert_eq!(
        deltas(&out),
        [
            json!({"i": 0, "delta": {"role": "assistant", "content": "Here is how you"}, "finish": null}),
            json!({"i": 0, "delta": {"refusal": "The response was blocked by the provider's content filter (SAFETY)."},
                   "finish": "content_filter"}),
        ]
    );
}

#[test]
fn an_error_event_is_an_err() {
    let out = whole(fixture!("stream_error.sse"));
    assert_eq!(out.chunks.len(), 1, "the text before the error went out");
    let e = out.error.unwrap();
    assert_eq!(e.kind, ErrorKind::Upstream(503));
    assert_eq!(
        e.message,
        "The model is overloaded. Please try again later."
    );
}

#[test]
fn a_stream_cut_before_finish_reason_is_an_error() {
    for input in [fixture!("stream_truncated.sse"), ""] {
        let out = whole(input);
        let e = out.error.unwrap();
        assert_eq!(e.kind, ErrorKind::BadUpstreamResponse);
        assert_eq!(e.message, "Gemini stream ended before finishReason");
    }
}

#[test]
fn multiple_candidates_stream_as_separate_choices() {
    let out = whole(fixture!("stream_multiple_candidates.sse"));
    assert_eq!(
        deltas(&out),
        [
            json!({"i": 0, "delta": {"role": "assistant", "content": "Blue"}, "finish": null}),
            json!({"i": 1, "delta": {"role": "assistant", "content": "The sky"}, "finish": null}),
            json!({"i": 0, "delta": {"content": "."}, "finish": null}),
            json!({"i": 0, "delta": {}, "finish": "stop"}),
            json!({"i": 1, "delta": {"content": " is blue."}, "finish": null}),
            json!({"i": 1, "delta": {}, "finish": "stop"}),
        ]
    );
}

#[test]
fn an_unfinished_candidate_is_closed_when_another_finished() {
    let mut d = GeminiToOpenAi::new(ctx(), 1);
    let ev = |data: Value| SseEvent {
        event: None,
        data: data.to_string(),
    };
    d.feed(&ev(json!({"candidates": [
        {"content": {"parts": [{"text": "a"}]}, "index": 0, "finishReason": "STOP"},
        {"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}, "index": 1}
    ]})))
    .unwrap();
    let rest = d.finish().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].choices[0].index, 1);
    assert_eq!(
        rest[0].choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
    // No response id or model version: a synthesized id and the requested model.
    assert!(rest[0].id.starts_with("chatcmpl-") && rest[0].id.len() > 9);
    assert_eq!(&*rest[0].model, "gemini-requested");
}

#[test]
fn unreadable_events_are_bad_upstream_responses() {
    for data in ["{not json", "[1,2]", "{\"candidates\": \"x\"}"] {
        let mut d = GeminiToOpenAi::new(ctx(), 1);
        let e = d
            .feed(&SseEvent {
                event: None,
                data: data.to_owned(),
            })
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadUpstreamResponse, "{data}");
    }
    let mut d = GeminiToOpenAi::new(ctx(), 1);
    assert_eq!(
        d.feed(&SseEvent {
            event: None,
            data: " ".to_owned()
        })
        .unwrap(),
        []
    );
}
