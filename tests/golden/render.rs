//! A cell as snapshot text: the upstream request and the caller's response,
//! HTTP-like, JSON pretty-printed with keys as sent, streams event by event;
//! auth headers redacted and values that change from run to run replaced.

use crate::exchange::Exchange;
use crate::json::Json;
use std::time::{SystemTime, UNIX_EPOCH};

/// Upstream request headers left out: transport only.
const UPSTREAM_SKIP: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "transfer-encoding",
    "date",
    "user-agent",
];

/// Response headers left out: transport, and values new on every request.
const RESPONSE_SKIP: &[&str] = &[
    "content-length",
    "connection",
    "transfer-encoding",
    "date",
    "x-request-id",
    "x-gateway-overhead-ms",
];

/// Headers that carry a provider key upstream.
pub const AUTH_HEADERS: &[&str] = &["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// The snapshot text of an exchange.
pub fn render(ex: &Exchange) -> String {
    let mut n = Normaliser::new();
    let mut out = String::new();
    if ex.upstream.is_empty() {
        out.push_str("## upstream\n(none: answered in-process)\n\n");
    }
    for r in &ex.upstream {
        let query = if r.query.is_empty() {
            String::new()
        } else {
            format!("?{}", r.query)
        };
        out.push_str(&format!(
            "## upstream request\n{} {}{query}\n",
            r.method, r.path
        ));
        out.push_str(&headers(&r.headers, UPSTREAM_SKIP));
        out.push_str(&format!("\n{}\n\n", n.body(&r.body)));
    }
    out.push_str(&format!("## response\n{}\n", ex.status));
    out.push_str(&headers(&ex.headers, RESPONSE_SKIP));
    let sse = ex
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
    let body = if sse {
        n.sse(&String::from_utf8_lossy(&ex.body))
    } else {
        n.body(&ex.body)
    };
    out.push_str(&format!("\n{body}\n"));
    if ex.body_broken {
        out.push_str("(the body ended with a transport error)\n");
    }
    out
}

/// `name: value` lines, sorted, without `skip`, auth values redacted.
fn headers(all: &[(String, String)], skip: &[&str]) -> String {
    let mut lines: Vec<String> = all
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| match AUTH_HEADERS.contains(&k.as_str()) {
            true => format!("{k}: [redacted]\n"),
            false => format!("{k}: {v}\n"),
        })
        .collect();
    lines.sort();
    lines.concat()
}

/// Replaces what changes between runs: `created` timestamps the gateway
/// made (within a day of now; recorded ones are kept) and the mock
/// provider's process-wide id counter (`mock-<n>`, numbered per snapshot in
/// order of appearance, so equal ids stay equal), and the random part of
/// Responses ids (`resp_[id]`).
struct Normaliser {
    now: u64,
    mock_ids: Vec<String>,
}

impl Normaliser {
    fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        Self {
            now,
            mock_ids: Vec::new(),
        }
    }

    /// A body: JSON pretty-printed, else the text as it is.
    fn body(&mut self, bytes: &[u8]) -> String {
        if bytes.is_empty() {
            return "(empty body)".to_owned();
        }
        match Json::parse(bytes) {
            Some(mut v) => {
                self.json(&mut v);
                v.pretty()
            }
            None => String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    fn json(&mut self, v: &mut Json) {
        let now = self.now;
        let ids = &mut self.mock_ids;
        v.walk_mut(&mut |key, v| match v {
            Json::Number(n)
                if matches!(key, Some("created" | "created_at"))
                    && n.as_u64().is_some_and(|t| t.abs_diff(now) < 86_400) =>
            {
                *v = Json::String("[now]".to_owned());
            }
            Json::String(s) => *s = response_ids(&number_mock_ids(s, ids)),
            _ => {}
        });
    }

    /// An SSE body, event by event, each `data:` JSON pretty-printed; a
    /// trailing event without its blank line is shown as unterminated.
    fn sse(&mut self, text: &str) -> String {
        let text = text.replace("\r\n", "\n");
        let mut events = Vec::new();
        let mut rest = text.as_str();
        while let Some((event, tail)) = rest.split_once("\n\n") {
            events.push(self.event(event));
            rest = tail;
        }
        if !rest.is_empty() {
            events.push(format!("(unterminated event)\n{rest}"));
        }
        if events.is_empty() {
            return "(no events)".to_owned();
        }
        events.join("\n\n")
    }

    fn event(&mut self, event: &str) -> String {
        let lines: Vec<String> = event
            .lines()
            .map(|line| match line.split_once(':') {
                Some(("data", data)) => {
                    let data = data.strip_prefix(' ').unwrap_or(data);
                    match Json::parse(data.as_bytes()) {
                        Some(mut v) => {
                            self.json(&mut v);
                            format!("data: {}", v.pretty())
                        }
                        None => format!("data: {data}"),
                    }
                }
                _ => line.to_owned(),
            })
            .collect();
        lines.join("\n")
    }
}

/// `s` with the random part of Responses ids (`resp_<32 hex>`, and the
/// item ids made from it) replaced by `[id]`.
fn response_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('_') {
        let (head, tail) = rest.split_at(at + 1);
        out.push_str(head);
        let hex = tail
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        if hex == 32 {
            out.push_str("[id]");
            rest = &tail[32..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// `s` with the number after each `mock-` replaced by its ordinal in `ids`.
fn number_mock_ids(s: &str, ids: &mut Vec<String>) -> String {
    const MARK: &str = "mock-";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(MARK) {
        let (head, tail) = rest.split_at(at + MARK.len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            let id = &tail[..digits];
            let ordinal = match ids.iter().position(|known| known == id) {
                Some(i) => i + 1,
                None => {
                    ids.push(id.to_owned());
                    ids.len()
                }
            };
            out.push_str(&format!("[{ordinal}]"));
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}
