//! One upstream exchange: encode the caller's request for the provider's
//! dialect, send it, map transport and status errors, and decode the answer
//! into the caller's format, as a whole body or as a pumped stream.

use super::translate::{
    self, ClientEncoder, Decoded, OpenAiEncoder, OpenAiPassThrough, Translator,
};
use super::{mock, Drain, ExtraHeaders, Reply, StreamSummary, UpstreamCall};
use crate::config::{ProviderKind, ProviderSettings};
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::protocol::openai::{ChatRequest, ChatResponse, Usage};
use crate::protocol::raw::RawObject;
use crate::protocol::sse::SseParser;
use crate::protocol::ChunkDecoder;
use crate::protocol::{anthropic, gemini};
use awc::error::{PayloadError, SendRequestError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Largest upstream response body read whole (non-streaming answers).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest upstream error body read (the rest is not needed).
const MAX_ERROR_BYTES: usize = 256 * 1024;
/// Stream chunks buffered between the pump and the caller's connection.
const STREAM_BUFFER: usize = 16;

/// Seconds since the Unix epoch, for `created`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How this call is served: chosen from the provider type and the caller's
/// API, carrying what the response side needs to know about the request.
enum Plan {
    /// OpenAI caller, OpenAI-compatible provider: bodies pass through.
    OpenAiPassThrough,
    /// Converted through the OpenAI lingua franca.
    Convert(Upstream),
}

/// The provider dialect of a converted call, with its response context.
enum Upstream {
    Anthropic(anthropic::ResponseContext),
    Gemini(gemini::ResponseContext),
}

impl Upstream {
    fn error(&self, status: u16, body: &[u8], retry_after: Option<String>) -> GatewayError {
        match self {
            Upstream::Anthropic(_) => anthropic::error_from_anthropic(status, body, retry_after),
            Upstream::Gemini(_) => gemini::error_from_gemini(status, body, retry_after),
        }
    }

    fn decode(&self, body: &[u8]) -> Result<ChatResponse, GatewayError> {
        match self {
            Upstream::Anthropic(ctx) => anthropic::from_anthropic(body, ctx),
            Upstream::Gemini(ctx) => gemini::from_gemini(body, ctx),
        }
    }

    fn decoder(self) -> Box<dyn ChunkDecoder> {
        match self {
            Upstream::Anthropic(ctx) => {
                Box::new(anthropic::AnthropicToOpenAi::new(ctx, unix_now()))
            }
            Upstream::Gemini(ctx) => Box::new(gemini::GeminiToOpenAi::new(ctx, unix_now())),
        }
    }
}

/// A request ready to send.
struct Prepared {
    plan: Plan,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    extra_headers: ExtraHeaders,
}

/// Runs one call on `client` (the provider actor's).
pub async fn execute(
    client: awc::Client,
    call: UpstreamCall,
    drain: Drain,
) -> Result<Reply, GatewayError> {
    let provider = &call.target.provider;
    let prepared = match (provider.kind, call.inbound) {
        (ProviderKind::Mock, _) => return mock_reply(&call),
        (ProviderKind::OpenAi, InboundApi::OpenAi) => prepare_openai(&call)?,
        (ProviderKind::Anthropic, InboundApi::OpenAi) => {
            prepare_anthropic(&call, &parse_chat(&call.body)?)?
        }
        (ProviderKind::Gemini, InboundApi::OpenAi) => {
            prepare_gemini(&call, &parse_chat(&call.body)?)?
        }
        (kind, inbound) => {
            return Err(GatewayError::invalid(format!(
                "the gateway cannot yet serve {inbound:?} requests through a {} provider",
                kind.as_str()
            )))
        }
    };
    send(client, call, prepared, drain).await
}

fn prepare_openai(call: &UpstreamCall) -> Result<Prepared, GatewayError> {
    let obj = RawObject::parse(&call.body).map_err(|e| GatewayError::invalid(e.to_string()))?;
    let model = serde_json::to_vec(&call.target.api_model).unwrap_or_default();
    let mut replace: Vec<(&str, &[u8])> = vec![("model", &model)];
    let stream_options;
    if call.stream {
        // Always ask for usage, so streams are counted; the usage chunk is
        // stripped again if the caller did not ask for it.
        let mut opts = match obj.get("stream_options") {
            Some(raw) => {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get())
                    .map_err(|e| {
                        GatewayError::invalid(format!("stream_options: {e}"))
                            .with_param("stream_options")
                    })?
            }
            None => serde_json::Map::new(),
        };
        opts.insert("include_usage".to_owned(), true.into());
        stream_options = serde_json::to_vec(&opts).unwrap_or_default();
        replace.push(("stream_options", &stream_options));
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &call.target.provider.api_key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    Ok(Prepared {
        plan: Plan::OpenAiPassThrough,
        url: format!("{}/chat/completions", call.target.provider.base_url),
        headers,
        body: obj.write_with(&replace),
        extra_headers: Vec::new(),
    })
}

/// The caller's body as a typed OpenAI request, for dialects that convert.
fn parse_chat(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    serde_json::from_slice(body)
        .map_err(|e| GatewayError::invalid(format!("Invalid request body: {e}")))
}

/// The `x-gateway-dropped-params` header, when a conversion dropped any.
fn dropped_header(dropped: Vec<String>) -> ExtraHeaders {
    if dropped.is_empty() {
        Vec::new()
    } else {
        vec![("x-gateway-dropped-params", dropped.join(","))]
    }
}

fn prepare_anthropic(call: &UpstreamCall, req: &ChatRequest) -> Result<Prepared, GatewayError> {
    let provider = &call.target.provider;
    let converted = anthropic::to_anthropic(
        req,
        &anthropic::RequestOptions {
            api_model: &call.target.api_model,
            default_max_tokens: call.default_max_tokens,
        },
    )?;
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("anthropic-version", provider.api_version.clone()),
    ];
    if let Some(key) = &provider.api_key {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    if let Some(beta) = &call.anthropic_beta {
        headers.push(("anthropic-beta", beta.clone()));
    }
    Ok(Prepared {
        plan: Plan::Convert(Upstream::Anthropic(converted.ctx)),
        url: format!("{}/messages", provider.base_url),
        headers,
        body: converted.body,
        extra_headers: dropped_header(converted.dropped),
    })
}

fn prepare_gemini(call: &UpstreamCall, req: &ChatRequest) -> Result<Prepared, GatewayError> {
    let provider = &call.target.provider;
    let mut converted = gemini::to_gemini(req)?;
    converted.ctx.created = unix_now();
    let path = gemini::model_path(&call.target.api_model);
    // The key goes in a header, never in the URL: URLs end up in logs.
    let url = if call.stream {
        format!("{}/{path}:streamGenerateContent?alt=sse", provider.base_url)
    } else {
        format!("{}/{path}:generateContent", provider.base_url)
    };
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &provider.api_key {
        headers.push(("x-goog-api-key", key.expose().to_owned()));
    }
    Ok(Prepared {
        plan: Plan::Convert(Upstream::Gemini(converted.ctx)),
        url,
        headers,
        body: converted.body,
        extra_headers: dropped_header(converted.dropped),
    })
}

fn mock_reply(call: &UpstreamCall) -> Result<Reply, GatewayError> {
    let req = parse_chat(&call.body)?;
    let created = unix_now();
    let model = &call.target.api_model;
    if !call.stream {
        let resp = mock::respond(&req, model, created);
        return Ok(Reply::Complete {
            body: serde_json::to_vec(&resp).unwrap_or_default().into(),
            usage: resp.usage,
            headers: Vec::new(),
            upstream: Duration::ZERO,
        });
    }
    let (chunks, usage) = mock::stream(&req, model, created);
    let mut encoder = OpenAiEncoder::new(call.include_usage);
    let (tx, rx) = mpsc::channel(chunks.len() + 1);
    let mut out = BytesMut::new();
    for chunk in &chunks {
        encoder.chunk(chunk, &mut out);
        // The channel holds every chunk: sending cannot block or fail.
        let _ = tx.try_send(out.split().freeze());
    }
    encoder.end(Some(usage), &mut out);
    let _ = tx.try_send(out.freeze());
    let (summary_tx, summary) = oneshot::channel();
    let _ = summary_tx.send(StreamSummary {
        usage: Some(usage),
        // Every chunk is ready at once.
        first_byte: Some(Duration::ZERO),
        ..Default::default()
    });
    Ok(Reply::Stream {
        chunks: rx,
        summary,
        headers: Vec::new(),
        upstream: Duration::ZERO,
    })
}

async fn send(
    client: awc::Client,
    call: UpstreamCall,
    prepared: Prepared,
    drain: Drain,
) -> Result<Reply, GatewayError> {
    let provider = &call.target.provider;
    let started = Instant::now();
    // A stream must show its head and first event within the first-byte
    // timeout; a whole answer has the provider's total timeout.
    let head_timeout = if call.stream {
        call.first_byte_timeout.min(provider.timeout)
    } else {
        provider.timeout
    };
    let mut request = client.post(&prepared.url).timeout(head_timeout);
    for (name, value) in &prepared.headers {
        request = request.insert_header((*name, value.as_str()));
    }
    let response = request.send_body(prepared.body).await.map_err(send_error)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .timeout(remaining(started, provider.timeout))
            .body()
            .limit(MAX_ERROR_BYTES)
            .await
            .unwrap_or_default();
        let err = prepared.plan.error(status, &body, retry_after);
        return Err(shield(err, provider));
    }
    let head_wait = started.elapsed();
    if call.stream {
        // Read up to the first event before answering: until then a failure
        // is still retryable on another target, since nothing reached the
        // caller.
        let mut stream = UpstreamStream::new(response, prepared.plan.translator(&call));
        let first_deadline = call
            .first_byte_timeout
            .min(provider.timeout)
            .saturating_sub(started.elapsed());
        match tokio::time::timeout(first_deadline, stream.fill()).await {
            Err(_) => {
                return Err(GatewayError::new(
                    ErrorKind::Timeout,
                    "the upstream sent no stream event in time",
                ))
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
        }
        let first_byte = started.elapsed();
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let (summary_tx, summary) = oneshot::channel();
        let (inbound, idle) = (call.inbound, call.stream_idle_timeout);
        actix_web::rt::spawn(async move {
            let s = pump(stream, tx, inbound, idle, drain, first_byte).await;
            let _ = summary_tx.send(s);
        });
        return Ok(Reply::Stream {
            chunks: rx,
            summary,
            headers: prepared.extra_headers,
            upstream: head_wait,
        });
    }
    let body = response
        .timeout(remaining(started, provider.timeout))
        .body()
        .limit(MAX_RESPONSE_BYTES)
        .await
        .map_err(payload_error)?;
    let upstream = started.elapsed();
    let (body, usage) = prepared.plan.complete(body)?;
    Ok(Reply::Complete {
        body,
        usage,
        headers: prepared.extra_headers,
        upstream,
    })
}

impl Plan {
    /// Maps an upstream error answer.
    fn error(&self, status: u16, body: &[u8], retry_after: Option<String>) -> GatewayError {
        match self {
            Plan::OpenAiPassThrough => openai_error(status, body, retry_after),
            Plan::Convert(up) => up.error(status, body, retry_after),
        }
    }

    /// Decodes a complete answer into the caller's format.
    fn complete(&self, body: Bytes) -> Result<(Bytes, Option<Usage>), GatewayError> {
        match self {
            Plan::OpenAiPassThrough => {
                #[derive(serde::Deserialize)]
                struct Probe {
                    usage: Option<Usage>,
                }
                let probe: Probe = serde_json::from_slice(&body).map_err(|_| unreadable())?;
                Ok((body, probe.usage))
            }
            Plan::Convert(up) => {
                let resp = up.decode(&body)?;
                let out = serde_json::to_vec(&resp).map_err(|_| unreadable())?;
                Ok((out.into(), resp.usage))
            }
        }
    }

    /// The translator for a streamed answer.
    fn translator(self, call: &UpstreamCall) -> Box<dyn Translator> {
        match self {
            Plan::OpenAiPassThrough => Box::new(OpenAiPassThrough::new(call.include_usage)),
            Plan::Convert(up) => Box::new(Decoded::new(
                up.decoder(),
                Box::new(OpenAiEncoder::new(call.include_usage)),
            )),
        }
    }
}

/// Keeps provider credentials out of what the caller sees: an upstream 401
/// is about the gateway's provider key, so its message is replaced; any
/// other message that quotes the key has it masked.
fn shield(mut err: GatewayError, provider: &ProviderSettings) -> GatewayError {
    if err.kind == ErrorKind::Upstream(401) {
        err.message = format!(
            "The provider `{}` rejected the gateway's credentials (HTTP 401); \
             check the provider key in the gateway's configuration.",
            provider.id
        )
        .into();
    } else if let Some(key) = &provider.api_key {
        if err.message.contains(key.expose()) {
            err.message = err.message.replace(key.expose(), "***").into();
        }
    }
    err
}

fn unreadable() -> GatewayError {
    GatewayError::new(
        ErrorKind::BadUpstreamResponse,
        "the upstream returned a response the gateway could not read",
    )
}

/// An OpenAI-shaped error answer: the upstream's message and code kept.
fn openai_error(status: u16, body: &[u8], retry_after: Option<String>) -> GatewayError {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: Option<String>,
        code: Option<serde_json::Value>,
        param: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.error.message.clone())
        .unwrap_or_else(|| format!("the upstream returned HTTP {status}"));
    let mut err =
        GatewayError::new(ErrorKind::Upstream(status), message).with_retry_after(retry_after);
    if let Some(inner) = parsed.map(|b| b.error) {
        err.code = match inner.code {
            Some(serde_json::Value::String(s)) => Some(s.into()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string().into()),
            _ => None,
        };
        err.param = inner.param.map(Into::into);
    }
    err
}

