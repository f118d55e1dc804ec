//! Micro-benchmarks of the per-request conversions, small (the recorded
//! fixtures) and large (synthetic: a ~100 KB conversation, a ~32 KB answer, a
//! 1,000-event stream).
//!
//! `cargo bench --bench conversions` (add `-- --quick` for a short run, or a
//! filter such as `-- anthropic`). Streams are measured the way the gateway
//! runs them: SSE parsing, the dialect's decoder and the OpenAI SSE encoder.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use llm_gateway::protocol::anthropic::provider::{self as anthropic, AnthropicToOpenAi};
use llm_gateway::protocol::gemini::provider::{self as gemini, GeminiToOpenAi};
use llm_gateway::protocol::openai::caller::OpenAiEncoder;
use llm_gateway::protocol::openai::relay::OpenAiPassThrough;
use llm_gateway::protocol::openai::ChatRequest;
use llm_gateway::protocol::raw::RawObject;
use llm_gateway::protocol::sse::SseParser;
use llm_gateway::protocol::{Decoded, Translator};
use serde_json::json;
use std::hint::black_box;

const ANTHROPIC_REQUEST: &str =
    include_str!("../tests/fixtures/anthropic/chat_request_worked_example.json");
const ANTHROPIC_RESPONSE: &str = include_str!("../tests/fixtures/anthropic/response_text.json");
const ANTHROPIC_STREAM: &str =
    include_str!("../tests/fixtures/anthropic/stream_text_then_tool.sse");
const GEMINI_REQUEST: &str = include_str!("../tests/fixtures/gemini/openai_request_weather.json");
const GEMINI_RESPONSE: &str = include_str!("../tests/fixtures/gemini/response_protocols_3_7.json");
const GEMINI_STREAM: &str = include_str!("../tests/fixtures/gemini/stream_text.sse");
const OPENAI_STREAM: &str = include_str!("../tests/fixtures/openai/chat_stream.sse");

/// Prose with the characters JSON has to escape now and then.
fn prose(bytes: usize) -> String {
    let line = "The quick brown fox jumps over the lazy dog; \"quoted\" and\ttabbed.\n";
    line.repeat(bytes / line.len() + 1)
}

/// A ~100 KB OpenAI request: a long plain-text conversation and two tools.
fn large_request() -> Vec<u8> {
    let mut messages = vec![json!({"role": "system", "content": "You are a careful assistant."})];
    for i in 0..100 {
        messages.push(json!({"role": "user", "content": format!("Question {i}: {}", prose(600))}));
        messages.push(json!({"role": "assistant", "content": prose(400)}));
    }
    messages.push(json!({"role": "user", "content": "Summarise all of the above."}));
    let tool = |name: &str| {
        json!({"type": "function", "function": {"name": name, "description": "Looks something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1}}, "required": ["query"]}}})
    };
    serde_json::to_vec(&json!({
        "model": "bench", "max_tokens": 1024, "temperature": 0.2,
        "messages": messages, "tools": [tool("search"), tool("fetch")],
    }))
    .expect("serialisable")
}

fn small_openai_request() -> Vec<u8> {
    br#"{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello! Can you tell me a short fact about the sea?"}],"max_tokens":256}"#.to_vec()
}

fn large_anthropic_response() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": prose(32 * 1024)},
                    {"type": "tool_use", "id": "toolu_01", "name": "search", "input": {"query": prose(512)}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 25000, "output_tokens": 8000}
    }))
    .expect("serialisable")
}

fn large_gemini_response() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": prose(32 * 1024)}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 25000, "candidatesTokenCount": 8000, "totalTokenCount": 33000},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"
    }))
    .expect("serialisable")
}

fn large_anthropic_stream() -> String {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    for i in 0..1000 {
        s.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"token {i} of the answer \"}}}}\n\n"
        ));
    }
    s.push_str(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
         event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3000}}\n\n\
         event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    s
}

fn large_gemini_stream() -> String {
    let mut s = String::new();
    for i in 0..1000 {
        let finish = if i == 999 {
            ",\"finishReason\":\"STOP\""
        } else {
            ""
        };
        s.push_str(&format!(
            "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"token {i} of the answer \"}}],\"role\":\"model\"}}{finish},\"index\":0}}],\"usageMetadata\":{{\"promptTokenCount\":8,\"candidatesTokenCount\":{i},\"totalTokenCount\":{}}},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}}\r\n\r\n",
            i + 8
        ));
    }
    s
}

fn large_openai_stream() -> String {
    let mut s = String::new();
    for i in 0..1000 {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} of the answer \"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n");
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1000,\"total_tokens\":1008}}\n\ndata: [DONE]\n\n");
    s
}

