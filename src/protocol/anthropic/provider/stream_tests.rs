//! Tests of the module `stream`.

use super::super::tests::{damaged, run_stream, StreamRun};
use super::*;
use crate::protocol::openai::{PromptTokensDetails, ToolCall};

const WORKED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_text_then_tool.sse"
));
const WORKED_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_text_then_tool.openai.sse"
));
const THINKING: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_thinking.sse"
));
const TOOLS_NO_ARGS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_parallel_tools_no_args.sse"
));
const ERROR: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_error_overloaded.sse"
));
const USAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_usage_deltas.sse"
));
const JSON_MODE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_json_mode.sse"
));
const CUT_OFF: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/stream_cut_off.sse"
));

const ALL: &[(&str, &str)] = &[
    ("stream_text_then_tool", WORKED),
    ("stream_thinking", THINKING),
    ("stream_parallel_tools_no_args", TOOLS_NO_ARGS),
    ("stream_error_overloaded", ERROR),
    ("stream_usage_deltas", USAGE),
    ("stream_json_mode", JSON_MODE),
    ("stream_cut_off", CUT_OFF),
];

fn run(sse: &str) -> StreamRun {
    run_stream(&ResponseContext::default(), sse.as_bytes(), usize::MAX)
}

fn json_ctx() -> ResponseContext {
    ResponseContext {
        json_tool: Some("json_response".to_owned()),
        ..ResponseContext::default()
    }
}

fn deltas(r: &StreamRun) -> Vec<&Delta> {
    r.chunks
        .iter()
        .flat_map(|c| &c.choices)
        .map(|c| &c.delta)
        .collect()
}

fn content(r: &StreamRun) -> String {
    deltas(r)
        .iter()
        .filter_map(|d| d.content.as_deref())
        .collect()
}

/// Joins tool-call deltas per index, as a client does (E8).
fn tool_calls(r: &StreamRun) -> Vec<ToolCall> {
    let mut calls: Vec<ToolCall> = Vec::new();
    for d in deltas(r).iter().flat_map(|d| d.tool_calls.iter().flatten()) {
        let i = d.index as usize;
        if i == calls.len() {
            calls.push(ToolCall {
                id: d.id.clone().unwrap_or_default(),
                kind: "function".to_owned(),
                function: crate::protocol::openai::FunctionCall {
                    name: String::new(),
                    arguments: String::new(),
                },
            });
        }
        let f = d.function.as_ref().unwrap();
        if let Some(n) = &f.name {
            calls[i].function.name.push_str(n);
        }
        if let Some(a) = &f.arguments {
            calls[i].function.arguments.push_str(a);
        }
    }
    calls
}

fn finish(r: &StreamRun) -> Option<FinishReason> {
    r.chunks.last().and_then(|c| c.choices[0].finish_reason)
}

/// The `data:` payloads of an OpenAI SSE text, without `[DONE]`.
fn openai_chunks(text: &str) -> Vec<ChatChunk> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[test]
fn worked_example_4_3_converts_verbatim() {
    let mut want = openai_chunks(WORKED_OPENAI);
    let usage_chunk = want.pop().unwrap();
    assert!(usage_chunk.choices.is_empty());
    let r = run(WORKED);
    r.end.as_ref().unwrap();
    assert_eq!(r.chunks, want);
    assert_eq!(r.usage, usage_chunk.usage);
}

#[test]
fn reads_split_at_every_size_with_lf_crlf_and_comments_give_the_same_chunks() {
    for (name, sse) in ALL {
        let reference = run(sse);
        let crlf = sse.replace('\n', "\r\n");
        let commented = sse.replace("event: ", ": keep-alive\nevent: ");
        for variant in [sse.to_string(), crlf, commented] {
            for piece in 1..=variant.len() {
                let r = run_stream(&ResponseContext::default(), variant.as_bytes(), piece);
                assert_eq!(r.chunks, reference.chunks, "{name}, piece {piece}");
                assert_eq!(r.end, reference.end, "{name}, piece {piece}");
                assert_eq!(r.usage, reference.usage, "{name}, piece {piece}");
            }
        }
    }
}