fn remaining(started: Instant, total: Duration) -> Duration {
    total
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1))
}

fn send_error(e: SendRequestError) -> GatewayError {
    match e {
        SendRequestError::Timeout => {
            GatewayError::new(ErrorKind::Timeout, "the upstream did not answer in time")
        }
        SendRequestError::Connect(_) => {
            GatewayError::new(ErrorKind::Connection, "the upstream could not be reached")
        }
        _ => GatewayError::new(
            ErrorKind::Connection,
            "the connection to the upstream failed",
        ),
    }
}

fn payload_error(e: PayloadError) -> GatewayError {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            GatewayError::new(ErrorKind::Timeout, "the upstream did not finish in time")
        }
        _ => GatewayError::new(
            ErrorKind::BadUpstreamResponse,
            "the upstream's response could not be read",
        ),
    }
}

/// An upstream SSE body being translated for the caller.
struct UpstreamStream<S> {
    response: awc::ClientResponse<S>,
    parser: SseParser,
    events: Vec<crate::protocol::sse::SseEvent>,
    translator: Box<dyn Translator>,
    /// Translated bytes not yet sent to the caller.
    out: BytesMut,
    /// The upstream stream is over (terminator or end of body).
    done: bool,
    /// Time spent parsing and translating.
    busy: Duration,
}

