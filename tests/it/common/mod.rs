//! Test harness: the real gateway on a free port, mock upstreams that speak
//! recorded wire formats and record what they receive, and small helpers.

#![allow(dead_code)]

mod process;
mod redis_server;
pub use process::{bin, free_port, Proc};
pub use redis_server::Redis;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use llm_gateway::config::load::load_str;
use llm_gateway::Gateway;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Notify};

/// A fixture file's text.
pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn free_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// The gateway, started in-process on its own actix system thread.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub shared: Arc<llm_gateway::state::Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl TestGateway {
    /// Starts the gateway on `config_toml` (validated like a real file).
    pub fn start(config_toml: &str) -> Self {
        let snapshot = load_str(config_toml, "test config").unwrap_or_else(|e| panic!("{e}"));
        Self::start_with(snapshot, None)
    }

    /// Starts the gateway on the config file at `path`, watching it.
    pub fn start_file(path: &std::path::Path) -> Self {
        let snapshot = llm_gateway::config::load_file(path).unwrap_or_else(|e| panic!("{e}"));
        Self::start_with(snapshot, Some(path.to_owned()))
    }

    fn start_with(
        snapshot: llm_gateway::config::Snapshot,
        file: Option<std::path::PathBuf>,
    ) -> Self {
        let listener = free_listener();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let gw = Gateway::start(file, snapshot, listener).expect("gateway starts");
                tx.send((gw.addr, gw.shared.clone(), gw.server.handle()))
                    .expect("test alive");
                let _ = gw.server.await;
            })
        });
        let (addr, shared, handle) = rx.recv().expect("gateway started");
        Self {
            addr,
            shared,
            handle,
        }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs JSON with a bearer key.
    pub async fn post(&self, path: &str, key: &str, body: &serde_json::Value) -> reqwest::Response {
        client()
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("gateway answers")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stopping needs no runtime of ours: the server's own system does it.
        drop(handle.stop(false));
    }
}

/// A plain HTTP client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// What a mock upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The client's address: the same port means the same connection.
    pub peer: Option<SocketAddr>,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("upstream got JSON")
    }
}

/// How a mock upstream answers.
#[derive(Clone)]
pub enum MockBody {
    /// A complete body.
    Full(String),
    /// SSE pieces sent one after the other, then the end of the body.
    Chunks(Vec<String>),
    /// SSE pieces, then the body stays open forever.
    ChunksThenHang(Vec<String>),
    /// Never answers at all.
    Hang,
    /// SSE pieces, then waits for `gate` to be notified, then the rest.
    Gated(Vec<String>, Vec<String>, Arc<Notify>),
    /// SSE pieces with a pause between each (an upstream's own pace).
    Paced(Vec<String>, Duration),
    /// One SSE piece over and over, as fast as the gateway reads, until it
    /// hangs up (notifies `stream_dropped`).
    Endless(String),
}

/// A mock upstream's answer.
#[derive(Clone)]
pub struct MockReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: MockBody,
}

impl MockReply {
    /// 200 with a JSON body.
    pub fn json(body: impl Into<String>) -> Self {
        Self::status_json(200, body)
    }

    /// `status` with a JSON body.
    pub fn status_json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![],
            content_type: "application/json".into(),
            body: MockBody::Full(body.into()),
        }
    }

    /// 200 with an SSE body given as whole text, sent in one piece per event.
    pub fn sse(text: &str) -> Self {
        Self::sse_pieces(split_events(text))
    }

    /// 200 with SSE pieces.
    pub fn sse_pieces(pieces: Vec<String>) -> Self {
        Self {
            status: 200,
            headers: vec![],
            content_type: "text/event-stream".into(),
            body: MockBody::Chunks(pieces),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An OpenAI stream that never ends: a content chunk of 16 KiB over and
/// over.
pub fn endless_content() -> MockReply {
    let chunk = serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "x".repeat(16 * 1024)}}]
    });
    MockReply {
        body: MockBody::Endless(format!("data: {chunk}\n\n")),
        ..MockReply::sse("")
    }
}

/// Splits SSE text into its events (each keeping its blank line).
pub fn split_events(text: &str) -> Vec<String> {
    text.split_inclusive("\n\n").map(str::to_owned).collect()
}

type Responder = Arc<dyn Fn(&Recorded) -> MockReply + Send + Sync>;

/// What a mock upstream has been asked so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Requests received.
    pub arrived: usize,
    /// Requests whose handler still runs: a hanging one until the gateway
    /// drops its connection.
    pub open: usize,
    /// The most requests open at once.
    pub most_open: usize,
}

/// Counts one request as open while alive.
struct OpenRequest(Arc<watch::Sender<Traffic>>);

impl OpenRequest {
    fn new(traffic: Arc<watch::Sender<Traffic>>) -> Self {
        traffic.send_modify(|t| {
            t.arrived += 1;
            t.open += 1;
            t.most_open = t.most_open.max(t.open);
        });
        Self(traffic)
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.send_modify(|t| t.open -= 1);
    }
}

