//! Retries, fallbacks, weighted targets and circuit breaking, proved by
//! fault injection: each test asserts what the caller and every upstream saw.

use crate::common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// A config with providers `a` and `b` (openai type) at the given URLs, and
/// `extra` (models, routing).
fn two_providers(a: &str, b: &str, extra: &str) -> String {
    format!(
        r#"
[server]
log_level = "warn"

[[api_keys]]
key = "sk-test"
name = "team-a"

[routing]
retry_backoff_ms = 1

[providers.a]
type = "openai"
base_url = "{a}"
timeout_seconds = 5

[providers.b]
type = "openai"
base_url = "{b}"
timeout_seconds = 5
{extra}
"#
    )
}

/// [`two_providers`] with `routing` lines added to its `[routing]` table.
fn two_providers_routing(a: &str, b: &str, routing: &str, extra: &str) -> String {
    two_providers(a, b, extra).replace(
        "retry_backoff_ms = 1\n",
        &format!("retry_backoff_ms = 1\n{routing}\n"),
    )
}

/// A mock that fails with `status` for its first `failures` requests, then
/// answers the recorded completion.
fn failing_first(failures: usize, status: u16, retry_after: Option<&'static str>) -> MockUpstream {
    let n = Arc::new(AtomicUsize::new(0));
    MockUpstream::start(move |_| {
        if n.fetch_add(1, Ordering::SeqCst) < failures {
            let r = MockReply::status_json(status, fixture("openai/error_500.json"));
            match retry_after {
                Some(s) => r.header("retry-after", s),
                None => r,
            }
        } else {
            MockReply::json(fixture("openai/chat_completion.json"))
        }
    })
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let a = failing_first(1, 429, Some("1"));
    let gw = TestGateway::start(&two_providers(
        &a.url("/v1"),
        "http://127.0.0.1:9",
        "[models.m]\nprovider = \"a\"\n",
    ));
    let started = std::time::Instant::now();
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("2"));
    assert_eq!(a.requests().len(), 2);
    assert!(
        started.elapsed().as_secs_f64() >= 1.0,
        "Retry-After was honoured"
    );
    gw.expect_metric(
        "llm_retries_total",
        &[
            ("model", "m"),
            ("provider", "a"),
            ("error_type", "rate_limit"),
        ],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn a_500_twice_then_success_is_retried_twice() {
    let a = failing_first(2, 500, None);
    let gw = TestGateway::start(&two_providers(
        &a.url("/v1"),
        "http://127.0.0.1:9",
        "[models.m]\nprovider = \"a\"\n",
    ));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("3"));
    assert_eq!(a.requests().len(), 3);
}

