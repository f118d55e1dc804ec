//! What calls cost, from `[models.X.pricing]` and the providers' real
//! usage: the same number in the header, the metric and the access log;
//! budgets per period, refused before the upstream in each caller's shape.

use crate::common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// USD per million tokens: input 3, output 15, cache reads 0.3, writes 3.75.
const PRICING: &str = "pricing = { input_per_mtok = 3, output_per_mtok = 15, cache_read_per_mtok = 0.3, cache_write_per_mtok = 3.75 }";

/// One mock upstream for every provider type, answering by path and by the
/// body's `stream` flag from recorded fixtures.
fn upstream() -> MockUpstream {
    MockUpstream::start(|r| {
        let stream = r.json()["stream"] == json!(true);
        let (path, sse) = match r.path.as_str() {
            p if p.starts_with("/openai") => {
                ("openai/chat_completion.json", "openai/chat_stream.sse")
            }
            p if p.starts_with("/anthropic") => (
                "anthropic/response_cache_usage.json",
                "anthropic/stream_usage_deltas.sse",
            ),
            p if p.contains("streamGenerateContent") => ("", "gemini/stream_text.sse"),
            _ => ("gemini/response_thoughts_text.json", ""),
        };
        if stream || r.path.contains("streamGenerateContent") {
            MockReply::sse(&fixture(sse))
        } else {
            MockReply::json(fixture(path))
        }
    })
}

fn config(up: &MockUpstream) -> String {
    let mut models = String::new();
    for kind in ["openai", "anthropic", "gemini"] {
        models.push_str(&format!(
            "[models.{kind}]\nprovider = \"{kind}\"\n{PRICING}\n\
             [providers.{kind}]\napi_key = \"sk-upstream-secret\"\nbase_url = \"{}\"\n",
            up.url(&format!(
                "/{kind}/{}",
                if kind == "gemini" { "v1beta" } else { "v1" }
            ))
        ));
    }
    format!(
        "[server]\nlog_level = \"info\"\nlog_format = \"json\"\n\
         [[api_keys]]\nkey = \"sk-test\"\nname = \"team-a\"\n\
         [providers.mock]\ntype = \"mock\"\n[models.free]\nprovider = \"mock\"\n{models}"
    )
}

