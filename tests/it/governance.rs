//! Per-key governance: model allow-lists, rpm, tpm and concurrency limits,
//! live-reloadable.

use crate::common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn ask(model: &str, content: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]})
}

fn config(keys: &str, extra: &str) -> String {
    format!(
        r#"
[server]
admin_key = "sk-admin"
{keys}
[providers.mock]
type = "mock"
[models.demo]
provider = "mock"
[models."claude-3-haiku"]
provider = "mock"
[models."gpt-4"]
provider = "mock"
{extra}
"#
    )
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn allow_lists_with_exact_names_and_globs_apply_to_chat_models_and_messages() {
    let gw = TestGateway::start(&config(
        "[[api_keys]]\nkey = \"sk-a\"\nname = \"a\"\nmodels = [\"gpt-4\", \"claude-*\"]\n",
        "",
    ));
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-a", &ask("gpt-4", "x", false))
            .await
            .status(),
        200
    );
    assert_eq!(
        gw.post(
            "/v1/chat/completions",
            "sk-a",
            &ask("claude-3-haiku", "x", false)
        )
        .await
        .status(),
        200
    );
    let resp = gw
        .post("/v1/chat/completions", "sk-a", &ask("demo", "x", false))
        .await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("permission_error"), Some("model_not_allowed"))
    );

    let ids = gw.model_ids("sk-a").await;
    assert_eq!(ids, ["claude-3-haiku", "gpt-4"]);

    let resp = client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-a")
        .json(&json!({"model": "demo", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "permission_error"
    );
    let d = [
        ("api_key", "a"),
        ("model", "demo"),
        ("provider", "mock"),
        ("endpoint", "/v1/chat/completions"),
        ("error_type", "permission"),
    ];
    gw.expect_metric("llm_errors_total", &d, 1.0).await;
}

#[tokio::test]
async fn the_request_after_the_rpm_budget_is_429_with_headers_and_passes_after_the_reset() {
    let gw = TestGateway::start(&config(
        "[[api_keys]]\nkey = \"sk-r\"\nname = \"r\"\nrpm = 30\n",
        "",
    ));
    for i in 0..30 {
        let r = gw
            .post("/v1/chat/completions", "sk-r", &ask("demo", "x", false))
            .await;
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(header(&r, "x-ratelimit-limit-requests"), Some("30"));
    }
    let r = gw
        .post("/v1/chat/completions", "sk-r", &ask("demo", "x", false))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("2"));
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), Some("0"));
    assert!(header(&r, "x-ratelimit-reset-requests").is_some());
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "rate_limit_error"
    );
    // One request refills every 2 s.
    let mut refused = 1.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = gw
            .post("/v1/chat/completions", "sk-r", &ask("demo", "x", false))
            .await;
        if r.status() == 200 {
            break;
        }
        refused += 1.0;
        assert!(Instant::now() < deadline, "the limit never reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.expect_metric(
        "llm_rate_limited_total",
        &[("api_key", "r"), ("limit", "rpm")],
        refused,
    )
    .await;
}

#[tokio::test]
async fn tpm_is_charged_from_real_usage_of_whole_and_streamed_answers() {
    // The mock counts a token per word: 6 in + 6 out = 12 > 10.
    let six = "one two three four five six";
    for stream in [false, true] {
        let gw = TestGateway::start(&config(
            "[[api_keys]]\nkey = \"sk-t\"\nname = \"t\"\ntpm = 10\n",
            "",
        ));
        let r = gw
            .post("/v1/chat/completions", "sk-t", &ask("demo", six, stream))
            .await;
        assert_eq!(r.status(), 200, "admitted while tokens are left");
        assert_eq!(header(&r, "x-ratelimit-limit-tokens"), Some("10"));
        r.text().await.unwrap();
        // The charge lands when the (streamed) answer is complete.
        let deadline = Instant::now() + Duration::from_secs(10);
        let refused = loop {
            let r = gw
                .post("/v1/chat/completions", "sk-t", &ask("demo", "x", false))
                .await;
            if r.status() == 429 {
                break r;
            }
            assert!(
                Instant::now() < deadline,
                "usage was never charged (stream: {stream})"
            );
        };
        assert!(refused.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tpm"));
    }
}

#[tokio::test]
async fn max_concurrent_counts_open_streams() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    let up = MockUpstream::start(move |_| MockReply {
        body: MockBody::Gated(events[..2].to_vec(), events[2..].to_vec(), g.clone()),
        ..MockReply::sse("")
    });
    let text = openai_config(&up.url("/v1"), "")
        .replace("name = \"team-a\"", "name = \"team-a\"\nmax_concurrent = 1");
    let gw = TestGateway::start(&text);
    let mut first = gw
        .post("/v1/chat/completions", "sk-test", &ask("gpt-4o", "x", true))
        .await;
    first.chunk().await.unwrap();
    let r = gw
        .post("/v1/chat/completions", "sk-test", &ask("demo", "x", false))
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("concurrency"));
    gate.notify_one();
    while first.chunk().await.unwrap().is_some() {}
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw
        .post("/v1/chat/completions", "sk-test", &ask("demo", "x", false))
        .await
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "the slot was never released");
    }
}