#[tokio::test]
async fn when_every_target_fails_the_fallback_model_serves() {
    let a = failing_first(usize::MAX, 500, None);
    let b = failing_first(0, 500, None);
    let models = "[models.m]\nprovider = \"a\"\nfallbacks = [\"backup\"]\nmax_retries = 1\n[models.backup]\nprovider = \"b\"\n";
    let gw = TestGateway::start(&two_providers(&a.url("/v1"), &b.url("/v1"), models));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("3"));
    assert_eq!((a.requests().len(), b.requests().len()), (2, 1));
    gw.expect_metric(
        "llm_fallbacks_total",
        &[("model", "m"), ("fallback", "backup")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn when_everything_fails_the_last_error_comes_back_in_openai_shape() {
    let a = failing_first(usize::MAX, 500, None);
    let b = MockUpstream::always(MockReply::status_json(
        503,
        fixture("openai/error_500.json"),
    ));
    let models = "[models.m]\nprovider = \"a\"\nfallbacks = [\"backup\"]\nmax_retries = 0\n[models.backup]\nprovider = \"b\"\nmax_retries = 0\n";
    let gw = TestGateway::start(&two_providers(&a.url("/v1"), &b.url("/v1"), models));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    assert!(v["error"].get("param").is_some() && v["error"].get("code").is_some());
}

#[tokio::test]
async fn a_refused_connection_moves_to_the_next_target() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let b = failing_first(0, 500, None);
    let models = "[models.m]\ntargets = [{ provider = \"a\", api_model = \"x\" }, { provider = \"b\", api_model = \"x\" }]\n";
    let gw = TestGateway::start(&two_providers(&dead, &b.url("/v1"), models));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("2"));
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_to_the_next_target() {
    let a = MockUpstream::always(MockReply {
        body: MockBody::Hang,
        ..MockReply::json("")
    });
    let b = MockUpstream::always(MockReply::sse(&fixture("openai/chat_stream.sse")));
    let models = "[routing]\nfirst_byte_timeout_seconds = 0.3\nretry_backoff_ms = 1\n[models.m]\ntargets = [{ provider = \"a\" }, { provider = \"b\" }]\n";
    let text = two_providers(&a.url("/v1"), &b.url("/v1"), models)
        .replace("[routing]\nretry_backoff_ms = 1\n\n", "");
    let gw = TestGateway::start(&text);
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", true))
        .await;
    assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
    let data = sse_data(resp).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

#[tokio::test]
async fn a_stream_that_stalls_after_bytes_were_sent_gets_an_error_event_and_no_retry() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let a = MockUpstream::always(MockReply {
        body: MockBody::ChunksThenHang(events[..2].to_vec()),
        ..MockReply::sse("")
    });
    let b = MockUpstream::always(MockReply::sse(&fixture("openai/chat_stream.sse")));
    let models = "[routing]\nstream_idle_timeout_seconds = 0.3\n[models.m]\ntargets = [{ provider = \"a\" }, { provider = \"b\" }]\n";
    let text = two_providers(&a.url("/v1"), &b.url("/v1"), models)
        .replace("[routing]\nretry_backoff_ms = 1\n\n", "");
    let gw = TestGateway::start(&text);
    let data = sse_data(
        gw.post("/v1/chat/completions", "sk-test", &ask("m", true))
            .await,
    )
    .await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error", "{data:?}");
    assert!(
        data.len() >= 3,
        "the first events reached the caller: {data:?}"
    );
    assert_eq!((a.requests().len(), b.requests().len()), (1, 0));
    let d = [
        ("api_key", "team-a"),
        ("model", "m"),
        ("provider", "a"),
        ("endpoint", "/v1/chat/completions"),
        ("error_type", "timeout"),
    ];
    gw.expect_metric("llm_errors_total", &d, 1.0).await;
}

#[tokio::test]
async fn a_400_from_the_upstream_is_not_retried() {
    let a = MockUpstream::always(MockReply::status_json(
        400,
        fixture("openai/error_400.json"),
    ));
    let b = failing_first(0, 500, None);
    let models = "[models.m]\ntargets = [{ provider = \"a\" }, { provider = \"b\" }]\nfallbacks = [\"other\"]\n[models.other]\nprovider = \"b\"\n";
    let gw = TestGateway::start(&two_providers(&a.url("/v1"), &b.url("/v1"), models));
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("1"));
    assert_eq!((a.requests().len(), b.requests().len()), (1, 0));
}

#[tokio::test]
async fn weights_spread_requests_as_configured() {
    let config = r#"
[[api_keys]]
key = "sk-test"
name = "team-a"
[providers.light]
type = "mock"
[providers.heavy]
type = "mock"
[models.m]
targets = [{ provider = "light", weight = 1 }, { provider = "heavy", weight = 3 }]
"#;
    let gw = TestGateway::start(config);
    let (mut light, mut heavy) = (0, 0);
    for _ in 0..400 {
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        match header(&resp, "x-gateway-provider") {
            Some("light") => light += 1,
            Some("heavy") => heavy += 1,
            other => panic!("{other:?}"),
        }
    }
    // Tolerance ±5% of the total; the selection is deterministic, so exact here.
    assert!(
        (light - 100_i32).abs() <= 20 && (heavy - 300_i32).abs() <= 20,
        "{light}/{heavy}"
    );
}

#[tokio::test]
async fn the_breaker_opens_skips_the_target_half_opens_after_cooldown_and_closes_on_success() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = failing.clone();
    let a = MockUpstream::start(move |_| {
        if f.load(Ordering::SeqCst) {
            MockReply::status_json(500, fixture("openai/error_500.json"))
        } else {
            MockReply::json(fixture("openai/chat_completion.json"))
        }
    });
    let config = format!(
        r#"
[[api_keys]]
key = "sk-test"
name = "team-a"
[routing]
breaker_failures = 2
breaker_cooldown_seconds = 0.5
[providers.a]
type = "openai"
base_url = "{}"
[providers.spare]
type = "mock"
[models.m]
provider = "a"
api_model = "gpt-x"
max_retries = 0
fallbacks = ["backup"]
[models.backup]
provider = "spare"
"#,
        a.url("/v1")
    );
    let gw = TestGateway::start(&config);
    let healthy = [("provider", "a"), ("model", "gpt-x")];
    gw.expect_metric("llm_target_healthy", &healthy, 1.0).await;
    for _ in 0..2 {
        let r = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        assert_eq!(header(&r, "x-gateway-provider"), Some("spare"));
    }
    gw.expect_metric("llm_target_healthy", &healthy, 0.0).await;
    // Open: the target is skipped.
    let r = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(header(&r, "x-gateway-attempts"), Some("1"));
    assert_eq!(a.requests().len(), 2);
    let ready: Value = client()
        .get(gw.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ready["targets"]
        .as_array()
        .unwrap()
        .contains(&json!({"provider": "a", "model": "gpt-x", "healthy": false})));

    // After the cooldown, one probe goes through; it succeeds and closes the breaker.
    failing.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        if header(&r, "x-gateway-provider") == Some("a") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no probe after the cooldown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(a.requests().len(), 3, "exactly one probe");
    gw.expect_metric("llm_target_healthy", &healthy, 1.0).await;
    let r = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(header(&r, "x-gateway-provider"), Some("a"));
}