/// The `request` access log line with this id, once written.
async fn access_line(log: &std::path::Path, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let line = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["message"] == "request" && v["request_id"] == request_id);
        if let Some(v) = line {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no access line for {request_id}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `llm_cost_usd_total{…}` once it is `want` (polling, bounded).
async fn cost_metric(port: u16, labels: &[(&str, &str)], want: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let got = metric_value(&text, "llm_cost_usd_total", labels);
        if let Some(v) = got.filter(|v| (v - want).abs() < 1e-9) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{labels:?}: want {want}, got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn cost_is_exact_and_agrees_in_header_metric_and_log_for_every_provider_type() {
    let up = upstream();
    let dir = tempfile::tempdir().unwrap();
    let (path, log) = (dir.path().join("config.toml"), dir.path().join("out.log"));
    std::fs::write(&path, config(&up)).unwrap();
    let port = free_port();
    let mut gw = Proc::serve(&path, port, &[], Some(&log));
    gw.wait_ready(port).await;
    // (model, expected USD): plain input 3, output 15, reads 0.3, writes 3.75
    // per Mtok, from the fixtures' usage.
    let cases = [
        // 19 in, 10 out; streamed: 19 in, 2 out.
        ("openai", 0.000_207, 0.000_087),
        // 21 plain + 1200 written + 9000 read in, 17 out; the same streamed.
        ("anthropic", 0.007_518, 0.007_518),
        // 14 in, 9 + 212 thinking out; streamed: 8 in, 8 out.
        ("gemini", 0.003_357, 0.000_144),
    ];
    for (model, whole, streamed) in cases {
        let mut spent = 0.0;
        for (stream, want) in [(false, whole), (true, streamed)] {
            let r = client()
                .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
                .bearer_auth("sk-test")
                .json(&json!({"model": model, "stream": stream,
                              "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{model}");
            let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
            let header = r
                .headers()
                .get("x-gateway-cost-usd")
                .map(|v| v.to_str().unwrap().parse::<f64>().unwrap());
            r.text().await.unwrap();
            let line = access_line(&log, &id).await;
            let logged = line["cost_usd"].as_f64().expect("cost_usd on the line");
            assert!(
                (logged - want).abs() < 1e-9,
                "{model} stream={stream}: {logged} != {want}"
            );
            if stream {
                assert_eq!(
                    header, None,
                    "a stream's head goes out before its cost is known"
                );
            } else {
                assert_eq!(
                    header,
                    Some(logged),
                    "{model}: header and log agree exactly"
                );
            }
            spent += logged;
            let labels = [("api_key", "team-a"), ("model", model), ("provider", model)];
            let metric = cost_metric(port, &labels, spent).await;
            assert_eq!(metric, spent, "{model}: metric and log agree exactly");
        }
    }
    // A model without pricing costs nothing, says so once, and has no series.
    let r = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&json!({"model": "free", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-gateway-cost-usd"], "0.0");
    let text = std::fs::read_to_string(&log).unwrap();
    let unpriced: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("without pricing"))
        .collect();
    assert_eq!(unpriced.len(), 1, "{text}");
    assert!(unpriced[0].contains("free"), "{}", unpriced[0]);
    assert!(!text.contains("sk-test") && !text.contains("sk-upstream-secret"));
}

/// A gateway whose key `sk-b` has a budget of 0.05 USD per `period`, in
/// front of an OpenAI-compatible upstream whose answers cost 0.029 USD.
fn budgeted(period: &str) -> (MockUpstream, TestGateway) {
    let up = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let text = format!(
        "[[api_keys]]\nkey = \"sk-b\"\nname = \"b\"\nbudget_usd = 0.05\nbudget_period = \"{period}\"\n\
         [models.m]\nprovider = \"up\"\n\
         pricing = {{ input_per_mtok = 1000, output_per_mtok = 1000 }}\n\
         [providers.up]\ntype = \"openai\"\nbase_url = \"{}\"\n",
        up.url("/v1")
    );
    (up, TestGateway::start(&text))
}

#[tokio::test]
async fn a_spent_budget_is_refused_before_the_upstream_in_each_callers_shape_for_each_period() {
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let messages =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    for (period, longest) in [
        ("day", 86_400),
        ("week", 7 * 86_400),
        ("month", 31 * 86_400),
    ] {
        for (path, body) in [("/v1/chat/completions", &chat), ("/v1/messages", &messages)] {
            let (up, gw) = budgeted(period);
            // 19 + 10 tokens at 1000 USD per Mtok: 0.029 USD a call.
            let first = gw.post(path, "sk-b", body).await;
            assert_eq!(first.status(), 200);
            assert_eq!(first.headers()["x-ratelimit-remaining-budget-usd"], "0.021");
            let second = gw.post(path, "sk-b", body).await;
            assert_eq!(second.status(), 200, "still below the budget: admitted");
            assert_eq!(second.headers()["x-ratelimit-remaining-budget-usd"], "0.0");
            let refused = gw.post(path, "sk-b", body).await;
            assert_eq!(refused.status(), 429, "{period} {path}");
            assert_eq!(refused.headers()["x-ratelimit-remaining-budget-usd"], "0.0");
            let retry: u64 = refused.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                (1..=longest).contains(&retry),
                "{period}: retry after {retry}"
            );
            let v: Value = refused.json().await.unwrap();
            if path == "/v1/messages" {
                assert_eq!(v["type"], "error");
                assert_eq!(v["error"]["type"], "rate_limit_error");
                assert!(v["error"]["message"].as_str().unwrap().contains(period));
            } else {
                assert_eq!(v["error"]["code"], "budget_exceeded");
                assert_eq!(v["error"]["type"], "rate_limit_error");
            }
            assert_eq!(
                up.requests().len(),
                2,
                "the refused call never reached the upstream"
            );
        }
    }
}
