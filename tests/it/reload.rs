//! Live config reload: changes apply to the next request, requests in
//! flight finish on the config they started with, bad files are refused.

use crate::common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

const ADMIN: &str = "sk-admin-test";

fn cfg(upstream: &str, provider_key: &str, extra: &str) -> String {
    openai_config(upstream, extra)
        .replace("sk-upstream-secret", provider_key)
        .replace(
            "[server]\n",
            &format!("[server]\nadmin_key = \"{ADMIN}\"\n"),
        )
}

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_stream_in_flight_finishes_on_the_old_provider_while_the_next_request_uses_the_new_one() {
    let events = split_events(&fixture("openai/chat_stream.sse"));
    let gate = Arc::new(Notify::new());
    let old = {
        let (events, gate) = (events.clone(), gate.clone());
        MockUpstream::start(move |_| MockReply {
            body: MockBody::Gated(events[..2].to_vec(), events[2..].to_vec(), gate.clone()),
            ..MockReply::sse("")
        })
    };
    let new = MockUpstream::always(MockReply::json(fixture("openai/chat_completion.json")));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &cfg(&old.url("/v1"), "sk-old-key", ""));
    let gw = TestGateway::start_file(&path);

    let mut stream = gw
        .post("/v1/chat/completions", "sk-test", &ask("gpt-4o", true))
        .await;
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("chat.completion.chunk"));

    write_atomic(&path, &cfg(&new.url("/v1"), "sk-new-key", ""));
    let r = gw.admin_reload(ADMIN).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["config_generation"], 2);

    let resp = gw
        .post("/v1/chat/completions", "sk-test", &ask("gpt-4o", false))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        new.single().header("authorization"),
        Some("Bearer sk-new-key")
    );

    gate.notify_one();
    let mut rest = String::from_utf8_lossy(&first).to_string();
    while let Some(c) = stream.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(
        rest.ends_with("data: [DONE]\n\n"),
        "the stream completed intact: {rest}"
    );
    assert_eq!(
        old.single().header("authorization"),
        Some("Bearer sk-old-key")
    );
}

#[tokio::test]
async fn added_models_route_and_disabled_keys_are_refused_after_a_file_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &cfg("http://127.0.0.1:9", "k", ""));
    let gw = TestGateway::start_file(&path);
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("echo", false))
            .await
            .status(),
        404
    );

    let changed = cfg(
        "http://127.0.0.1:9",
        "k",
        "[models.echo]\nprovider = \"mock\"\n",
    )
    .replace(
        "key = \"sk-test\"\nname = \"team-a\"",
        "key = \"sk-test\"\nname = \"team-a\"\nenabled = false",
    )
    .replace(
        "[[api_keys]]\nkey = \"sk-disabled\"",
        "[[api_keys]]\nkey = \"sk-other\"\nname = \"other\"\n\n[[api_keys]]\nkey = \"sk-disabled\"",
    );
    write_atomic(&path, &changed);
    // No trigger: the poller notices the new content.
    gw.await_generation(2).await;

    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("echo", false))
            .await
            .status(),
        401
    );
    let resp = gw
        .post("/v1/chat/completions", "sk-other", &ask("echo", false))
        .await;
    assert_eq!(resp.status(), 200);
    let ids = gw.model_ids("sk-other").await;
    assert_eq!(ids, ["demo", "echo", "gpt-4o"]);
}

#[tokio::test]
async fn invalid_files_are_refused_and_the_old_config_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let good = cfg("http://127.0.0.1:9", "sk-provider-secret", "");
    write_atomic(&path, &good);
    let gw = TestGateway::start_file(&path);

    write_atomic(&path, &format!("{good}\n[models.broken\n"));
    let r = gw.admin_reload(ADMIN).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("TOML parse error"), "{body}");
    assert!(!body.contains("sk-provider-secret"), "{body}");

    write_atomic(
        &path,
        &format!("{good}\n[models.orphan]\nprovider = \"nobody\"\n"),
    );
    let r = gw.admin_reload(ADMIN).await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("models.\\\"orphan\\\".provider: is not a configured provider"));

    assert_eq!(gw.generation().await, 1);
    assert_eq!(
        client()
            .get(gw.url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("demo", false))
            .await
            .status(),
        200
    );
    gw.expect_metric("llm_config_reloads_total", &[("result", "failure")], 2.0)
        .await;
    gw.expect_metric("llm_config_reloads_total", &[("result", "success")], 1.0)
        .await;
}