#[tokio::test]
async fn an_upstream_retry_after_comes_back_parsed_in_whole_seconds_or_not_at_all() {
    let in_two_minutes = actix_web::http::header::HttpDate::from(
        std::time::SystemTime::now() + std::time::Duration::from_secs(120),
    )
    .to_string();
    for (sent, back) in [
        ("7", Some(7..=7)),
        ("2.5", Some(3..=3)),
        (in_two_minutes.as_str(), Some(100..=120)),
        // Would not fit a Duration: this used to panic the request.
        ("1e20", None),
        ("sk-upstream-secret", None),
    ] {
        let a = MockUpstream::always(
            MockReply::status_json(429, fixture("openai/error_429.json"))
                .header("retry-after", sent),
        );
        let text = two_providers(
            &a.url("/v1"),
            "http://127.0.0.1:9",
            "[models.m]\nprovider = \"a\"\nmax_retries = 0\n",
        );
        let gw = TestGateway::start(&text);
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        assert_eq!(resp.status(), 429, "{sent}");
        let got = header(&resp, "retry-after").map(|v| v.parse::<u64>().unwrap());
        match back {
            Some(range) => assert!(got.is_some_and(|s| range.contains(&s)), "{sent}: {got:?}"),
            None => assert_eq!(got, None, "{sent}"),
        }
        assert!(
            resp.headers()
                .iter()
                .all(|(_, v)| !v.to_str().unwrap_or("").contains("sk-upstream-secret")),
            "{sent}"
        );
    }
}

#[tokio::test]
async fn a_hung_whole_answer_times_out_to_the_next_target() {
    let a = MockUpstream::always(MockReply {
        body: MockBody::Hang,
        ..MockReply::json("")
    });
    let b = failing_first(0, 500, None);
    let models = "[models.m]\ntargets = [{ provider = \"a\" }, { provider = \"b\" }]\n";
    // The first target's own timeout no longer bounds the whole call.
    let text = two_providers(&a.url("/v1"), &b.url("/v1"), models).replacen(
        "timeout_seconds = 5",
        "timeout_seconds = 0.3",
        1,
    );
    let gw = TestGateway::start(&text);
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("2"));
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

#[tokio::test]
async fn the_request_deadline_bounds_every_attempt_and_fallback() {
    let hang = || {
        MockUpstream::always(MockReply {
            body: MockBody::Hang,
            ..MockReply::json("")
        })
    };
    let (a, b) = (hang(), hang());
    let models = "[models.m]\ntargets = [{ provider = \"a\" }, { provider = \"b\" }]\nfallbacks = [\"backup\"]\n[models.backup]\nprovider = \"b\"\n";
    let text = two_providers_routing(
        &a.url("/v1"),
        &b.url("/v1"),
        "request_timeout_seconds = 0.5",
        models,
    );
    let gw = TestGateway::start(&text);
    let started = std::time::Instant::now();
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "ended by the 0.5 s deadline, not a 5 s provider timeout"
    );
    assert_eq!((a.requests().len(), b.requests().len()), (1, 0));
}

#[tokio::test]
async fn a_retry_after_longer_than_max_retry_wait_goes_back_to_the_caller() {
    let a = MockUpstream::always(
        MockReply::status_json(429, fixture("openai/error_429.json")).header("retry-after", "5"),
    );
    let text = two_providers_routing(
        &a.url("/v1"),
        "http://127.0.0.1:9",
        "max_retry_wait_seconds = 2",
        "[models.m]\nprovider = \"a\"\n",
    );
    let gw = TestGateway::start(&text);
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), Some("5"));
    assert_eq!(header(&resp, "x-gateway-attempts"), Some("1"));
    assert_eq!(a.requests().len(), 1);
}

