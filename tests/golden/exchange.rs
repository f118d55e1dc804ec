//! One cell, for real: a recording mock upstream answering with the case's
//! answer, the gateway in front of it as a provider of the cell's type, and
//! the case's request sent by the cell's caller.

use crate::case::{Cell, URL_ROUTED};
use crate::common::{client, provider_config, MockUpstream, Recorded, TestGateway};
use crate::json::Json;

/// What happened in one cell.
pub struct Exchange {
    /// What the upstream received (nothing for the in-process mock).
    pub upstream: Vec<Recorded>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body ended with a transport error instead of its end.
    pub body_broken: bool,
    /// The request as sent, for the invariant checks.
    pub request: Json,
}

/// The gateway's config for a cell: one provider of the cell's type serving
/// model `m`; one worker (each builds its provider clients, which is most of
/// a start); no retries (an upstream error reaches the caller as the
/// upstream sent it, after exactly one upstream request).
fn config(cell: &Cell, base_url: &str) -> String {
    let one_provider = provider_config(cell.provider.name, base_url);
    format!(
        "{}\n[routing]\nmax_retries = 0\n",
        one_provider.replacen("[server]\n", "[server]\nworkers = 1\n", 1)
    )
}

/// The case's request for the cell's caller and the path it goes to, with
/// `model` set to `m` (in the body, or in the URL for [`URL_ROUTED`]
/// callers).
fn request(cell: &Cell) -> (&'static str, Json) {
    let path = cell.case.request_path(cell.caller);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut body = Json::parse(&text).unwrap_or_else(|| panic!("{path:?}: not JSON"));
    match URL_ROUTED
        .iter()
        .find(|(name, _)| *name == cell.caller.name)
    {
        Some((_, stream_path)) => {
            let stream = body.take("stream") == Some(Json::Bool(true));
            (
                if stream {
                    stream_path
                } else {
                    cell.caller.path
                },
                body,
            )
        }
        None => {
            body.set("model", Json::String("m".into()));
            (cell.caller.path, body)
        }
    }
}

/// Runs the cell.
pub async fn run(cell: &Cell<'_>) -> Exchange {
    let (up, base_url) = match cell.upstream() {
        Some((base_path, reply)) => {
            let up = MockUpstream::always(reply);
            let url = up.url(base_path);
            (Some(up), url)
        }
        // The mock provider needs no base URL; any well-formed one will do.
        None => (None, "http://127.0.0.1:9".to_owned()),
    };
    let gw = TestGateway::start(&config(cell, &base_url));
    let (path, body) = request(cell);
    let mut req = client()
        .post(gw.url(path))
        .header(cell.caller.key_header.0, cell.caller.key_header.1)
        .header("content-type", "application/json");
    for (name, value) in cell.caller.headers {
        req = req.header(*name, *value);
    }
    for (name, value) in &cell.case.headers {
        req = req.header(name, value);
    }
    let mut resp = req
        .body(body.compact())
        .send()
        .await
        .expect("gateway answers");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("<not text>").to_owned()))
        .collect();
    let (mut bytes, mut body_broken) = (Vec::new(), false);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => {
                body_broken = true;
                break;
            }
        }
    }
    Exchange {
        upstream: up.map(|u| u.requests()).unwrap_or_default(),
        status,
        headers,
        body: bytes,
        body_broken,
        request: body,
    }
}