impl<S> UpstreamStream<S>
where
    S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    fn new(response: awc::ClientResponse<S>, translator: Box<dyn Translator>) -> Self {
        Self {
            response,
            parser: SseParser::new(),
            events: Vec::new(),
            translator,
            out: BytesMut::new(),
            done: false,
            busy: Duration::ZERO,
        }
    }

    /// Reads until there is output for the caller or the stream is over.
    async fn fill(&mut self) -> Result<(), GatewayError> {
        while self.out.is_empty() && !self.done {
            match self.response.next().await {
                Some(Ok(chunk)) => {
                    let t = Instant::now();
                    self.parser.feed(&chunk, &mut self.events);
                    let r = self.translate();
                    self.busy += t.elapsed();
                    r?;
                }
                Some(Err(e)) => return Err(payload_error(e)),
                None => {
                    self.events.extend(self.parser.finish());
                    self.translate()?;
                    if !self.done {
                        self.done = true;
                        self.translator.end(&mut self.out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn translate(&mut self) -> Result<(), GatewayError> {
        for ev in self.events.drain(..) {
            if self.done {
                break;
            }
            if self.translator.event(&ev, &mut self.out)? == translate::Flow::Done {
                self.done = true;
                self.translator.end(&mut self.out)?;
            }
        }
        Ok(())
    }
}

/// Sends the stream on as it is translated. Stops reading as soon as the
/// caller goes away (the receiver is dropped), which drops the upstream
/// response and closes its connection; ends with an error event on an
/// upstream failure, a silent upstream, or the drain deadline.
async fn pump<S>(
    mut stream: UpstreamStream<S>,
    tx: mpsc::Sender<Bytes>,
    inbound: InboundApi,
    idle: Duration,
    mut drain: Drain,
    first_byte: Duration,
) -> StreamSummary
where
    S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let gone = || GatewayError::new(ErrorKind::ClientClosed, "the caller went away");
    let result: Result<(), GatewayError> = loop {
        if !stream.out.is_empty() && tx.send(stream.out.split().freeze()).await.is_err() {
            break Err(gone());
        }
        if stream.done {
            break Ok(());
        }
        tokio::select! {
            biased;
            _ = tx.closed() => break Err(gone()),
            _ = drain.wait_for(|deadline| *deadline) => break Err(GatewayError::new(
                ErrorKind::Unavailable,
                "the gateway is shutting down and its drain period ended before this stream did",
            ).with_code("gateway_shutdown")),
            filled = tokio::time::timeout(idle, stream.fill()) => match filled {
                Err(_) => break Err(GatewayError::new(
                    ErrorKind::Timeout,
                    "the upstream stream went silent for too long",
                )),
                Ok(Err(e)) => break Err(e),
                Ok(Ok(())) => {}
            },
        }
    };
    let error = match result {
        Ok(()) => None,
        Err(e) => {
            if e.kind != ErrorKind::ClientClosed {
                let mut out = stream.out.split();
                out.extend_from_slice(&e.stream_event(inbound));
                let _ = tx.send(out.freeze()).await;
            }
            Some(e.kind)
        }
    };
    StreamSummary {
        usage: stream.translator.usage(),
        error,
        first_byte: Some(first_byte),
        busy: stream.busy,
    }
}
