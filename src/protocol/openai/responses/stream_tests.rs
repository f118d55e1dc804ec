use super::*;
use crate::protocol::openai::FunctionDelta;
use crate::protocol::sse::SseParser;
use serde_json::Value;

fn ctx() -> ResponsesContext {
    ResponsesContext {
        id: "resp_x".into(),
        model: "asked".into(),
        ..Default::default()
    }
}

fn chunk(delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    ChatChunk::single(&"chatcmpl-1".into(), &"upstream".into(), 7, delta, finish)
}

fn text(s: &str) -> ChatChunk {
    chunk(
        Delta {
            content: Some(s.into()),
            ..Default::default()
        },
        None,
    )
}

fn tool(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
    chunk(
        Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: id.map(Into::into),
                kind: None,
                function: Some(FunctionDelta {
                    name: name.map(Into::into),
                    arguments: Some(args.into()),
                }),
            }]),
            ..Default::default()
        },
        None,
    )
}

/// `(event name, data)` of every event, checking that each name is its
/// `type` and that sequence numbers rise from 0.
fn events(out: &BytesMut) -> Vec<(String, Value)> {
    let mut evs = Vec::new();
    SseParser::new().feed(out, &mut evs).unwrap();
    let parsed: Vec<(String, Value)> = evs
        .into_iter()
        .map(|e| (e.event.unwrap(), serde_json::from_str(&e.data).unwrap()))
        .collect();
    for (n, (name, data)) in parsed.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n as u64);
    }
    parsed
}

fn names(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn text_streams_as_one_message_item_and_completes_with_usage() {
    let mut enc = ResponsesEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(&text("Hel"), &mut out);
    enc.chunk(&text("lo"), &mut out);
    enc.chunk(&chunk(Delta::default(), Some(FinishReason::Stop)), &mut out);
    let usage = Usage {
        prompt_tokens: 3,
        completion_tokens: 2,
        total_tokens: 5,
        ..Default::default()
    };
    enc.end(Some(usage), &mut out);
    let evs = events(&out);
    assert_eq!(
        names(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert_eq!(evs[6].1["text"], "Hello");
    let done = &evs[9].1["response"];
    assert_eq!(done["model"], "asked");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["created_at"], 7);
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["usage"]["total_tokens"], 5);
}

#[test]
fn parallel_tool_calls_stream_into_separate_items() {
    let mut enc = ResponsesEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(&tool(0, Some("call_a"), Some("a"), "{\"x\":"), &mut out);
    enc.chunk(&tool(1, Some("call_b"), Some("b"), "{\"y\":"), &mut out);
    enc.chunk(&tool(0, None, None, "1}"), &mut out);
    enc.chunk(&tool(1, None, None, "2}"), &mut out);
    enc.chunk(
        &chunk(Delta::default(), Some(FinishReason::ToolCalls)),
        &mut out,
    );
    enc.end(None, &mut out);
    let evs = events(&out);
    let deltas: Vec<(u64, &str)> = evs
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| {
            (
                d["output_index"].as_u64().unwrap(),
                d["delta"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        deltas,
        [(0, "{\"x\":"), (1, "{\"y\":"), (0, "1}"), (1, "2}")]
    );
    let done = &evs.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["arguments"], "{\"x\":1}");
    assert_eq!(done["output"][0]["call_id"], "call_a");
    assert_eq!(done["output"][1]["arguments"], "{\"y\":2}");
    assert_eq!(done["output"][1]["status"], "completed");
}

#[test]
fn reasoning_streams_as_a_summary_before_the_text() {
    let mut enc = ResponsesEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(
        &chunk(
            Delta {
                reasoning_content: Some("think".into()),
                ..Default::default()
            },
            None,
        ),
        &mut out,
    );
    enc.chunk(
        &chunk(
            Delta {
                thinking_blocks: Some(vec![ThinkingBlock::Thinking {
                    thinking: "think".into(),
                    signature: "sig".into(),
                }]),
                ..Default::default()
            },
            None,
        ),
        &mut out,
    );
    enc.chunk(&text("answer"), &mut out);
    enc.end(None, &mut out);
    let evs = events(&out);
    assert_eq!(
        names(&evs)[2..8],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done"
        ]
    );
    let done = &evs.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["type"], "reasoning");
    assert_eq!(done["output"][0]["summary"][0]["text"], "think");
    assert!(done["output"][0]["encrypted_content"]
        .as_str()
        .unwrap()
        .contains("sig"));
    assert_eq!(done["output"][1]["type"], "message");
}

#[test]
fn a_length_stop_is_incomplete_and_a_failure_is_failed_never_completed() {
    let mut enc = ResponsesEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(&text("cut"), &mut out);
    enc.chunk(
        &chunk(Delta::default(), Some(FinishReason::Length)),
        &mut out,
    );
    enc.end(None, &mut out);
    let evs = events(&out);
    let (name, data) = evs.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        data["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );

    let mut enc = ResponsesEncoder::new(ctx());
    let mut out = BytesMut::new();
    enc.chunk(&text("half"), &mut out);
    let reply = ErrorReply {
        status: 502,
        message: "the upstream stream ended before [DONE]",
        param: None,
        code: Some("upstream_stream_incomplete"),
    };
    assert!(enc.fail(&reply, &mut out));
    enc.end(None, &mut out);
    let evs = events(&out);
    assert!(!names(&evs).contains(&"response.completed"));
    let (name, data) = evs.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(data["response"]["status"], "failed");
    assert_eq!(
        data["response"]["error"]["code"],
        "upstream_stream_incomplete"
    );
}