/// A mock provider: an HTTP server answering by a closure and recording
/// every request.
pub struct MockUpstream {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// Notified when a streamed response body is dropped before its end
    /// (the gateway closed the connection).
    pub stream_dropped: Arc<Notify>,
    traffic: Arc<watch::Sender<Traffic>>,
    handle: actix_web::dev::ServerHandle,
}

struct MockState {
    responder: Responder,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stream_dropped: Arc<Notify>,
    traffic: Arc<watch::Sender<Traffic>>,
}

impl MockUpstream {
    /// Starts a mock that answers every request with `responder`.
    pub fn start(responder: impl Fn(&Recorded) -> MockReply + Send + Sync + 'static) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stream_dropped = Arc::new(Notify::new());
        let traffic = Arc::new(watch::Sender::new(Traffic::default()));
        let state = web::Data::new(MockState {
            responder: Arc::new(responder),
            requests: requests.clone(),
            stream_dropped: stream_dropped.clone(),
            traffic: traffic.clone(),
        });
        let listener = free_listener();
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                        .default_service(web::to(serve))
                })
                .workers(1)
                .h1_allow_half_closed(false)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                tx.send(server.handle()).expect("test alive");
                let _ = server.await;
            })
        });
        let handle = rx.recv().expect("mock started");
        Self {
            addr,
            requests,
            stream_dropped,
            traffic,
            handle,
        }
    }

    /// Its traffic, updated as requests arrive and end.
    pub fn traffic(&self) -> watch::Receiver<Traffic> {
        self.traffic.subscribe()
    }

    /// A mock that always gives the same answer.
    pub fn always(reply: MockReply) -> Self {
        Self::start(move |_| reply.clone())
    }

    /// `http://addr` + `path`, for a provider's base_url.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// The only request received; fails if there were more or none.
    pub fn single(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one upstream request");
        all.into_iter().next().expect("one")
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Fires a notification when dropped before being disarmed.
struct DropGuard(Option<Arc<Notify>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            n.notify_one();
        }
    }
}

async fn serve(req: HttpRequest, body: Bytes, state: web::Data<MockState>) -> HttpResponse {
    let _open = OpenRequest::new(state.traffic.clone());
    let recorded = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body,
        peer: req.peer_addr(),
    };
    let reply = (state.responder)(&recorded);
    state.requests.lock().expect("lock").push(recorded);
    let mut b =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).expect("status"));
    b.content_type(reply.content_type.as_str());
    for (n, v) in &reply.headers {
        b.insert_header((n.as_str(), v.as_str()));
    }
    match reply.body {
        MockBody::Full(text) => b.body(text),
        MockBody::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        MockBody::Chunks(pieces) => {
            let s = futures_util::stream::iter(
                pieces
                    .into_iter()
                    .map(|p| Ok::<_, std::convert::Infallible>(Bytes::from(p))),
            );
            b.streaming(s)
        }
        MockBody::Gated(first, rest, gate) => {
            let ok = |p: String| Ok::<_, std::convert::Infallible>(Bytes::from(p));
            let head = futures_util::stream::iter(first.into_iter().map(ok));
            let tail = futures_util::stream::once(async move {
                gate.notified().await;
                futures_util::stream::iter(rest.into_iter().map(ok))
            });
            b.streaming(futures_util::StreamExt::chain(
                head,
                futures_util::StreamExt::flatten(tail),
            ))
        }
        MockBody::Paced(pieces, gap) => {
            let pieces = futures_util::stream::iter(pieces.into_iter().enumerate());
            b.streaming(futures_util::StreamExt::then(
                pieces,
                move |(i, p)| async move {
                    if i > 0 {
                        actix_web::rt::time::sleep(gap).await;
                    }
                    Ok::<_, std::convert::Infallible>(Bytes::from(p))
                },
            ))
        }
        MockBody::Endless(piece) => {
            let piece = Bytes::from(piece);
            let guard = DropGuard(Some(state.stream_dropped.clone()));
            b.streaming(futures_util::stream::unfold(guard, move |g| {
                let p = piece.clone();
                async move { Some((Ok::<_, std::convert::Infallible>(p), g)) }
            }))
        }
        MockBody::ChunksThenHang(pieces) => {
            let guard = DropGuard(Some(state.stream_dropped.clone()));
            let head = futures_util::stream::iter(
                pieces
                    .into_iter()
                    .map(|p| Ok::<_, std::convert::Infallible>(Bytes::from(p))),
            );
            let tail = futures_util::stream::unfold(guard, |g| async move {
                std::future::pending::<()>().await;
                Some((Ok(Bytes::new()), g))
            });
            b.streaming(futures_util::StreamExt::chain(head, tail))
        }
    }
}

/// Sends `body` as a POST with a bearer key over a raw connection, for
/// tests that hang up: dropping the stream closes the connection.
pub async fn raw_post(
    addr: SocketAddr,
    path: &str,
    key: &str,
    body: &serde_json::Value,
) -> tokio::net::TcpStream {
    let body = body.to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .expect("gateway accepts");
    conn.write_all(format!("{head}{body}").as_bytes())
        .await
        .expect("request sent");
    conn
}

