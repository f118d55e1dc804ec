//! Per-key limits shared by several replicas on one real `redis-server`:
//! rpm, tpm, concurrency and budgets exactly, leases of dead replicas,
//! restarts, reloads, and Redis going away and coming back.

use crate::common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn ask(model: &str, content: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]})
}

/// A gateway config on `redis_url` with `keys`, the mock model `demo`
/// (priced at 0.1 USD per token either way) and `extra`.
fn shared(redis_url: &str, keys: &str, extra: &str) -> String {
    format!(
        r#"
[server]
admin_key = "sk-admin"
log_level = "warn"
[limits]
store = "redis"
redis_url = "{redis_url}"
store_timeout_ms = 1000
{keys}
[providers.mock]
type = "mock"
[models.demo]
provider = "mock"
[models.demo.pricing]
input_per_mtok = 100000
output_per_mtok = 100000
{extra}
"#
    )
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn status(gw: &TestGateway, key: &str, model: &str) -> u16 {
    gw.post("/v1/chat/completions", key, &ask(model, "x", false))
        .await
        .status()
        .as_u16()
}

/// Waits (bounded) until the store holds a key containing `part`: a
/// charge or a count has landed.
async fn until_stored(redis: &Redis, part: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis.keys().iter().any(|k| k.contains(part)) {
        assert!(Instant::now() < deadline, "nothing like {part} was stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls (bounded) until `key` gets `want` from `gw` for a `model` call.
async fn until_status(gw: &TestGateway, key: &str, model: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while status(gw, key, model).await != want {
        assert!(Instant::now() < deadline, "{key} never got {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_replicas_admit_an_rpm_limit_exactly_once_in_total() {
    let redis = Redis::start();
    let text = shared(
        &redis.url(),
        "[[api_keys]]\nkey = \"sk-r\"\nname = \"r\"\nrpm = 10\n",
        "",
    );
    let replicas = [TestGateway::start(&text), TestGateway::start(&text)];
    let mut admitted = [0, 0];
    for i in 0..30 {
        let r = replicas[i % 2]
            .post("/v1/chat/completions", "sk-r", &ask("demo", "x", false))
            .await;
        match r.status().as_u16() {
            200 => admitted[i % 2] += 1,
            429 => assert_eq!(header(&r, "x-ratelimit-remaining-requests"), Some("0")),
            s => panic!("request {i}: {s}"),
        }
    }
    assert_eq!(admitted, [5, 5], "10 a minute in total, not per replica");
}

#[tokio::test]
async fn open_streams_fill_a_key_on_every_replica_and_free_it_when_they_end_or_their_caller_leaves()
{
    let redis = Redis::start();
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let gates: Arc<Vec<Arc<Notify>>> = Arc::new((0..4).map(|_| Arc::new(Notify::new())).collect());
    let (g, n) = (gates.clone(), Arc::new(AtomicUsize::new(0)));
    let up = MockUpstream::start(move |_| {
        let gate = g[n.fetch_add(1, Ordering::SeqCst) % 4].clone();
        MockReply {
            body: MockBody::Gated(events[..2].to_vec(), events[2..].to_vec(), gate),
            ..MockReply::sse("")
        }
    });
    let extra = format!(
        "[providers.up]\ntype = \"openai\"\nbase_url = \"{}\"\n[models.m]\nprovider = \"up\"\n",
        up.url("/v1")
    );
    let text = shared(
        &redis.url(),
        "[[api_keys]]\nkey = \"sk-c\"\nname = \"c\"\nmax_concurrent = 2\n",
        &extra,
    );
    let (a, b) = (TestGateway::start(&text), TestGateway::start(&text));
    let mut first = a
        .post("/v1/chat/completions", "sk-c", &ask("m", "x", true))
        .await;
    first.chunk().await.unwrap();
    let mut second = b
        .post("/v1/chat/completions", "sk-c", &ask("m", "x", true))
        .await;
    second.chunk().await.unwrap();
    for gw in [&a, &b] {
        let r = gw
            .post("/v1/chat/completions", "sk-c", &ask("demo", "x", false))
            .await;
        assert_eq!(r.status(), 429, "both slots are taken, on both replicas");
        assert!(r.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("concurrency"));
    }
    // The first stream ends: its slot frees on the other replica too.
    gates[0].notify_one();
    while first.chunk().await.unwrap().is_some() {}
    until_status(&b, "sk-c", "demo", 200).await;
    until_status(&a, "sk-c", "demo", 200).await;
    // The second stream's caller goes away: its slot is released.
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut c = redis.connection().unwrap();
    while redis::cmd("ZCARD")
        .arg("llmgw:{c}:inflight")
        .query::<u64>(&mut c)
        .unwrap()
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the abandoned stream's slot never freed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let body = ask("m", "x", true);
    let (x, y) = tokio::join!(
        a.post("/v1/chat/completions", "sk-c", &body),
        b.post("/v1/chat/completions", "sk-c", &body),
    );
    assert_eq!(
        (x.status().as_u16(), y.status().as_u16()),
        (200, 200),
        "both slots are free"
    );
    for g in gates.iter() {
        g.notify_one();
    }
}

#[tokio::test]
async fn tokens_used_on_one_replica_count_on_the_other() {
    let redis = Redis::start();
    let text = shared(
        &redis.url(),
        "[[api_keys]]\nkey = \"sk-t\"\nname = \"t\"\ntpm = 10\n",
        "",
    );
    let (a, b) = (TestGateway::start(&text), TestGateway::start(&text));
    // The mock counts a token per word: 6 in + 6 out = 12 > 10.
    for stream in [false, true] {
        let r = a
            .post(
                "/v1/chat/completions",
                "sk-t",
                &ask("demo", "one two three four five six", stream),
            )
            .await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap();
        until_stored(&redis, "}:tpm").await;
        let refused = b
            .post("/v1/chat/completions", "sk-t", &ask("demo", "x", false))
            .await;
        assert_eq!(refused.status(), 429, "stream: {stream}");
        assert!(refused.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tpm"));
        let mut c = redis.connection().unwrap();
        redis::cmd("FLUSHALL").exec(&mut c).unwrap();
    }
}

#[tokio::test]
async fn a_budget_spent_on_one_replica_is_refused_on_the_other_in_each_callers_shape() {
    let redis = Redis::start();
    let text = shared(
        &redis.url(),
        "[[api_keys]]\nkey = \"sk-b\"\nname = \"b\"\nbudget_usd = 0.5\nbudget_period = \"day\"\n",
        "",
    );
    let (a, b) = (TestGateway::start(&text), TestGateway::start(&text));
    let r = a
        .post(
            "/v1/chat/completions",
            "sk-b",
            &ask("demo", "one two three four five six", false),
        )
        .await;
    assert_eq!(r.status(), 200);
    // 12 tokens at 0.1 USD each.
    assert_eq!(header(&r, "x-gateway-cost-usd"), Some("1.2"));
    assert_eq!(header(&r, "x-ratelimit-remaining-budget-usd"), Some("0.0"));
    until_stored(&redis, ":spend:day:").await;
    let refused = b
        .post("/v1/chat/completions", "sk-b", &ask("demo", "x", false))
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        header(&refused, "x-ratelimit-remaining-budget-usd"),
        Some("0.0")
    );
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "budget_exceeded");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let refused = client()
        .post(b.url("/v1/messages"))
        .header("x-api-key", "sk-b")
        .json(&json!({"model": "demo", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let v: Value = refused.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error"))
    );
    b.expect_metric(
        "llm_rate_limited_total",
        &[("api_key", "b"), ("limit", "budget")],
        2.0,
    )
    .await;
}

#[tokio::test]
async fn counters_outlive_a_replica_restart_and_a_reload() {
    let redis = Redis::start();
    let keys = "[[api_keys]]\nkey = \"sk-r\"\nname = \"r\"\nrpm = 2\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &shared(&redis.url(), keys, ""));
    let gw = TestGateway::start_file(&path);
    assert_eq!(status(&gw, "sk-r", "demo").await, 200);
    assert_eq!(status(&gw, "sk-r", "demo").await, 200);
    drop(gw);
    let gw = TestGateway::start_file(&path);
    assert_eq!(status(&gw, "sk-r", "demo").await, 429, "after a restart");
    let more = format!("{keys}[[api_keys]]\nkey = \"sk-new\"\nname = \"new\"\n");
    write_atomic(&path, &shared(&redis.url(), &more, ""));
    assert_eq!(gw.admin_reload("sk-admin").await.status(), 200);
    assert_eq!(status(&gw, "sk-r", "demo").await, 429, "after a reload");
    assert_eq!(status(&gw, "sk-new", "demo").await, 200);
}

#[tokio::test]
async fn a_dead_replicas_slot_is_held_while_it_lives_and_reclaimed_after_its_lease() {
    let redis = Redis::start();
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let up = MockUpstream::always(MockReply {
        body: MockBody::ChunksThenHang(events[..2].to_vec()),
        ..MockReply::sse("")
    });
    let extra = format!(
        "[providers.up]\ntype = \"openai\"\nbase_url = \"{}\"\n[models.m]\nprovider = \"up\"\n",
        up.url("/v1")
    );
    let text = shared(
        &redis.url(),
        "[[api_keys]]\nkey = \"sk-c\"\nname = \"c\"\nmax_concurrent = 1\n",
        &extra,
    )
    .replace("[limits]\n", "[limits]\nlease_seconds = 1\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).unwrap();
    let port = free_port();
    let mut a = Proc::serve(&path, port, &[], None);
    a.wait_ready(port).await;
    let mut held = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-c")
        .json(&ask("m", "x", true))
        .send()
        .await
        .unwrap();
    held.chunk().await.unwrap();
    let b = TestGateway::start(&text);
    assert_eq!(status(&b, "sk-c", "demo").await, 429);
    // Longer than two leases: the live replica keeps renewing its slot.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        status(&b, "sk-c", "demo").await,
        429,
        "a live lease is renewed"
    );
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let killed = Instant::now();
    until_status(&b, "sk-c", "demo", 200).await;
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
}

#[tokio::test]
async fn with_redis_down_allow_serves_on_local_limits_logs_once_and_shares_again_when_it_is_back() {
    let mut redis = Redis::start();
    let keys = "[[api_keys]]\nkey = \"sk-a\"\nname = \"a\"\nrpm = 1000\n\
                [[api_keys]]\nkey = \"sk-l\"\nname = \"l\"\nrpm = 3\n";
    let text = shared(&redis.url(), keys, "").replace(
        "log_level = \"warn\"",
        "log_level = \"info\"\nlog_format = \"json\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let (path, log) = (dir.path().join("config.toml"), dir.path().join("out.log"));
    std::fs::write(&path, &text).unwrap();
    let port = free_port();
    let mut gw = Proc::serve(&path, port, &[], Some(&log));
    gw.wait_ready(port).await;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let call = |key: &'static str| {
        let url = url.clone();
        async move {
            client()
                .post(url)
                .bearer_auth(key)
                .json(&ask("demo", "x", false))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call("sk-a").await, 200);
    assert_eq!(call("sk-l").await, 200);
    assert_eq!(call("sk-l").await, 200);
    assert!(redis.keys().iter().any(|k| k == "llmgw:{a}:rpm"));
    redis.kill();
    for _ in 0..5 {
        assert_eq!(call("sk-a").await, 200, "served on local limits");
    }
    // Local limits go on from what the store last said: 2 of 3 were used.
    assert_eq!(call("sk-l").await, 200);
    assert_eq!(call("sk-l").await, 429);
    // Metrics are recorded asynchronously: poll (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = client()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let errors = metric_value(
            &metrics,
            "llm_limits_store_errors_total",
            &[("operation", "admit")],
        );
        if errors == Some(7.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "7 admissions without the store: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !redis.keys().iter().any(|k| k == "llmgw:{a}:rpm") {
        assert!(Instant::now() < deadline, "sharing never resumed");
        assert_eq!(call("sk-a").await, 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = |what: &str| text.lines().filter(|l| l.contains(what)).count();
    assert_eq!(lines("limits store (Redis) is unreachable"), 1, "{text}");
    assert_eq!(lines("the limits store answers again"), 1, "{text}");
    assert!(!text.contains("sk-a"), "a key in the log:\n{text}");
}

#[tokio::test]
async fn with_redis_down_deny_refuses_limited_calls_in_each_callers_shape_until_it_is_back() {
    let mut redis = Redis::start();
    let keys = "[[api_keys]]\nkey = \"sk-d\"\nname = \"d\"\nrpm = 1000\n\
                [[api_keys]]\nkey = \"sk-free\"\nname = \"free\"\n";
    let text = shared(&redis.url(), keys, "")
        .replace("[limits]\n", "[limits]\non_store_error = \"deny\"\n");
    let gw = TestGateway::start(&text);
    assert_eq!(status(&gw, "sk-d", "demo").await, 200);
    redis.kill();
    let r = gw
        .post("/v1/chat/completions", "sk-d", &ask("demo", "x", false))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "retry-after"), Some("1"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "limits_store_unavailable");
    let r = client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-d")
        .json(&json!({"model": "demo", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    // Anthropic callers get 529 for "unavailable", which their SDKs retry.
    assert_eq!(r.status(), 529);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("overloaded_error"))
    );
    assert_eq!(
        status(&gw, "sk-free", "demo").await,
        200,
        "keys without limits need no store"
    );
    redis.restart();
    until_status(&gw, "sk-d", "demo", 200).await;
}

#[tokio::test]
async fn a_store_that_never_answers_costs_a_call_no_more_than_the_store_timeout() {
    // Accepts connections, never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/0", silent.local_addr().unwrap());
    let text = shared(
        &url,
        "[[api_keys]]\nkey = \"sk-s\"\nname = \"s\"\nrpm = 100\n",
        "",
    )
    .replace("store_timeout_ms = 1000", "store_timeout_ms = 200");
    let gw = TestGateway::start(&text);
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(status(&gw, "sk-s", "demo").await, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    gw.expect_metric(
        "llm_limits_store_errors_total",
        &[("operation", "admit")],
        3.0,
    )
    .await;
}

#[tokio::test]
async fn the_redis_password_comes_from_the_environment_and_is_never_shown() {
    let redis = Redis::start_with(Some("s3cret-pw"));
    let text = shared(
        &redis.url(),
        "[[api_keys]]\nkey = \"sk-p\"\nname = \"p\"\nrpm = 5\n",
        "",
    )
    .replace("log_level = \"warn\"", "log_level = \"info\"");
    let dir = tempfile::tempdir().unwrap();
    let (path, log) = (dir.path().join("config.toml"), dir.path().join("out.log"));
    std::fs::write(&path, &text).unwrap();
    let port = free_port();
    let env = [("LLM_GATEWAY__LIMITS__REDIS_PASSWORD", "s3cret-pw")];
    let mut gw = Proc::serve(&path, port, &env, Some(&log));
    gw.wait_ready(port).await;
    let r = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-p")
        .json(&ask("demo", "x", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        redis.keys().iter().any(|k| k == "llmgw:{p}:rpm"),
        "the gateway authenticated and counted in Redis"
    );
    drop(gw);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!text.contains("unreachable"), "{text}");
}
