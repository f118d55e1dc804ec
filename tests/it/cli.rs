//! The binary: `check`, fatal config errors, env overrides, the demo mode.

use crate::common::*;
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(&dir, &openai_config("http://127.0.0.1:9", ""));
    let out = bin().arg("check").arg("--config").arg(&p).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (2 models, 2 providers)"));
}

#[test]
fn check_rejects_a_bad_file_naming_the_file_and_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = openai_config("not-a-url", "[models.orphan]\nprovider = \"nobody\"\n")
        .replace("[server]\n", "[server]\nprot = 1\n");
    let p = write_config(&dir, &text);
    let out = bin().arg("check").arg("--config").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = p.display().to_string();
    for line in [
        format!("{file}: server.prot: unknown field (a typo?)"),
        format!("{file}: providers.openai.base_url: must start with http:// or https://"),
        format!("{file}: models.\"orphan\".provider: is not a configured provider"),
        format!("{file}: configuration test failed"),
    ] {
        assert!(err.contains(&line), "missing `{line}` in:\n{err}");
    }
    assert!(
        !err.contains("sk-upstream-secret") && !err.contains("sk-test"),
        "{err}"
    );
}

#[test]
fn check_names_each_field_but_never_quotes_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = openai_config(
        "https://example.com/v1beta?key=SECRET-in-url",
        "[models.orphan]\nprovider = \"SECRET-provider\"\nfallbacks = [\"SECRET-model\"]\n\
         [limits]\nstore = \"SECRET-store\"\n",
    )
    .replace("[server]\n", "[server]\nlog_format = \"SECRET-format\"\n");
    let p = write_config(&dir, &text);
    let out = bin().arg("check").arg("--config").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for field in [
        "server.log_format: must be one of json, pretty",
        "limits.store: is not one of local, redis",
        "providers.openai.base_url: must have no query string",
        "models.\"orphan\".provider: is not a configured provider",
        "models.\"orphan\".fallbacks[0]: is not a configured model",
    ] {
        assert!(err.contains(field), "missing `{field}` in:\n{err}");
    }
    assert!(!err.contains("SECRET"), "{err}");

    // A value of the wrong type, from the environment: the config crate's
    // own message would quote it.
    let p = write_config(&dir, &openai_config("http://127.0.0.1:9", ""));
    let out = bin()
        .arg("check")
        .arg("--config")
        .arg(&p)
        .env("LLM_GATEWAY__ROUTING__MAX_RETRIES", "SECRET-from-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("routing.max_retries: invalid type: string, expected"),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
}

#[test]
fn check_rejects_a_log_level_typo_that_would_silence_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = openai_config("http://127.0.0.1:9", "")
        .replace("log_level = \"warn\"", "log_level = \"infoo\"");
    let p = write_config(&dir, &text);
    let out = bin().arg("check").arg("--config").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = format!(
        "{}: server.log_level: `infoo` is not a log level",
        p.display()
    );
    assert!(err.contains(&line), "missing `{line}` in:\n{err}");
}

#[test]
fn an_explicit_missing_config_is_fatal() {
    let out = bin()
        .arg("--config")
        .arg("/nonexistent/gw.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/gw.toml: cannot read"), "{err}");
}

#[test]
fn help_and_version() {
    let out = bin().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        concat!("llm-gateway ", env!("CARGO_PKG_VERSION"))
    );
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("check") && help.contains("--config"),
        "{help}"
    );
}

#[tokio::test]
async fn env_overrides_set_the_port_and_the_provider_key() {
    let up = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(&dir, &openai_config(&up.url("/v1"), ""));
    let port = free_port();
    let mut proc = Proc::serve(
        &p,
        port,
        &[("LLM_GATEWAY__PROVIDERS__OPENAI__API_KEY", "sk-from-env")],
        None,
    );
    proc.wait_ready(port).await;
    let resp = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        up.single().header("authorization"),
        Some("Bearer sk-from-env")
    );
}

