//! What an upstream stream may cost the gateway: lines and events are
//! capped, and a stream ends with an error event instead of growing without
//! bound.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn ask(model: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

/// Waits (bounded) until the mock saw the gateway drop its streamed body.
async fn upstream_dropped(up: &MockUpstream) {
    tokio::time::timeout(Duration::from_secs(20), up.stream_dropped.notified())
        .await
        .expect("the gateway let go of the upstream stream");
}

/// The last `data:` payload of a stream, as JSON.
fn last_json(data: &[String]) -> Value {
    serde_json::from_str(data.last().expect("some data")).expect("a JSON event")
}

#[tokio::test]
async fn an_upstream_line_over_the_limit_ends_the_stream_with_an_error_event() {
    let first = split_events(&fixture("openai/chat_stream.sse")).remove(0);
    // One event, then `data: ` and 4 MiB without a line end.
    let mut pieces = vec![first, "data: ".to_owned()];
    pieces.extend(std::iter::repeat_n("a".repeat(64 * 1024), 64));
    let up = MockUpstream::always(MockReply {
        body: MockBody::ChunksThenHang(pieces),
        ..MockReply::sse("")
    });
    let gw = TestGateway::start(&openai_config(
        &up.url("/v1"),
        "[routing]\nmax_sse_line_bytes = 65536\n",
    ));
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &ask("gpt-4o"))
            .await,
    )
    .await;
    let last = last_json(&data);
    assert_eq!(
        last["error"]["code"], "upstream_event_too_large",
        "{data:?}"
    );
    assert_eq!(data.len(), 2, "the first event, then the error: {data:?}");
    upstream_dropped(&up).await;
}

/// `events` with `keep_alive` ten times after the first `head` of them,
/// sent 100 ms apart: one second without content, past a 0.5 s idle timeout.
fn with_keep_alives(events: &str, head: usize, keep_alive: &str) -> MockReply {
    let mut pieces = split_events(events);
    let tail = pieces.split_off(head);
    pieces.extend(std::iter::repeat_n(keep_alive.to_owned(), 10));
    pieces.extend(tail);
    MockReply {
        body: MockBody::Paced(pieces, Duration::from_millis(100)),
        ..MockReply::sse("")
    }
}

const IDLE: &str = "[routing]\nstream_idle_timeout_seconds = 0.5\n";

#[tokio::test]
async fn sse_comments_count_as_upstream_activity() {
    let up = MockUpstream::always(with_keep_alives(
        &fixture("openai/chat_stream.sse"),
        1,
        ": keep-alive\n\n",
    ));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), IDLE));
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &ask("gpt-4o"))
            .await,
    )
    .await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert!(!data.iter().any(|d| d.contains("\"error\"")), "{data:?}");
}

#[tokio::test]
async fn anthropic_pings_count_as_upstream_activity_on_a_converted_stream() {
    let up = MockUpstream::always(with_keep_alives(
        &fixture("anthropic/stream_usage_deltas.sse"),
        3,
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    ));
    let config = provider_config("anthropic", &up.url("/v1")) + IDLE;
    let gw = TestGateway::start(&config);
    let data = sse_data(gw.post("/v1/chat/completions", "sk-test", &ask("m")).await).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert!(!data.iter().any(|d| d.contains("\"error\"")), "{data:?}");
}

#[tokio::test]
async fn a_caller_that_stops_reading_is_cut_after_the_stall_timeout() {
    let up = MockUpstream::always(endless_content());
    let gw = TestGateway::start(&openai_config(
        &up.url("/v1"),
        "[routing]\nclient_stall_timeout_seconds = 0.5\n",
    ));
    let _conn = stalled_caller(gw.addr, "/v1/chat/completions", &ask("gpt-4o"));
    upstream_dropped(&up).await;
    let d = [
        ("api_key", "team-a"),
        ("model", "gpt-4o"),
        ("provider", "openai"),
        ("endpoint", "/v1/chat/completions"),
        ("error_type", "client_closed"),
    ];
    gw.expect_metric("llm_errors_total", &d, 1.0).await;
}

#[tokio::test]
async fn a_pass_through_event_that_is_not_json_ends_the_stream_without_being_relayed() {
    let mut pieces = split_events(&fixture("openai/chat_stream.sse"));
    pieces.insert(2, "data: <html>502 Bad Gateway</html>\n\n".to_owned());
    let up = MockUpstream::always(MockReply::sse_pieces(pieces));
    let gw = TestGateway::start(&openai_config(&up.url("/v1"), ""));
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &ask("gpt-4o"))
            .await,
    )
    .await;
    assert_eq!(data.len(), 3, "two events, then the error: {data:?}");
    let events = json_events(&data);
    assert_eq!(events[2]["error"]["type"], "server_error", "{data:?}");
}