#[tokio::test]
async fn an_open_breaker_never_refuses_a_model_whose_only_target_could_serve() {
    let a = failing_first(1, 500, None);
    let text = two_providers_routing(
        &a.url("/v1"),
        "http://127.0.0.1:9",
        "breaker_failures = 1\nbreaker_cooldown_seconds = 600",
        "[models.m]\nprovider = \"a\"\napi_model = \"x\"\nmax_retries = 0\n",
    );
    let gw = TestGateway::start(&text);
    let failed = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(failed.status(), 502);
    let healthy = [("provider", "a"), ("model", "x")];
    gw.expect_metric("llm_target_healthy", &healthy, 0.0).await;
    // The breaker is open for ten minutes, but it is the model's last target.
    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("m", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-gateway-provider"), Some("a"));
    assert_eq!(a.requests().len(), 2);
    gw.expect_metric("llm_target_healthy", &healthy, 1.0).await;
}

#[tokio::test]
async fn a_429_opens_no_breaker_and_skips_its_target_while_retry_after_runs() {
    // Alone, a rate-limited target keeps being asked: its 429 and
    // Retry-After reach the caller, never a gateway 503.
    let a = MockUpstream::always(
        MockReply::status_json(429, fixture("openai/error_429.json")).header("retry-after", "60"),
    );
    let text = two_providers_routing(
        &a.url("/v1"),
        "http://127.0.0.1:9",
        "breaker_failures = 1",
        "[models.m]\nprovider = \"a\"\napi_model = \"x\"\nmax_retries = 0\n",
    );
    let gw = TestGateway::start(&text);
    for _ in 0..4 {
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        assert_eq!(resp.status(), 429);
        assert_eq!(header(&resp, "retry-after"), Some("60"));
    }
    assert_eq!(a.requests().len(), 4);
    gw.expect_metric(
        "llm_target_healthy",
        &[("provider", "a"), ("model", "x")],
        1.0,
    )
    .await;

    // With another target, the rate-limited one is skipped until then.
    let a = MockUpstream::always(
        MockReply::status_json(429, fixture("openai/error_429.json")).header("retry-after", "60"),
    );
    let b = failing_first(0, 500, None);
    let models = "[models.m]\ntargets = [{ provider = \"a\" }, { provider = \"b\" }]\n";
    let gw = TestGateway::start(&two_providers(&a.url("/v1"), &b.url("/v1"), models));
    for attempts in ["2", "1", "1", "1"] {
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
        assert_eq!(header(&resp, "x-gateway-attempts"), Some(attempts));
    }
    assert_eq!((a.requests().len(), b.requests().len()), (1, 4));
}

#[tokio::test]
async fn when_everything_fails_the_last_error_comes_back_even_once_every_breaker_is_open() {
    let a = failing_first(usize::MAX, 500, None);
    let b = MockUpstream::always(MockReply::status_json(
        503,
        fixture("openai/error_500.json"),
    ));
    let models = "[models.m]\nprovider = \"a\"\nfallbacks = [\"backup\"]\nmax_retries = 0\n[models.backup]\nprovider = \"b\"\nmax_retries = 0\n";
    let text = two_providers_routing(
        &a.url("/v1"),
        &b.url("/v1"),
        "breaker_failures = 1\nbreaker_cooldown_seconds = 600",
        models,
    );
    let gw = TestGateway::start(&text);
    // The first call opens both breakers; the next ones still try both.
    for _ in 0..3 {
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        assert_eq!(resp.status(), 503);
        assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
        assert_eq!(header(&resp, "x-gateway-attempts"), Some("2"));
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "server_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("The server had an error"),
            "the upstream's error, not the gateway's: {v}"
        );
    }
    let resp = client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-test")
        .json(&json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 529, "503 in Anthropic's words");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    assert_eq!((a.requests().len(), b.requests().len()), (4, 4));
    gw.expect_metric(
        "llm_fallbacks_total",
        &[("model", "m"), ("fallback", "backup")],
        4.0,
    )
    .await;
}

#[tokio::test]
async fn a_fallback_counts_once_and_only_when_it_is_taken() {
    let a = failing_first(usize::MAX, 500, None);
    let dead = failing_first(usize::MAX, 500, None);
    let b = failing_first(0, 500, None);
    let models = format!(
        "[providers.c]\ntype = \"openai\"\nbase_url = \"{}\"\n\
         [models.m]\nprovider = \"a\"\nfallbacks = [\"dead\", \"backup\", \"backup\"]\nmax_retries = 0\n\
         [models.dead]\nprovider = \"c\"\nmax_retries = 0\n\
         [models.backup]\nprovider = \"b\"\n",
        dead.url("/v1")
    );
    let text = two_providers_routing(
        &a.url("/v1"),
        &b.url("/v1"),
        "breaker_failures = 1\nbreaker_cooldown_seconds = 600",
        &models,
    );
    let gw = TestGateway::start(&text);
    let mut attempts = vec![];
    for _ in 0..2 {
        let resp = gw
            .post("/v1/chat/completions", "sk-test", &ask("m", false))
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-gateway-provider"), Some("b"));
        attempts.push(header(&resp, "x-gateway-attempts").unwrap().to_owned());
    }
    // The second call skips `m` and `dead`, whose breakers are open.
    assert_eq!(attempts, ["3", "1"]);
    let counted = |fallback| [("model", "m"), ("fallback", fallback)];
    gw.expect_metric("llm_fallbacks_total", &counted("backup"), 2.0)
        .await;
    gw.expect_metric("llm_fallbacks_total", &counted("dead"), 1.0)
        .await;
}