/// Sends `body` to `path` on a raw connection with key `sk-test` and never
/// reads the answer: a caller that stopped reading. Keep it to keep the
/// connection open.
pub fn stalled_caller(
    addr: SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> std::net::TcpStream {
    use std::io::Write;
    let body = body.to_string();
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer sk-test\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    conn
}

/// Reads an SSE response to its end and returns the `data:` payloads.
pub async fn sse_data(resp: reqwest::Response) -> Vec<String> {
    let text = resp.text().await.expect("stream body");
    text.split("\n\n")
        .filter_map(|ev| {
            let data: Vec<&str> = ev
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// A config with one `openai`-type provider at `base_url` and the usual test
/// keys: `sk-test` (name `team-a`), `sk-disabled` (disabled).
pub fn openai_config(base_url: &str, extra: &str) -> String {
    format!(
        r#"
[server]
log_level = "warn"

[[api_keys]]
key = "sk-test"
name = "team-a"

[[api_keys]]
key = "sk-disabled"
name = "old-app"
enabled = false

[models."gpt-4o"]
provider = "openai"
api_model = "gpt-4o-2024-08-06"

[models.demo]
provider = "mock"

[providers.openai]
api_key = "sk-upstream-secret"
base_url = "{base_url}"
timeout_seconds = 5

[providers.mock]
type = "mock"
{extra}
"#
    )
}

/// A config with one provider of type `kind` (id `up`, key
/// `sk-upstream-secret`) serving model `m` as `upstream-model`; key
/// `sk-test` (name `team-a`).
pub fn provider_config(kind: &str, base_url: &str) -> String {
    format!(
        r#"
[server]
log_level = "warn"

[[api_keys]]
key = "sk-test"
name = "team-a"

[models.m]
provider = "up"
api_model = "upstream-model"
default_max_tokens = 1000

[providers.up]
type = "{kind}"
api_key = "sk-upstream-secret"
base_url = "{base_url}"
timeout_seconds = 5
"#
    )
}

/// Parses every `data:` payload except `[DONE]` as JSON.
pub fn json_events(data: &[String]) -> Vec<serde_json::Value> {
    data.iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("JSON event"))
        .collect()
}

/// The value of the sample `name{labels}` in Prometheus text, if present
/// (labels in any order; all of the sample's labels must be given).
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let mut got: Vec<(&str, &str)> = if rest.is_empty() {
                vec![]
            } else {
                rest.split("\",")
                    .map(|kv| {
                        let (k, v) = kv.split_once("=\"").unwrap_or((kv, ""));
                        (k, v.trim_end_matches('"'))
                    })
                    .collect()
            };
            let mut want = labels.to_vec();
            got.sort();
            want.sort();
            (got == want).then(|| value.parse().ok()).flatten()
        })
}

impl TestGateway {
    /// The `/metrics` text.
    pub async fn scrape(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Waits (bounded, polling) until `name{labels}` equals `value` —
    /// observations are recorded asynchronously — and fails with the
    /// scraped text otherwise.
    pub async fn expect_metric(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.scrape().await;
            let got = metric_value(&text, name, labels);
            if got == Some(value) {
                return;
            }
            if std::time::Instant::now() > deadline {
                panic!("{name}{labels:?}: expected {value}, got {got:?} in:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Replaces a file's content atomically (write then rename), as editors and
/// config management do.
pub fn write_atomic(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

impl TestGateway {
    /// The config generation `/ready` reports.
    pub async fn generation(&self) -> u64 {
        let v: serde_json::Value = client()
            .get(self.url("/ready"))
            .send()
            .await
            .expect("ready")
            .json()
            .await
            .expect("ready JSON");
        v["config_generation"].as_u64().expect("generation")
    }

    /// Waits (bounded, polling `/ready`) until the served config generation
    /// reaches `at_least`.
    pub async fn await_generation(&self, at_least: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.generation().await < at_least {
            assert!(
                std::time::Instant::now() < deadline,
                "config generation {at_least} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The ids `GET /v1/models` lists for `key`.
    pub async fn model_ids(&self, key: &str) -> Vec<String> {
        let v: serde_json::Value = client()
            .get(self.url("/v1/models"))
            .bearer_auth(key)
            .send()
            .await
            .expect("models")
            .json()
            .await
            .expect("models JSON");
        v["data"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|m| m["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    /// `POST /admin/reload` with `key`.
    pub async fn admin_reload(&self, key: &str) -> reqwest::Response {
        client()
            .post(self.url("/admin/reload"))
            .bearer_auth(key)
            .send()
            .await
            .expect("admin answers")
    }
}

/// A mock upstream always giving `reply`, behind a gateway whose model `m`
/// routes to it as a provider of type `kind` (see [`provider_config`]).
pub fn behind(kind: &str, base_path: &str, reply: MockReply) -> (MockUpstream, TestGateway) {
    let up = MockUpstream::always(reply);
    let gw = TestGateway::start(&provider_config(kind, &up.url(base_path)));
    (up, gw)
}

/// A request fixture with its model set to `m`.
pub fn request_fixture(path: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&fixture(path)).expect("JSON fixture");
    v["model"] = serde_json::json!("m");
    v
}
