//! Tests of the module `stream`.

use super::*;
use crate::protocol::openai::stream::OpenAiChunkDecoder;
use crate::protocol::openai::{ChunkChoice, FinishReason, FunctionDelta, PromptTokensDetails};
use crate::protocol::sse::{SseEvent, SseParser};
use crate::protocol::testing::run_decoder;
use crate::protocol::ChunkDecoder;
use serde_json::{json, Value};

const WORKED_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_text_then_tool.openai.sse"
));
const WORKED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_text_then_tool.sse"
));
const PARALLEL_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_parallel_tools.openai.sse"
));
const PARALLEL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_parallel_tools.sse"
));
const REASONING_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_reasoning_then_text.openai.sse"
));
const REASONING: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_reasoning_then_text.sse"
));
const ONE_CHUNK_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_single_chunk.openai.sse"
));
const ONE_CHUNK: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_single_chunk.sse"
));
const NO_INDEX_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_tool_index_missing.openai.sse"
));
const NO_INDEX: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/stream_tool_index_missing.sse"
));

type Events = Vec<(String, Value)>;

/// Parses the encoder's output back into (event name, JSON) pairs.
fn events(out: &[u8]) -> Events {
    let mut parser = SseParser::new();
    let mut evs = Vec::new();
    parser.feed(out, &mut evs).expect("within limits");
    assert!(
        parser.finish().expect("within limits").is_none(),
        "trailing bytes"
    );
    evs.into_iter()
        .map(|e| {
            let name = e.event.expect("every event is named");
            let data: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(data["type"], name.as_str(), "type equals the event name");
            (name, data)
        })
        .collect()
}

fn ctx() -> InboundContext {
    InboundContext::new("claude-sonnet-4-5")
}

fn run_with(ctx: InboundContext, chunks: &[ChatChunk], usage: Option<Usage>) -> Events {
    let mut enc = AnthropicEncoder::new(ctx);
    let mut out = BytesMut::new();
    for c in chunks {
        enc.chunk(c, &mut out);
    }
    enc.end(usage, &mut out);
    let evs = events(&out);
    check_well_formed(&evs);
    evs
}

fn run(chunks: &[ChatChunk], usage: Option<Usage>) -> Events {
    run_with(ctx(), chunks, usage)
}

/// Decodes an OpenAI SSE text and encodes it for an Anthropic caller, as
/// the pipeline (`protocol::Decoded`) does.
fn pipeline(ctx: InboundContext, openai_sse: &str) -> Events {
    let r = run_decoder(OpenAiChunkDecoder::new(), openai_sse.as_bytes(), usize::MAX);
    r.end.unwrap();
    run_with(ctx, &r.chunks, r.usage)
}

/// The invariants every Anthropic stream keeps: `message_start` first,
/// blocks opened at 0, 1, 2, … and closed before the next opens, deltas
/// only on the open block and of its kind, tool input fragments joining
/// into a JSON object, then `message_delta` and `message_stop` last.
fn check_well_formed(evs: &Events) {
    check_structure(evs, true)
}

fn check_structure(evs: &Events, tool_json: bool) {
    assert_eq!(evs.first().map(|e| e.0.as_str()), Some("message_start"));
    let n = evs.len();
    assert!(n >= 3);
    assert_eq!(evs[n - 2].0, "message_delta");
    assert_eq!(evs[n - 1].0, "message_stop");
    let mut next = 0;
    let mut open: Option<(u64, String, String)> = None;
    for (name, data) in &evs[1..n - 2] {
        match name.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "a block opened while another is open");
                assert_eq!(data["index"], next);
                let kind = data["content_block"]["type"].as_str().unwrap().to_owned();
                if kind == "text" {
                    assert_eq!(data["content_block"]["text"], "");
                }
                if kind == "tool_use" {
                    assert_eq!(data["content_block"]["input"], json!({}));
                    let id = data["content_block"]["id"].as_str().unwrap();
                    assert!(!id.is_empty());
                    assert!(id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
                }
                open = Some((next, kind, String::new()));
                next += 1;
            }
            "content_block_delta" => {
                let (index, kind, json) = open.as_mut().expect("delta outside a block");
                assert_eq!(data["index"], *index);
                let dtype = data["delta"]["type"].as_str().unwrap();
                match (kind.as_str(), dtype) {
                    ("text", "text_delta") => {
                        assert_ne!(data["delta"]["text"], "", "empty text delta")
                    }
                    ("thinking", "thinking_delta" | "signature_delta") => {}
                    ("tool_use", "input_json_delta") => {
                        json.push_str(data["delta"]["partial_json"].as_str().unwrap())
                    }
                    other => panic!("delta {other:?}"),
                }
            }
            "content_block_stop" => {
                let (index, kind, json) = open.take().expect("stop outside a block");
                assert_eq!(data["index"], index);
                if tool_json && kind == "tool_use" && !json.is_empty() {
                    let v: Value = serde_json::from_str(&json)
                        .unwrap_or_else(|e| panic!("{json:?} is not JSON: {e}"));
                    assert!(v.is_object(), "{json}");
                }
            }
            other => panic!("unexpected event {other} mid-stream"),
        }
    }
    assert!(open.is_none(), "a block left open");
}