#[test]
fn tool_without_argument_fragments_gets_an_empty_object_e9() {
    let r = run(TOOLS_NO_ARGS);
    r.end.as_ref().unwrap();
    let calls = tool_calls(&r);
    let got: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.function.name.as_str(),
                c.function.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "toolu_01Paris4sVb9QnTzYk2Lh8Mw",
                "get_weather",
                r#"{"city": "Paris"}"#
            ),
            ("toolu_01Time2bHq8TzVnMx4Kp6Rw", "get_time", "{}"),
            ("toolu_01Date5kWq3RzTnMx8Lp2Vb", "get_date", "{}"),
        ]
    );
    // No fragment is the empty `{}` shell of content_block_start, and no
    // empty fragment is forwarded.
    let fragments: Vec<&str> = deltas(&r)
        .iter()
        .flat_map(|d| d.tool_calls.iter().flatten())
        .filter(|t| t.id.is_none())
        .filter_map(|t| t.function.as_ref()?.arguments.as_deref())
        .collect();
    assert_eq!(fragments, [r#"{"city": "Paris"}"#, "{}", "{}"]);
    assert_eq!(finish(&r), Some(FinishReason::ToolCalls));
}

#[test]
fn tool_indices_count_tool_calls_only() {
    let r = run(WORKED);
    let indices: Vec<u32> = deltas(&r)
        .iter()
        .flat_map(|d| d.tool_calls.iter().flatten())
        .map(|t| t.index)
        .collect();
    assert_eq!(indices, [0, 0, 0]);
}

#[test]
fn thinking_streams_as_reasoning_and_closes_with_its_signature_e18() {
    let r = run(THINKING);
    r.end.as_ref().unwrap();
    let reasoning: String = deltas(&r)
        .iter()
        .filter_map(|d| d.reasoning_content.as_deref())
        .collect();
    assert_eq!(
        reasoning,
        "27 * 453 = 27 * 400 + 27 * 53 = 10800 + 1431 = 12231."
    );
    let blocks: Vec<&ThinkingBlock> = deltas(&r)
        .iter()
        .flat_map(|d| d.thinking_blocks.iter().flatten())
        .collect();
    assert_eq!(blocks.len(), 2);
    assert!(
        matches!(blocks[0], ThinkingBlock::Thinking { thinking, signature }
        if thinking == &reasoning && signature.starts_with("EqQBCkgIARAB"))
    );
    assert!(matches!(blocks[1], ThinkingBlock::RedactedThinking { data }
        if data.starts_with("EmwKAhgB")));
    assert_eq!(content(&r), "27 × 453 = 12,231.");
    // The thinking block chunk comes before any text.
    let first_text = r
        .chunks
        .iter()
        .position(|c| {
            c.choices[0]
                .delta
                .content
                .as_deref()
                .is_some_and(|t| !t.is_empty())
        })
        .unwrap();
    let first_block = r
        .chunks
        .iter()
        .position(|c| c.choices[0].delta.thinking_blocks.is_some())
        .unwrap();
    assert!(first_block < first_text);
}

#[test]
fn usage_is_cumulative_and_a_later_delta_does_not_clobber_it_e12() {
    let r = run(USAGE);
    r.end.as_ref().unwrap();
    assert_eq!(
        r.usage,
        Some(Usage {
            prompt_tokens: 10_221,
            completion_tokens: 17,
            total_tokens: 10_238,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(9000),
                cache_write_tokens: Some(1200),
            }),
            completion_tokens_details: None,
        })
    );
    // The second message_delta has `stop_reason: null`: end_turn stays.
    assert_eq!(finish(&r), Some(FinishReason::Stop));
    // No chunk carries usage: the pipeline appends the usage chunk (E11).
    assert!(r.chunks.iter().all(|c| c.usage.is_none()));
}

#[test]
fn usage_is_known_from_message_start_on_e12() {
    let mut conv = AnthropicToOpenAi::new(ResponseContext::default(), 0);
    assert_eq!(conv.usage(), None);
    let start = WORKED.split("\n\n").next().unwrap();
    let data = start
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("data: ")
        .unwrap();
    conv.feed(&SseEvent {
        event: Some("message_start".to_owned()),
        data: data.to_owned(),
    })
    .unwrap();
    let u = conv.usage().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (472, 2));
}

#[test]
fn error_event_becomes_an_upstream_error_e26() {
    let r = run(ERROR);
    assert_eq!(content(&r), "Sure, here");
    let e = r.end.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Upstream(529));
    assert_eq!(e.message, "anthropic: Overloaded");
    assert_eq!(e.code.as_deref(), Some("overloaded"));
}

#[test]
fn error_event_types_keep_their_status_e26() {
    let table = [
        ("overloaded_error", 529),
        ("rate_limit_error", 429),
        ("api_error", 500),
        ("invalid_request_error", 400),
        ("timeout_error", 504),
    ];
    for (kind, status) in table {
        let mut conv = AnthropicToOpenAi::new(ResponseContext::default(), 0);
        let data = format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"m"}}}}"#);
        let e = conv
            .feed(&SseEvent {
                event: Some("error".to_owned()),
                data,
            })
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Upstream(status), "{kind}");
    }
}

#[test]
fn stream_without_message_stop_is_an_error() {
    let r = run(CUT_OFF);
    assert_eq!(content(&r), "The answer is");
    let e = r.end.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadUpstreamResponse);
    assert_eq!(e.message, "upstream stream ended before message_stop");
}