/// Runs one whole upstream stream through `translator`, as the pump does
/// (the upstream bytes arrive in 1 KB reads); returns the caller's bytes.
fn translate_stream(stream: &[u8], mut translator: Box<dyn Translator>) -> usize {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut out = BytesMut::new();
    let mut sent = 0;
    for read in stream.chunks(1024) {
        parser.feed(read, &mut events).expect("within limits");
        for ev in events.drain(..) {
            translator.event(&ev, &mut out).expect("stream translates");
        }
        sent += out.split().len();
    }
    events.extend(parser.finish().expect("within limits"));
    for ev in events.drain(..) {
        translator.event(&ev, &mut out).expect("stream translates");
    }
    translator.end(&mut out).expect("stream ends");
    sent + out.len()
}

fn parse(body: &[u8]) -> ChatRequest {
    serde_json::from_slice(body).expect("request parses")
}

fn requests(c: &mut Criterion) {
    let small_anthropic = ANTHROPIC_REQUEST.as_bytes().to_vec();
    let small_gemini = GEMINI_REQUEST.as_bytes().to_vec();
    let large = large_request();
    let opts = anthropic::RequestOptions {
        api_model: "claude-sonnet-4-5",
        default_max_tokens: 4096,
    };

    let mut g = c.benchmark_group("request");
    for (size, body) in [("small", &small_anthropic), ("large", &large)] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("parse_openai", size), body, |b, body| {
            b.iter(|| parse(black_box(body)))
        });
        let req = parse(body);
        g.bench_with_input(BenchmarkId::new("to_anthropic", size), &req, |b, req| {
            b.iter(|| anthropic::to_anthropic(black_box(req), &opts).expect("converts"))
        });
    }
    for (size, body) in [("small", &small_gemini), ("large", &large)] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        let req = parse(body);
        g.bench_with_input(BenchmarkId::new("to_gemini", size), &req, |b, req| {
            b.iter(|| gemini::to_gemini(black_box(req)).expect("converts"))
        });
    }
    let small_openai = small_openai_request();
    for (size, body) in [("small", &small_openai), ("large", &large)] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("raw_passthrough", size),
            body,
            |b, body| {
                b.iter(|| {
                    let obj = RawObject::parse(black_box(body)).expect("object");
                    obj.write_with(&[("model", br#""gpt-4o-mini""#)])
                })
            },
        );
    }
    g.finish();
}

fn responses(c: &mut Criterion) {
    let mut g = c.benchmark_group("response");
    let actx = anthropic::ResponseContext::default();
    let large_a = large_anthropic_response();
    for (size, body) in [
        ("small", ANTHROPIC_RESPONSE.as_bytes()),
        ("large", &large_a),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("from_anthropic", size), body, |b, body| {
            b.iter(|| {
                let resp = anthropic::from_anthropic(black_box(body), &actx).expect("decodes");
                serde_json::to_vec(&resp).expect("encodes")
            })
        });
    }
    let gctx = gemini::ResponseContext {
        model: "gemini-2.5-flash".to_owned(),
        created: 1_741_570_283,
    };
    let large_g = large_gemini_response();
    for (size, body) in [("small", GEMINI_RESPONSE.as_bytes()), ("large", &large_g)] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("from_gemini", size), body, |b, body| {
            b.iter(|| {
                let resp = gemini::from_gemini(black_box(body), &gctx).expect("decodes");
                serde_json::to_vec(&resp).expect("encodes")
            })
        });
    }
    g.finish();
}

fn streams(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream");
    let large_a = large_anthropic_stream();
    for (size, s) in [("small", ANTHROPIC_STREAM), ("large", large_a.as_str())] {
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_with_input(BenchmarkId::new("anthropic_to_openai", size), s, |b, s| {
            b.iter(|| {
                let t = Decoded::new(
                    Box::new(AnthropicToOpenAi::new(
                        anthropic::ResponseContext::default(),
                        1_741_570_283,
                    )),
                    Box::new(OpenAiEncoder::new(true, "gpt-4o".to_owned())),
                );
                translate_stream(black_box(s.as_bytes()), Box::new(t))
            })
        });
    }
    let large_g = large_gemini_stream();
    for (size, s) in [("small", GEMINI_STREAM), ("large", large_g.as_str())] {
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_with_input(BenchmarkId::new("gemini_to_openai", size), s, |b, s| {
            b.iter(|| {
                let ctx = gemini::ResponseContext {
                    model: "gemini-2.5-flash".to_owned(),
                    created: 0,
                };
                let t = Decoded::new(
                    Box::new(GeminiToOpenAi::new(ctx, 1_741_570_283)),
                    Box::new(OpenAiEncoder::new(true, "gpt-4o".to_owned())),
                );
                translate_stream(black_box(s.as_bytes()), Box::new(t))
            })
        });
    }
    let large_o = large_openai_stream();
    for (size, s) in [("small", OPENAI_STREAM), ("large", large_o.as_str())] {
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_with_input(BenchmarkId::new("openai_passthrough", size), s, |b, s| {
            b.iter(|| {
                translate_stream(
                    black_box(s.as_bytes()),
                    Box::new(OpenAiPassThrough::new(false, Some("\"gpt-4o\""))),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, requests, responses, streams);
criterion_main!(benches);