fn expected(sse: &str) -> Events {
    events(sse.as_bytes())
}

fn chunk(delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    ChatChunk {
        id: "chatcmpl-9".into(),
        object: "chat.completion.chunk".into(),
        created: 1,
        model: "gpt-4.1".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
            logprobs: None,
        }],
        usage: None,
    }
}

fn text(s: &str) -> ChatChunk {
    chunk(
        Delta {
            content: Some(s.to_owned()),
            ..Delta::default()
        },
        None,
    )
}

fn reasoning(s: &str) -> ChatChunk {
    chunk(
        Delta {
            reasoning_content: Some(s.to_owned()),
            ..Delta::default()
        },
        None,
    )
}

fn tool(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
    chunk(
        Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: id.map(str::to_owned),
                kind: id.map(|_| "function".to_owned()),
                function: Some(FunctionDelta {
                    name: name.map(str::to_owned),
                    arguments: Some(args.to_owned()),
                }),
            }]),
            ..Delta::default()
        },
        None,
    )
}

fn finish(reason: FinishReason) -> ChatChunk {
    chunk(Delta::default(), Some(reason))
}

fn usage(prompt: u64, cached: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(cached),
            cache_write_tokens: None,
        }),
        completion_tokens_details: None,
    }
}

fn message_start() -> (String, Value) {
    (
        "message_start".to_owned(),
        json!({"type": "message_start", "message": {"id": "msg_9", "type": "message",
            "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    )
}

fn start(index: u32, block: Value) -> (String, Value) {
    (
        "content_block_start".to_owned(),
        json!({"type": "content_block_start", "index": index, "content_block": block}),
    )
}

fn delta(index: u32, delta: Value) -> (String, Value) {
    (
        "content_block_delta".to_owned(),
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

fn text_delta(index: u32, t: &str) -> (String, Value) {
    delta(index, json!({"type": "text_delta", "text": t}))
}

fn json_delta(index: u32, j: &str) -> (String, Value) {
    delta(
        index,
        json!({"type": "input_json_delta", "partial_json": j}),
    )
}

fn stop(index: u32) -> (String, Value) {
    (
        "content_block_stop".to_owned(),
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn tool_start(index: u32, id: &str, name: &str) -> (String, Value) {
    start(
        index,
        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
    )
}

fn ending(stop_reason: &str, usage: Value) -> [(String, Value); 2] {
    [
        (
            "message_delta".to_owned(),
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": usage}),
        ),
        ("message_stop".to_owned(), json!({"type": "message_stop"})),
    ]
}

fn zero_usage() -> Value {
    json!({"input_tokens": 0, "output_tokens": 0,
           "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

fn seq(parts: Vec<Vec<(String, Value)>>) -> Events {
    parts.into_iter().flatten().collect()
}

#[test]
fn worked_example_5_4_converts_verbatim() {
    assert_eq!(pipeline(ctx(), WORKED_OPENAI), expected(WORKED));
}

#[test]
fn recorded_streams_convert_to_the_recorded_events() {
    for (name, openai, anthropic) in [
        ("parallel", PARALLEL_OPENAI, PARALLEL),
        ("reasoning", REASONING_OPENAI, REASONING),
        ("single chunk", ONE_CHUNK_OPENAI, ONE_CHUNK),
        ("index missing", NO_INDEX_OPENAI, NO_INDEX),
    ] {
        let got = pipeline(ctx(), openai);
        assert_eq!(got, expected(anthropic), "{name}: {got:#?}");
    }
}

/// An Anthropic upstream's stream, decoded by the outbound Anthropic
/// dialect and encoded again: what Claude Code sees through the gateway.
fn anthropic_round_trip(sse: &str) -> Events {
    use crate::protocol::anthropic::provider::{AnthropicToOpenAi, ResponseContext};
    let decoder = AnthropicToOpenAi::new(ResponseContext::default(), 0);
    let r = run_decoder(decoder, sse.as_bytes(), usize::MAX);
    r.end.unwrap();
    run_with(ctx(), &r.chunks, r.usage)
}

#[test]
fn anthropic_streams_survive_the_round_trip_through_openai_e18() {
    for (sse, usage) in [
        (
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/stream_thinking.sse"
            )),
            json!({"input_tokens": 48, "output_tokens": 212,
                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}),
        ),
        (
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/stream_text_then_tool.sse"
            )),
            json!({"input_tokens": 472, "output_tokens": 58,
                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}),
        ),
    ] {
        let original = expected(sse);
        let got = anthropic_round_trip(sse);
        // The message id survives; the model is the caller's name.
        assert_eq!(got[0].1["message"]["id"], original[0].1["message"]["id"]);
        // Every block event is the same, except pings and empty
        // fragments, which carry nothing.
        let blocks = |evs: &Events| -> Events {
            evs.iter()
                .filter(|(n, d)| n.starts_with("content_block") && d["delta"]["partial_json"] != "")
                .cloned()
                .collect()
        };
        assert_eq!(blocks(&got), blocks(&original));
        let n = got.len();
        assert_eq!(
            got[n - 2].1["delta"],
            original[original.len() - 2].1["delta"]
        );
        assert_eq!(got[n - 2].1["usage"], usage);
    }
}

#[test]
fn tool_arguments_split_across_many_chunks_stream_unchanged_e8() {
    let args = r#"{"command":"echo \"héllo\\n\" | wc -c","description":"Count {bytes}"}"#;
    let mut chunks = vec![tool(0, Some("call_1"), Some("Bash"), "")];
    let pieces: Vec<String> = args.chars().map(String::from).collect();
    chunks.extend(pieces.iter().map(|p| tool(0, None, None, p)));
    chunks.push(finish(FinishReason::ToolCalls));
    let evs = run(&chunks, None);
    let mut want = vec![message_start(), tool_start(0, "call_1", "Bash")];
    want.extend(pieces.iter().map(|p| json_delta(0, p)));
    want.push(stop(0));
    want.extend(ending("tool_use", zero_usage()));
    assert_eq!(evs, want);
}

#[test]
fn interleaved_parallel_tool_calls_are_sent_one_block_after_the_other() {
    let chunks = [
        tool(0, Some("call_A"), Some("Read"), ""),
        tool(1, Some("call_B"), Some("Grep"), ""),
        tool(0, None, None, r#"{"file_path":"#),
        tool(1, None, None, r#"{"pattern":"#),
        tool(0, None, None, r#""/a.ts"}"#),
        tool(1, None, None, r#""TODO"}"#),
        finish(FinishReason::ToolCalls),
    ];
    let evs = run(&chunks, Some(usage(100, 0, 20)));
    assert_eq!(
        evs,
        seq(vec![
            vec![message_start(), tool_start(0, "call_A", "Read")],
            vec![
                json_delta(0, r#"{"file_path":"#),
                json_delta(0, r#""/a.ts"}"#)
            ],
            // B waits until A's arguments are complete, then opens with
            // what it buffered and streams live.
            vec![stop(0), tool_start(1, "call_B", "Grep")],
            vec![
                json_delta(1, r#"{"pattern":"#),
                json_delta(1, r#""TODO"}"#),
                stop(1)
            ],
            ending(
                "tool_use",
                json!({"input_tokens": 100, "output_tokens": 20,
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
            )
            .to_vec(),
        ])
    );
}

#[test]
fn sequential_parallel_tool_calls_stream_live() {
    let chunks = [
        tool(0, Some("call_A"), Some("Read"), ""),
        tool(0, None, None, r#"{"file_path":"/a"}"#),
        tool(1, Some("call_B"), Some("Read"), ""),
        tool(1, None, None, r#"{"file_path":"#),
        tool(1, None, None, r#""/b"}"#),
    ];
    let mut enc = AnthropicEncoder::new(ctx());
    let mut out = BytesMut::new();
    for c in &chunks[..4] {
        enc.chunk(c, &mut out);
    }
    // Before the finish, block 1 is open and B's first fragment is out.
    assert_eq!(
        events(&out),
        vec![
            message_start(),
            tool_start(0, "call_A", "Read"),
            json_delta(0, r#"{"file_path":"/a"}"#),
            stop(0),
            tool_start(1, "call_B", "Read"),
            json_delta(1, r#"{"file_path":"#),
        ]
    );
    enc.chunk(&chunks[4], &mut out);
    enc.chunk(&finish(FinishReason::ToolCalls), &mut out);
    enc.end(None, &mut out);
    check_well_formed(&events(&out));
}

#[test]
fn text_then_tool_closes_the_text_block_first() {
    let chunks = [
        text("Let me "),
        text("check."),
        tool(
            0,
            Some("call_Q1"),
            Some("Read"),
            r#"{"file_path":"/tmp/a.ts"}"#,
        ),
        finish(FinishReason::ToolCalls),
    ];
    assert_eq!(
        run(&chunks, None),
        seq(vec![
            vec![
                message_start(),
                start(0, json!({"type": "text", "text": ""}))
            ],
            vec![text_delta(0, "Let me "), text_delta(0, "check."), stop(0)],
            vec![
                tool_start(1, "call_Q1", "Read"),
                json_delta(1, r#"{"file_path":"/tmp/a.ts"}"#),
                stop(1),
            ],
            ending("tool_use", zero_usage()).to_vec(),
        ])
    );
}

#[test]
fn thinking_then_text_with_signature_e18() {
    let signed = chunk(
        Delta {
            thinking_blocks: Some(vec![ThinkingBlock::Thinking {
                thinking: "Hmm, 2+2.".to_owned(),
                signature: "EqQBsig".to_owned(),
            }]),
            ..Delta::default()
        },
        None,
    );
    let chunks = [
        reasoning("Hmm, "),
        reasoning("2+2."),
        signed,
        text("4"),
        finish(FinishReason::Stop),
    ];
    assert_eq!(
        run(&chunks, None),
        seq(vec![
            vec![
                message_start(),
                start(
                    0,
                    json!({"type": "thinking", "thinking": "", "signature": ""})
                ),
                delta(0, json!({"type": "thinking_delta", "thinking": "Hmm, "})),
                delta(0, json!({"type": "thinking_delta", "thinking": "2+2."})),
                delta(
                    0,
                    json!({"type": "signature_delta", "signature": "EqQBsig"})
                ),
                stop(0),
            ],
            vec![
                start(1, json!({"type": "text", "text": ""})),
                text_delta(1, "4"),
                stop(1),
            ],
            ending("end_turn", zero_usage()).to_vec(),
        ])
    );
}

#[test]
fn unsigned_reasoning_closes_when_text_starts() {
    let chunks = [reasoning("think"), text("answer")];
    assert_eq!(
        run(&chunks, None),
        seq(vec![
            vec![
                message_start(),
                start(
                    0,
                    json!({"type": "thinking", "thinking": "", "signature": ""})
                ),
                delta(0, json!({"type": "thinking_delta", "thinking": "think"})),
                stop(0),
                start(1, json!({"type": "text", "text": ""})),
                text_delta(1, "answer"),
                stop(1),
            ],
            ending("end_turn", zero_usage()).to_vec(),
        ])
    );
}

#[test]
fn whole_and_redacted_thinking_blocks_are_sent_whole() {
    let blocks = chunk(
        Delta {
            thinking_blocks: Some(vec![
                ThinkingBlock::Thinking {
                    thinking: "t".to_owned(),
                    signature: "S".to_owned(),
                },
                ThinkingBlock::RedactedThinking {
                    data: "EmwKAhgB".to_owned(),
                },
            ]),
            ..Delta::default()
        },
        None,
    );
    assert_eq!(
        run(&[blocks], None),
        seq(vec![
            vec![
                message_start(),
                start(
                    0,
                    json!({"type": "thinking", "thinking": "", "signature": ""})
                ),
                delta(0, json!({"type": "thinking_delta", "thinking": "t"})),
                delta(0, json!({"type": "signature_delta", "signature": "S"})),
                stop(0),
                start(1, json!({"type": "redacted_thinking", "data": "EmwKAhgB"})),
                stop(1),
            ],
            ending("end_turn", zero_usage()).to_vec(),
        ])
    );
}

#[test]
fn usage_that_arrives_only_at_the_end_is_in_message_delta_e12() {
    let mut usage_chunk = chunk(Delta::default(), None);
    usage_chunk.choices.clear();
    usage_chunk.usage = Some(usage(15_000, 12_000, 41));
    let mut enc = AnthropicEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(&text("hi"), &mut out);
    enc.chunk(&finish(FinishReason::Length), &mut out);
    // The finish closes the block but holds message_delta back.
    let before = events(&out);
    assert_eq!(before.last().unwrap().0, "content_block_stop");
    enc.chunk(&usage_chunk, &mut out);
    assert_eq!(events(&out), before, "a usage chunk writes nothing");
    enc.end(None, &mut out);
    let evs = events(&out);
    check_well_formed(&evs);
    assert_eq!(
        evs[evs.len() - 2..],
        ending(
            "max_tokens",
            json!({"input_tokens": 3000, "output_tokens": 41,
                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 12000})
        )
    );
    // Usage handed to end() wins over one seen on a chunk.
    let evs = run(&[text("x")], Some(usage(10, 0, 2)));
    assert_eq!(evs[evs.len() - 2].1["usage"]["output_tokens"], 2);
}

#[test]
fn a_finish_chunk_carrying_content_sends_the_content_first_e24() {
    let mut only = text("The whole answer.");
    only.choices[0].finish_reason = Some(FinishReason::Stop);
    assert_eq!(
        run(&[only], Some(usage(7, 0, 4))),
        seq(vec![
            vec![
                message_start(),
                start(0, json!({"type": "text", "text": ""})),
                text_delta(0, "The whole answer."),
                stop(0),
            ],
            ending(
                "end_turn",
                json!({"input_tokens": 7, "output_tokens": 4,
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
            )
            .to_vec(),
        ])
    );
}

#[test]
fn empty_strings_never_open_a_block_e1() {
    let role = chunk(
        Delta {
            role: Some("assistant".to_owned()),
            content: Some(String::new()),
            reasoning_content: Some(String::new()),
            refusal: Some(String::new()),
            ..Delta::default()
        },
        None,
    );
    let evs = run(&[role, finish(FinishReason::Stop)], None);
    assert_eq!(
        evs,
        seq(vec![
            vec![message_start()],
            ending("end_turn", zero_usage()).to_vec()
        ])
    );
}

#[test]
fn an_empty_stream_still_starts_and_stops() {
    let evs = run(&[], None);
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0].1["message"]["id"], "msg_gateway");
}

#[test]
fn nothing_is_written_after_message_stop() {
    let mut enc = AnthropicEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(&text("a"), &mut out);
    enc.end(None, &mut out);
    let len = out.len();
    enc.chunk(&text("late"), &mut out);
    enc.end(None, &mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn no_message_stop_before_end_so_an_error_event_can_follow() {
    let mut enc = AnthropicEncoder::new(ctx());
    let mut out = BytesMut::new();
    for c in [
        text("partial"),
        tool(0, Some("c"), Some("Read"), "{"),
        finish(FinishReason::ToolCalls),
    ] {
        enc.chunk(&c, &mut out);
    }
    let names: Vec<String> = events(&out).into_iter().map(|e| e.0).collect();
    assert!(!names
        .iter()
        .any(|n| n == "message_stop" || n == "message_delta"));
}

#[test]
fn tool_names_are_restored_and_ids_made_valid_e7_e21() {
    let long = "mcp__github_enterprise_internal__search_pull_requests_by_author_and_label";
    let mut c = ctx();
    let short = c.upstream_tool_name(long.to_owned());
    let chunks = [
        tool(0, Some("functions.search:0"), Some(&short), "{}"),
        tool(1, None, Some("Read"), "{}"),
        finish(FinishReason::ToolCalls),
    ];
    let evs = run_with(c, &chunks, None);
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|e| e.0 == "content_block_start")
        .map(|e| &e.1["content_block"])
        .collect();
    assert_eq!(starts[0]["name"], long);
    let id0 = starts[0]["id"].as_str().unwrap();
    assert!(id0.starts_with("functions_search_0_"), "{id0}");
    assert_eq!(starts[1]["id"], "toolu_9_1");
    assert_eq!(starts[1]["name"], "Read");
}

#[test]
fn a_tool_call_waits_for_its_name() {
    let chunks = [
        tool(0, Some("call_1"), None, r#"{"a":"#),
        tool(0, None, Some("Late"), "1}"),
        finish(FinishReason::ToolCalls),
    ];
    assert_eq!(
        run(&chunks, None),
        seq(vec![
            vec![
                message_start(),
                tool_start(0, "call_1", "Late"),
                json_delta(0, r#"{"a":1}"#),
                stop(0),
            ],
            ending("tool_use", zero_usage()).to_vec(),
        ])
    );
}

#[test]
fn stop_reasons_follow_4_7() {
    for (finish_reason, want) in [
        (FinishReason::Stop, "end_turn"),
        (FinishReason::Length, "max_tokens"),
        (FinishReason::ToolCalls, "tool_use"),
        (FinishReason::ContentFilter, "refusal"),
    ] {
        let evs = run(&[text("x"), finish(finish_reason)], None);
        assert_eq!(evs[evs.len() - 2].1["delta"]["stop_reason"], want);
    }
}

#[test]
fn other_choices_are_ignored() {
    let mut c = text("zero");
    c.choices.push(ChunkChoice {
        index: 1,
        delta: Delta {
            content: Some("one".to_owned()),
            ..Delta::default()
        },
        finish_reason: None,
        logprobs: None,
    });
    let evs = run(&[c], None);
    assert!(!serde_json::to_string(&evs).unwrap().contains("one"));
}

#[test]
fn json_progress_ignores_brackets_in_strings() {
    let table = [
        (r#"{"a":"}"}"#, true),
        (r#"{"a":"\"}"#, false),
        (r#"{"a":"\\"}"#, true),
        (r#"{"a":[1,{"b":2}]"#, false),
        ("", false),
        ("   ", false),
        ("[]", true),
    ];
    for (s, want) in table {
        let mut whole = JsonProgress::default();
        whole.feed(s);
        assert_eq!(whole.complete(), want, "{s}");
        let mut bytewise = JsonProgress::default();
        for c in s.chars() {
            bytewise.feed(&c.to_string());
        }
        assert_eq!(bytewise.complete(), want, "{s} fed by char");
    }
}

#[test]
fn the_pipeline_never_panics_on_any_chunk_order() {
    // Every recorded stream, with its data events in every rotation.
    for sse in [
        WORKED_OPENAI,
        PARALLEL_OPENAI,
        REASONING_OPENAI,
        NO_INDEX_OPENAI,
    ] {
        let parts: Vec<&str> = sse.split("\n\n").filter(|e| !e.is_empty()).collect();
        for r in 0..parts.len() {
            let mut rotated = parts.clone();
            rotated.rotate_left(r);
            let text = rotated.join("\n\n") + "\n\n";
            let mut parser = SseParser::new();
            let mut decoder = OpenAiChunkDecoder::new();
            let mut enc = AnthropicEncoder::new(ctx());
            let mut out = BytesMut::new();
            let mut evs: Vec<SseEvent> = Vec::new();
            parser
                .feed(text.as_bytes(), &mut evs)
                .expect("within limits");
            for ev in &evs {
                if let Ok(chunks) = decoder.feed(ev) {
                    for c in chunks {
                        enc.chunk(&c, &mut out);
                    }
                }
            }
            enc.end(decoder.usage(), &mut out);
            // Fragments out of order need not join into JSON.
            check_structure(&events(&out), false);
        }
    }
}