#[tokio::test]
async fn a_reload_applies_changed_limits_and_keeps_the_counters_of_unchanged_keys() {
    let keys = |b_rpm: u32| {
        format!("[[api_keys]]\nkey = \"sk-a\"\nname = \"a\"\nrpm = 1\n[[api_keys]]\nkey = \"sk-b\"\nname = \"b\"\nrpm = {b_rpm}\n")
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &config(&keys(1), ""));
    let gw = TestGateway::start_file(&path);
    for key in ["sk-a", "sk-b"] {
        assert_eq!(
            gw.post("/v1/chat/completions", key, &ask("demo", "x", false))
                .await
                .status(),
            200
        );
        assert_eq!(
            gw.post("/v1/chat/completions", key, &ask("demo", "x", false))
                .await
                .status(),
            429
        );
    }
    write_atomic(&path, &config(&keys(1000), ""));
    assert_eq!(gw.admin_reload("sk-admin").await.status(), 200);
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-a", &ask("demo", "x", false))
            .await
            .status(),
        429,
        "a's counter kept"
    );
    let r = gw
        .post("/v1/chat/completions", "sk-b", &ask("demo", "x", false))
        .await;
    assert_eq!(r.status(), 200, "b's new limit applies");
    assert_eq!(header(&r, "x-ratelimit-limit-requests"), Some("1000"));
}

#[tokio::test]
async fn a_key_without_limits_never_sees_a_429_or_limit_headers() {
    let gw = TestGateway::start(&config(
        "[[api_keys]]\nkey = \"sk-free\"\nname = \"free\"\n",
        "",
    ));
    for _ in 0..300 {
        let r = gw
            .post(
                "/v1/chat/completions",
                "sk-free",
                &ask("demo", "one two three", false),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert!(header(&r, "x-ratelimit-limit-requests").is_none());
    }
}

#[tokio::test]
async fn callers_who_hang_up_cancel_their_upstream_calls_and_hold_their_slots_until_then() {
    let up = MockUpstream::always(MockReply {
        body: MockBody::Hang,
        ..MockReply::json("")
    });
    let text = openai_config(&up.url("/v1"), "")
        .replace("name = \"team-a\"", "name = \"team-a\"\nmax_concurrent = 2")
        .replace("timeout_seconds = 5", "timeout_seconds = 120");
    let gw = TestGateway::start(&text);
    let mut traffic = up.traffic();
    let body = ask("gpt-4o", "x", false);
    let hang_ups = async {
        for i in 1..=10 {
            // Hang up once the upstream has the call; a 429 (the slot of the
            // call before is still held) is asked again.
            loop {
                let mut conn = raw_post(gw.addr, "/v1/chat/completions", "sk-test", &body).await;
                let mut head = [0u8; 12];
                tokio::select! {
                    t = traffic.wait_for(|t| t.arrived == i) => {
                        t.expect("mock alive");
                        break;
                    }
                    read = tokio::io::AsyncReadExt::read_exact(&mut conn, &mut head) => {
                        read.expect("an answer");
                        assert_eq!(&head, b"HTTP/1.1 429");
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), hang_ups)
        .await
        .expect("ten calls reached the upstream");
    let ended = tokio::time::timeout(Duration::from_secs(10), traffic.wait_for(|t| t.open == 0))
        .await
        .is_ok();
    let seen = *traffic.borrow();
    assert!(
        ended,
        "the upstream calls ran on after the hang-ups: {seen:?}"
    );
    assert!(
        seen.most_open <= 2,
        "more upstream calls at once than max_concurrent: {seen:?}"
    );
}
