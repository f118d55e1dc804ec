use super::*;
use crate::protocol::openai::{Delta, FunctionDelta, ToolCallDelta};
use serde_json::{json, Value};

fn events(out: &[u8]) -> Vec<Value> {
    let mut parsed = Vec::new();
    SseParser::new().feed(out, &mut parsed).unwrap();
    parsed
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

fn chunk(delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    ChatChunk::single(&"chatcmpl-r1".into(), &"upstream".into(), 1, delta, finish)
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

#[test]
fn text_goes_out_at_once_and_the_last_event_has_calls_finish_and_usage() {
    let mut enc = GeminiEncoder::new("gem");
    let mut out = BytesMut::new();
    enc.chunk(
        &chunk(
            Delta {
                role: Some("assistant".to_owned()),
                reasoning_content: Some("Let me see.".to_owned()),
                ..Delta::default()
            },
            None,
        ),
        &mut out,
    );
    enc.chunk(
        &chunk(
            Delta {
                content: Some("Hello".to_owned()),
                ..Delta::default()
            },
            None,
        ),
        &mut out,
    );
    assert_eq!(events(&out).len(), 2, "deltas are not held back");
    enc.chunk(
        &tool(0, Some("call_a"), Some("get_weather"), "{\"ci"),
        &mut out,
    );
    enc.chunk(&tool(0, None, None, "ty\":\"Paris\"}"), &mut out);
    enc.chunk(
        &chunk(Delta::default(), Some(FinishReason::ToolCalls)),
        &mut out,
    );
    assert_eq!(events(&out).len(), 2, "calls wait for the last event");
    let usage = Usage {
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
        ..Usage::default()
    };
    enc.end(Some(usage), &mut out);
    let evs = events(&out);
    assert_eq!(
        evs[0]["candidates"][0]["content"],
        json!({"role": "model", "parts": [{"text": "Let me see.", "thought": true}]})
    );
    assert_eq!(
        evs[1]["candidates"][0]["content"]["parts"],
        json!([{"text": "Hello"}])
    );
    assert!(evs[..2]
        .iter()
        .all(|e| e["candidates"][0].get("finishReason").is_none()
            && e.get("usageMetadata").is_none()));
    assert_eq!(
        evs[2],
        json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"id": "call_a", "name": "get_weather", "args": {"city": "Paris"}}}]},
              "finishReason": "STOP", "index": 0}],
          "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
          "modelVersion": "gem", "responseId": "r1"})
    );
    assert!(!String::from_utf8_lossy(&out).contains("[DONE]"));
}

#[test]
fn an_empty_stream_still_ends_with_a_finish() {
    let mut enc = GeminiEncoder::new("gem");
    let mut out = BytesMut::new();
    enc.end(None, &mut out);
    let evs = events(&out);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        evs[0]["candidates"][0]["content"]["parts"],
        json!([{"text": ""}])
    );
}

fn data(s: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: s.to_owned(),
    }
}

#[test]
fn the_relay_passes_events_and_reads_the_last_usage() {
    let mut t = GeminiPassThrough::new("gem");
    let mut out = BytesMut::new();
    let first = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":2}}"#;
    let last = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":5,"totalTokenCount":7}}"#;
    t.event(&data(first), &mut out).unwrap();
    t.event(&data(last), &mut out).unwrap();
    t.end(&mut out).unwrap();
    assert_eq!(
        String::from_utf8(out.to_vec()).unwrap(),
        format!("data: {first}\n\ndata: {last}\n\n"),
        "events without modelVersion pass byte for byte"
    );
    let mut out = BytesMut::new();
    t.event(
        &data(r#"{"candidates":[{"finishReason":"STOP"}],"modelVersion":"gemini-2.5-flash"}"#),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        &out[..],
        b"data: {\"candidates\":[{\"finishReason\":\"STOP\"}],\"modelVersion\":\"gem\"}\n\n"
    );
    let u = t.usage().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (2, 5));
}

#[test]
fn the_relay_refuses_cut_broken_and_error_streams() {
    let mut cut = GeminiPassThrough::new("gem");
    let mut out = BytesMut::new();
    cut.event(
        &data(r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}"#),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        cut.end(&mut out).unwrap_err().code.as_deref(),
        Some("upstream_stream_incomplete")
    );
    let mut broken = GeminiPassThrough::new("gem");
    assert!(broken.event(&data("{not json"), &mut out).is_err());
    let mut failed = GeminiPassThrough::new("gem");
    let e = failed
        .event(
            &data(r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#),
            &mut out,
        )
        .unwrap_err();
    assert_eq!(e.kind, crate::protocol::ErrorKind::Upstream(503));
    // A blocked prompt is a proper end.
    let mut blocked = GeminiPassThrough::new("gem");
    blocked
        .event(
            &data(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#),
            &mut out,
        )
        .unwrap();
    assert!(blocked.end(&mut out).is_ok());
}

#[test]
fn the_json_array_form_frames_events_as_elements_across_any_split() {
    let sse = b"data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: {\"error\":{\"code\":500}}\n\n";
    for split in 1..sse.len() {
        let mut arr = JsonArray::default();
        let mut out = BytesMut::new();
        arr.frame(&sse[..split], &mut out);
        arr.frame(&sse[split..], &mut out);
        arr.finish(&mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!([{"a": 1}, {"b": 2}, {"error": {"code": 500}}]),
            "{split}"
        );
    }
    let mut empty = JsonArray::default();
    let mut out = BytesMut::new();
    empty.finish(&mut out);
    assert_eq!(&out[..], b"[]");
}