#[tokio::test]
async fn without_a_config_the_demo_serves_and_says_so_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("out.log");
    let mut proc = Proc(
        bin()
            .current_dir(dir.path())
            .env("LLM_GATEWAY__SERVER__PORT", port.to_string())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    proc.wait_ready(port).await;
    let v: serde_json::Value = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-gateway-demo")
        .json(&json!({"model": "demo", "messages": [{"role": "user", "content": "hello demo"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello demo");
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(out.contains("DEMO config"), "{out}");
}

#[tokio::test]
async fn sighup_reloads_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(&dir, &openai_config("http://127.0.0.1:9", ""));
    let port = free_port();
    let mut proc = Proc::serve(&p, port, &[], None);
    proc.wait_ready(port).await;
    let generation = || async {
        let v: serde_json::Value = client()
            .get(format!("http://127.0.0.1:{port}/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["config_generation"].as_u64().unwrap()
    };
    assert_eq!(generation().await, 1);
    // The file is unchanged: only the signal can cause this reload.
    proc.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    while generation().await < 2 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        proc.0.try_wait().unwrap().is_none(),
        "SIGHUP must not stop the gateway"
    );
}

#[tokio::test]
async fn sighup_refuses_an_emptied_file_says_so_in_the_log_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(&dir, &openai_config("http://127.0.0.1:9", ""));
    let port = free_port();
    let log = dir.path().join("out.log");
    let mut proc = Proc::serve(&p, port, &[], Some(&log));
    proc.wait_ready(port).await;
    std::fs::write(&p, "").unwrap();
    proc.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    let line = loop {
        let out = std::fs::read_to_string(&log).unwrap();
        if let Some(l) = out.lines().find(|l| l.contains("config reload refused")) {
            break l.to_owned();
        }
        assert!(Instant::now() < deadline, "no refusal in the log:\n{out}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["level"], "ERROR");
    assert_eq!(v["removed"], "every gateway key and every model");
    let resp = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the previous config keeps serving");
    // Metrics are recorded asynchronously: poll, bounded.
    loop {
        let text = client()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let refused = metric_value(
            &text,
            "llm_config_reloads_total",
            &[("result", "refused_empty")],
        );
        if refused >= Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no refused_empty reload in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn json_logs_have_one_object_per_line_with_the_call_and_never_the_key_or_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let text = openai_config("http://127.0.0.1:9", "").replace(
        "log_level = \"warn\"",
        "log_level = \"info\"\nlog_format = \"json\"",
    );
    let p = write_config(&dir, &text);
    let port = free_port();
    let log = dir.path().join("out.log");
    let mut proc = Proc::serve(&p, port, &[], Some(&log));
    proc.wait_ready(port).await;
    let resp = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .header("x-request-id", "req-abc-123")
        .json(&json!({"model": "demo", "messages": [{"role": "user", "content": "secret prompt words"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "req-abc-123");
    resp.text().await.unwrap();
    // The access line is written when the response body is done; poll the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let out = std::fs::read_to_string(&log).unwrap();
        if let Some(l) = out.lines().find(|l| l.contains("req-abc-123")) {
            assert!(
                !out.contains("sk-test") && !out.contains("secret prompt"),
                "{out}"
            );
            for l in out.lines() {
                serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            }
            break l.to_owned();
        }
        assert!(Instant::now() < deadline, "no access line in:\n{out}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["request_id"], "req-abc-123");
    assert_eq!(v["api_key"], "team-a");
    assert_eq!(v["model"], "demo");
    assert_eq!(v["provider"], "mock");
    assert_eq!(v["status"], 200);
    assert!(v["duration_ms"].is_number());
}

#[tokio::test]
async fn a_gemini_key_in_the_query_never_reaches_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = openai_config("http://127.0.0.1:9", "").replace(
        "log_level = \"warn\"",
        "log_level = \"debug\"\nlog_format = \"json\"",
    );
    let p = write_config(&dir, &text);
    let port = free_port();
    let log = dir.path().join("out.log");
    let mut proc = Proc::serve(&p, port, &[], Some(&log));
    proc.wait_ready(port).await;
    let resp = client()
        .post(format!(
            "http://127.0.0.1:{port}/v1beta/models/demo:streamGenerateContent?alt=sse&key=sk-test"
        ))
        .header("x-request-id", "req-gem-1")
        .json(&json!({"contents": [{"parts": [{"text": "secret prompt words"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::fs::read_to_string(&log).unwrap();
        if let Some(line) = out
            .lines()
            .find(|l| l.contains("req-gem-1") && l.contains("\"status\""))
        {
            assert!(
                !out.contains("sk-test") && !out.contains("secret prompt"),
                "{out}"
            );
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["path"], "/v1beta/models/demo:streamGenerateContent");
            assert_eq!(v["api_key"], "team-a");
            break;
        }
        assert!(Instant::now() < deadline, "no access line in:\n{out}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