async fn admin_reload_forced(gw: &TestGateway, force: &str) -> reqwest::Response {
    client()
        .post(gw.url(&format!("/admin/reload?force={force}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_file_that_removes_every_key_or_model_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let good = cfg("http://127.0.0.1:9", "k", "");
    write_atomic(&path, &good);
    let gw = TestGateway::start_file(&path);

    // Truncated before the models: valid TOML, every model gone.
    let truncated = &good[..good.find("[models.").unwrap()];
    write_atomic(&path, truncated);
    let r = gw.admin_reload(ADMIN).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "config_empty");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("would remove every model"), "{message}");
    assert_eq!(gw.generation().await, 1);
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("demo", false))
            .await
            .status(),
        200
    );
    gw.expect_metric(
        "llm_config_reloads_total",
        &[("result", "refused_empty")],
        1.0,
    )
    .await;

    assert_eq!(admin_reload_forced(&gw, "yes").await.status(), 400);
    let r = admin_reload_forced(&gw, "true").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["config_generation"], 2);
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("demo", false))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_watcher_refuses_an_empty_file_but_publishes_one_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &cfg("http://127.0.0.1:9", "k", ""));
    let gw = TestGateway::start_file(&path);

    write_atomic(&path, "");
    gw.expect_metric(
        "llm_config_reloads_total",
        &[("result", "refused_empty")],
        1.0,
    )
    .await;
    assert_eq!(gw.generation().await, 1);
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("demo", false))
            .await
            .status(),
        200
    );

    write_atomic(&path, "[server]\nallow_empty_reload = true\n");
    gw.await_generation(2).await;
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("demo", false))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_refused_reload_names_the_field_but_never_its_value_in_the_answer_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let good = cfg("http://127.0.0.1:9", "sk-provider-secret", "")
        .replace("log_level = \"warn\"", "log_level = \"info\"");
    write_atomic(&path, &good);
    let (port, log) = (free_port(), dir.path().join("out.log"));
    let mut proc = Proc::serve(&path, port, &[], Some(&log));
    proc.wait_ready(port).await;

    let bad = good.replace("127.0.0.1:9\"", "127.0.0.1:9/v1?key=SECRET-in-url\"");
    write_atomic(&path, &bad);
    let r = client()
        .post(format!("http://127.0.0.1:{port}/admin/reload"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("providers.openai.base_url: must have no query string"),
        "{body}"
    );
    assert!(!body.contains("SECRET"), "{body}");
    // The refusal is logged before the answer is sent.
    let out = std::fs::read_to_string(&log).unwrap();
    let line = out
        .lines()
        .find(|l| l.contains("config reload refused"))
        .unwrap_or_else(|| panic!("no refusal logged in:\n{out}"));
    assert!(line.contains("providers.openai.base_url"), "{line}");
    assert!(!out.contains("SECRET"), "{out}");
}

#[tokio::test]
async fn a_kubernetes_style_symlink_swap_is_picked_up() {
    // ConfigMap volume layout: config.toml -> ..data/config.toml, ..data -> ..v1
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("..v1")).unwrap();
    std::fs::write(
        d.join("..v1/config.toml"),
        cfg("http://127.0.0.1:9", "k", ""),
    )
    .unwrap();
    std::os::unix::fs::symlink("..v1", d.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/config.toml", d.join("config.toml")).unwrap();
    let gw = TestGateway::start_file(&d.join("config.toml"));

    std::fs::create_dir(d.join("..v2")).unwrap();
    std::fs::write(
        d.join("..v2/config.toml"),
        cfg(
            "http://127.0.0.1:9",
            "k",
            "[models.added]\nprovider = \"mock\"\n",
        ),
    )
    .unwrap();
    std::os::unix::fs::symlink("..v2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();

    gw.await_generation(2).await;
    assert_eq!(
        gw.post("/v1/chat/completions", "sk-test", &ask("added", false))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_admin_endpoint_refuses_wrong_keys_and_is_off_without_an_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &cfg("http://127.0.0.1:9", "k", ""));
    let gw = TestGateway::start_file(&path);
    assert_eq!(gw.admin_reload("sk-test").await.status(), 401);
    assert_eq!(gw.admin_reload("").await.status(), 401);
    let bare = client()
        .post(gw.url("/admin/reload"))
        .header("authorization", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401, "a key without the Bearer scheme");
    assert_eq!(gw.generation().await, 1);

    let gw = TestGateway::start(&openai_config("http://127.0.0.1:9", ""));
    assert_eq!(gw.admin_reload(ADMIN).await.status(), 404);
}

#[tokio::test]
async fn the_admin_endpoint_matches_the_bearer_scheme_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, &cfg("http://127.0.0.1:9", "k", ""));
    let gw = TestGateway::start_file(&path);
    let resp = client()
        .post(gw.url("/admin/reload"))
        .header("authorization", format!("bearer {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.generation().await, 2);
}

#[tokio::test]
async fn two_hundred_reloads_under_continuous_traffic_fail_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let a = cfg("http://127.0.0.1:9", "k", "");
    let b = a.replace(
        "[models.demo]\nprovider = \"mock\"",
        "[models.demo]\nprovider = \"mock\"\napi_model = \"other\"",
    );
    write_atomic(&path, &a);
    let gw = Arc::new(TestGateway::start_file(&path));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (gw, done, ok, failed) = (gw.clone(), done.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let stream = ok.load(Ordering::Relaxed) % 2 == 0;
                let resp = gw
                    .post("/v1/chat/completions", "sk-test", &ask("demo", stream))
                    .await;
                let good =
                    resp.status() == 200 && resp.text().await.is_ok_and(|t| t.contains("hi"));
                if good {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    failed.fetch_add(1, Ordering::Relaxed)
                };
            }
        }));
    }
    for i in 0..200 {
        write_atomic(&path, if i % 2 == 0 { &b } else { &a });
        assert_eq!(gw.admin_reload(ADMIN).await.status(), 200);
    }
    done.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(gw.generation().await >= 201, "every reload was published");
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 0);
}