#[test]
fn json_mode_tool_fragments_become_content() {
    let r = run_stream(&json_ctx(), JSON_MODE.as_bytes(), usize::MAX);
    r.end.as_ref().unwrap();
    assert_eq!(content(&r), r#"{"name": "Ada Lovelace", "born": 1815}"#);
    assert!(deltas(&r).iter().all(|d| d.tool_calls.is_none()));
    assert_eq!(finish(&r), Some(FinishReason::Stop));
}

#[test]
fn json_mode_tool_without_fragments_gives_an_empty_object_e9() {
    let sse = JSON_MODE
        .split("\n\n")
        .filter(|e| !e.contains("input_json_delta"))
        .collect::<Vec<_>>()
        .join("\n\n");
    let r = run_stream(&json_ctx(), sse.as_bytes(), usize::MAX);
    assert_eq!(content(&r), "{}");
}

#[test]
fn prefill_is_sent_in_the_role_chunk_e19() {
    let ctx = ResponseContext {
        prefill: Some("Once upon".to_owned()),
        ..ResponseContext::default()
    };
    let r = run_stream(&ctx, WORKED.as_bytes(), usize::MAX);
    assert_eq!(
        r.chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(content(&r), "Once uponLet me check.");
}

#[test]
fn renamed_tools_get_their_names_back() {
    let ctx = ResponseContext {
        tool_names: vec![("get_weather".to_owned(), "weather.get".to_owned())],
        ..ResponseContext::default()
    };
    let r = run_stream(&ctx, WORKED.as_bytes(), usize::MAX);
    assert_eq!(tool_calls(&r)[0].function.name, "weather.get");
}

#[test]
fn all_chunks_share_id_created_and_model() {
    for (name, sse) in ALL {
        let r = run(sse);
        assert!(!r.chunks.is_empty(), "{name}");
        for c in &r.chunks {
            assert!(c.id.starts_with("chatcmpl-msg_01"), "{name}");
            assert_eq!(c.id, r.chunks[0].id, "{name}");
            assert_eq!(c.created, 1_730_000_000, "{name}");
            assert_eq!(c.model, r.chunks[0].model, "{name}");
            assert_eq!(c.object, "chat.completion.chunk");
        }
    }
}

#[test]
fn pings_unknown_events_and_events_after_message_stop_are_ignored() {
    let mut conv = AnthropicToOpenAi::new(ResponseContext::default(), 0);
    for data in [
        r#"{"type":"ping"}"#,
        r#"{"type":"something_new","x":1}"#,
        r#"{"type":"message_stop"}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}"#,
    ] {
        let ev = SseEvent {
            event: None,
            data: data.to_owned(),
        };
        let chunks = conv.feed(&ev).unwrap();
        assert!(chunks.iter().all(|c| c.choices[0].delta.content.is_none()));
    }
    assert!(conv.finish().unwrap().is_empty());
}

#[test]
fn unreadable_known_events_are_bad_upstream_responses() {
    for data in [
        "not json",
        r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}"#,
        r#"{"type":"message_start"}"#,
    ] {
        let mut conv = AnthropicToOpenAi::new(ResponseContext::default(), 0);
        let ev = SseEvent {
            event: Some("content_block_delta".to_owned()),
            data: data.to_owned(),
        };
        assert_eq!(
            conv.feed(&ev).unwrap_err().kind,
            ErrorKind::BadUpstreamResponse,
            "{data}"
        );
    }
}

#[test]
fn damaged_streams_never_panic() {
    for (_, sse) in ALL {
        for bytes in damaged(sse.as_bytes()) {
            run_stream(&json_ctx(), &bytes, usize::MAX);
            run_stream(&ResponseContext::default(), &bytes, 7);
        }
    }
}

#[test]
fn the_leading_type_dispatches_only_plain_leading_types() {
    let kind = |d: &str| EventType::leading(d).map(|t| t.kind.into_owned());
    assert_eq!(
        kind(r#"{"type":"content_block_delta","index":0}"#).as_deref(),
        Some("content_block_delta")
    );
    assert_eq!(kind(r#"{ "type": "ping"}"#), None);
    assert_eq!(kind(r#"{"index":0,"type":"ping"}"#), None);
    assert_eq!(kind(r#"{"type":"a\"b"}"#), None);
    assert_eq!(kind(r#"{"type":"unterminated"#), None);
}

#[test]
fn an_event_dispatched_by_its_leading_type_is_still_checked_whole() {
    let mut d = AnthropicToOpenAi::new(ResponseContext::default(), 0);
    for data in [
        r#"{"type":"content_block_delta","index":0,"delta":"#,
        r#"{"type":"ping""#,
    ] {
        let ev = SseEvent {
            event: None,
            data: data.to_owned(),
        };
        assert_eq!(
            d.feed(&ev).unwrap_err().kind,
            ErrorKind::BadUpstreamResponse,
            "{data}"
        );
    }
}
