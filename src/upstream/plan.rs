//! How one attempt is served, decided from the operation, the provider type
//! and the caller's API: the upstream request to send and how to turn its
//! answer (whole, or streamed) into the caller's format — or an answer made
//! locally (the mock provider, token estimates).
//!
//! Same API on both sides passes the body through with only `model`
//! rewritten; every other pair converts through the OpenAI lingua franca
//! (`protocol::openai`), one dialect decoder and one caller encoder.

use super::translate::{
    AnthropicPassThrough, ClientEncoder, Decoded, OpenAiEncoder, OpenAiPassThrough, Translator,
};
use super::{mock, ExtraHeaders, Operation, Reply, StreamSummary, UpstreamCall};
use crate::config::{ProviderKind, ProviderSettings};
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::protocol::embeddings::{self, EmbeddingsRequest};
use crate::protocol::messages::{self, AnthropicEncoder, InboundContext};
use crate::protocol::openai::{ChatChunk, ChatRequest, ChatResponse, Message, Usage};
use crate::protocol::openai_stream::OpenAiChunkDecoder;
use crate::protocol::raw::RawObject;
use crate::protocol::ChunkDecoder;
use crate::protocol::{anthropic, gemini};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Seconds since the Unix epoch, for `created`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Maps an upstream error answer (status, body, `Retry-After`).
pub type ErrorMapper = fn(u16, &[u8], Option<Duration>) -> GatewayError;

/// Turns a whole upstream answer into the caller's body and the usage.
pub type WholeAnswer = Box<dyn FnOnce(Bytes) -> Result<(Bytes, Option<Usage>), GatewayError>>;

/// How the upstream's answer becomes the caller's.
pub enum Answer {
    Whole(WholeAnswer),
    Stream(Box<dyn Translator>),
}

/// An upstream request ready to send.
pub struct Prepared {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Headers for the caller (e.g. `x-gateway-dropped-params`).
    pub extra_headers: ExtraHeaders,
    pub errors: ErrorMapper,
    pub answer: Answer,
}

/// What an attempt needs: a request to send, or an answer made here.
pub enum Planned {
    Send(Prepared),
    Local(Reply),
}

/// Plans one attempt.
pub fn plan(call: &UpstreamCall) -> Result<Planned, GatewayError> {
    let provider = &call.target.provider;
    match call.operation {
        Operation::Chat => plan_chat(call),
        Operation::CountTokens => match provider.kind {
            ProviderKind::Anthropic => Ok(Planned::Send(anthropic_native(
                call,
                "/messages/count_tokens",
            )?)),
            _ => {
                let n = messages::estimate_input_tokens(&call.body)?;
                Ok(local_json(serde_json::json!({ "input_tokens": n }), None))
            }
        },
        Operation::Embeddings => plan_embeddings(call),
    }
}

fn plan_chat(call: &UpstreamCall) -> Result<Planned, GatewayError> {
    let kind = call.target.provider.kind;
    match (kind, call.inbound) {
        (ProviderKind::OpenAi, InboundApi::OpenAi) => Ok(Planned::Send(openai_pass_through(
            call,
            "/chat/completions",
        )?)),
        (ProviderKind::Anthropic, InboundApi::Anthropic) => {
            Ok(Planned::Send(anthropic_native(call, "/messages")?))
        }
        _ => {
            let (req, inbound) = typed_request(call)?;
            match kind {
                ProviderKind::OpenAi => openai_typed(call, req, inbound).map(Planned::Send),
                ProviderKind::Anthropic => {
                    anthropic_converted(call, &req, inbound).map(Planned::Send)
                }
                ProviderKind::Gemini => gemini_converted(call, &req, inbound).map(Planned::Send),
                ProviderKind::Mock => Ok(mock_chat(call, &req, inbound)),
            }
        }
    }
}

/// The caller's body as a typed OpenAI request, and how to answer the caller.
fn typed_request(call: &UpstreamCall) -> Result<(ChatRequest, Inbound), GatewayError> {
    match call.inbound {
        InboundApi::OpenAi => {
            let req = serde_json::from_slice(&call.body).map_err(|e| GatewayError::bad_body(&e))?;
            Ok((
                req,
                Inbound::OpenAi {
                    include_usage: call.include_usage,
                },
            ))
        }
        InboundApi::Anthropic => {
            let (req, ctx) = messages::to_openai(&call.body)?;
            Ok((req, Inbound::Anthropic(ctx)))
        }
    }
}

/// The caller's side of a converted call.
enum Inbound {
    OpenAi { include_usage: bool },
    Anthropic(InboundContext),
}

impl Inbound {
    fn encode(&self, resp: &ChatResponse) -> Bytes {
        match self {
            Inbound::OpenAi { .. } => serde_json::to_vec(resp).unwrap_or_default().into(),
            Inbound::Anthropic(ctx) => messages::from_openai(resp, ctx).into(),
        }
    }

    fn encoder(self) -> Box<dyn ClientEncoder> {
        match self {
            Inbound::OpenAi { include_usage } => Box::new(OpenAiEncoder::new(include_usage)),
            Inbound::Anthropic(ctx) => Box::new(AnthropicEncoder::new(ctx)),
        }
    }
}

/// The provider's side of a converted call, with its response context.
enum Upstream {
    OpenAi,
    Anthropic(anthropic::ResponseContext),
    Gemini(gemini::ResponseContext),
}

impl Upstream {
    fn errors(&self) -> ErrorMapper {
        match self {
            Upstream::OpenAi => openai_error,
            Upstream::Anthropic(_) => anthropic::error_from_anthropic,
            Upstream::Gemini(_) => gemini::error_from_gemini,
        }
    }

    fn decode(&self, body: &[u8]) -> Result<ChatResponse, GatewayError> {
        match self {
            Upstream::OpenAi => serde_json::from_slice(body).map_err(|_| unreadable()),
            Upstream::Anthropic(ctx) => anthropic::from_anthropic(body, ctx),
            Upstream::Gemini(ctx) => gemini::from_gemini(body, ctx),
        }
    }

    fn decoder(self) -> Box<dyn ChunkDecoder> {
        match self {
            Upstream::OpenAi => Box::new(OpenAiChunkDecoder::new()),
            Upstream::Anthropic(ctx) => {
                Box::new(anthropic::AnthropicToOpenAi::new(ctx, unix_now()))
            }
            Upstream::Gemini(ctx) => Box::new(gemini::GeminiToOpenAi::new(ctx, unix_now())),
        }
    }
}

/// The answer side of a converted call.
fn converted(call: &UpstreamCall, upstream: Upstream, inbound: Inbound) -> (ErrorMapper, Answer) {
    let errors = upstream.errors();
    let answer = if call.stream {
        Answer::Stream(Box::new(Decoded::new(
            upstream.decoder(),
            inbound.encoder(),
        )))
    } else {
        Answer::Whole(Box::new(move |body: Bytes| {
            let resp = upstream.decode(&body)?;
            Ok((inbound.encode(&resp), resp.usage))
        }))
    };
    (errors, answer)
}

fn json_header() -> (&'static str, String) {
    ("content-type", "application/json".to_owned())
}

/// `Authorization: Bearer` for OpenAI-compatible providers (none without a key).
fn bearer(provider: &ProviderSettings, headers: &mut Vec<(&'static str, String)>) {
    if let Some(key) = &provider.api_key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
}

/// Most names `x-gateway-dropped-params` lists; the rest are counted.
const MAX_DROPPED_LISTED: usize = 32;
/// Longest name it lists, in characters.
const MAX_DROPPED_NAME: usize = 64;

/// The `x-gateway-dropped-params` header, when a conversion dropped any.
/// Decided here, before the upstream call, and always a valid header of
/// bounded size although the names are the caller's: at most 32 names of
/// at most 64 characters of `A-Za-z0-9_-.[]` (any other becomes `_`), then
/// `+N more`.
fn dropped_header(dropped: Vec<String>) -> ExtraHeaders {
    if dropped.is_empty() {
        return Vec::new();
    }
    let safe = |c: char| match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' | '.' | '[' | ']' => c,
        _ => '_',
    };
    let mut names: Vec<String> = dropped
        .iter()
        .take(MAX_DROPPED_LISTED)
        .map(|name| name.chars().take(MAX_DROPPED_NAME).map(safe).collect())
        .collect();
    if dropped.len() > MAX_DROPPED_LISTED {
        names.push(format!("+{} more", dropped.len() - MAX_DROPPED_LISTED));
    }
    vec![("x-gateway-dropped-params", names.join(","))]
}

/// The caller's body with only `model` rewritten (and, for streams, usage
/// asked for: the gateway counts tokens; the usage chunk is stripped again
/// when the caller did not ask).
fn rewrite_model(call: &UpstreamCall, stream_usage: bool) -> Result<Vec<u8>, GatewayError> {
    let obj = RawObject::parse(&call.body).map_err(|e| GatewayError::bad_body(&e))?;
    let model = serde_json::to_vec(&*call.target.api_model).unwrap_or_default();
    let mut replace: Vec<(&str, &[u8])> = vec![("model", &model)];
    let stream_options;
    if stream_usage {
        let mut opts = match obj.get("stream_options") {
            Some(raw) => {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get())
                    .map_err(|_| {
                        GatewayError::invalid("`stream_options` must be an object")
                            .with_param("stream_options")
                    })?
            }
            None => serde_json::Map::new(),
        };
        opts.insert("include_usage".to_owned(), true.into());
        stream_options = serde_json::to_vec(&opts).unwrap_or_default();
        replace.push(("stream_options", &stream_options));
    }
    Ok(obj.write_with(&replace))
}

/// OpenAI caller, OpenAI-compatible provider.
fn openai_pass_through(call: &UpstreamCall, path: &str) -> Result<Prepared, GatewayError> {
    let provider = &call.target.provider;
    let mut headers = vec![json_header()];
    bearer(provider, &mut headers);
    let answer = if call.stream {
        Answer::Stream(Box::new(OpenAiPassThrough::new(call.include_usage)))
    } else {
        Answer::Whole(Box::new(|body: Bytes| {
            let usage = probe_openai_usage(&body)?;
            Ok((body, usage))
        }))
    };
    Ok(Prepared {
        url: format!("{}{path}", provider.base_url),
        headers,
        body: rewrite_model(call, call.stream)?,
        extra_headers: Vec::new(),
        errors: openai_error,
        answer,
    })
}

/// Anthropic caller, Anthropic provider: native.
fn anthropic_native(call: &UpstreamCall, path: &str) -> Result<Prepared, GatewayError> {
    let provider = &call.target.provider;
    let answer = if call.stream {
        Answer::Stream(Box::new(AnthropicPassThrough::default()))
    } else {
        Answer::Whole(Box::new(|body: Bytes| {
            let usage = anthropic::usage_of(&body).map_err(|_| unreadable())?;
            Ok((body, usage))
        }))
    };
    Ok(Prepared {
        url: format!("{}{path}", provider.base_url),
        headers: anthropic_headers(call),
        body: rewrite_model(call, false)?,
        extra_headers: Vec::new(),
        errors: anthropic::error_from_anthropic,
        answer,
    })
}

fn anthropic_headers(call: &UpstreamCall) -> Vec<(&'static str, String)> {
    let provider = &call.target.provider;
    let mut headers = vec![
        json_header(),
        ("anthropic-version", provider.api_version.clone()),
    ];
    if let Some(key) = &provider.api_key {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    if let Some(beta) = &call.anthropic_beta {
        headers.push(("anthropic-beta", beta.clone()));
    }
    headers
}

/// A typed request to an OpenAI-compatible provider (the caller spoke
/// Anthropic): gateway extensions only Anthropic understands are removed.
fn openai_typed(
    call: &UpstreamCall,
    mut req: ChatRequest,
    inbound: Inbound,
) -> Result<Prepared, GatewayError> {
    let provider = &call.target.provider;
    let mut dropped = Vec::new();
    for m in &mut req.messages {
        if let Message::Assistant(a) = m {
            if a.thinking_blocks.take().is_some() || a.reasoning_content.take().is_some() {
                dropped.push("thinking".to_owned());
            }
        }
    }
    if req.extra.remove("top_k").is_some() {
        dropped.push("top_k".to_owned());
    }
    dropped.dedup();
    req.model = call.target.api_model.to_string();
    if call.stream {
        req.stream = true;
        req.stream_options
            .get_or_insert_with(Default::default)
            .include_usage = Some(true);
    }
    let body = serde_json::to_vec(&req)
        .map_err(|_| GatewayError::invalid("the request could not be encoded"))?;
    let mut headers = vec![json_header()];
    bearer(provider, &mut headers);
    let (errors, answer) = converted(call, Upstream::OpenAi, inbound);
    Ok(Prepared {
        url: format!("{}/chat/completions", provider.base_url),
        headers,
        body,
        extra_headers: dropped_header(dropped),
        errors,
        answer,
    })
}

fn anthropic_converted(
    call: &UpstreamCall,
    req: &ChatRequest,
    inbound: Inbound,
) -> Result<Prepared, GatewayError> {
    let c = anthropic::to_anthropic(
        req,
        &anthropic::RequestOptions {
            api_model: &call.target.api_model,
            default_max_tokens: call.default_max_tokens,
        },
    )?;
    let (errors, answer) = converted(call, Upstream::Anthropic(c.ctx), inbound);
    Ok(Prepared {
        url: format!("{}/messages", call.target.provider.base_url),
        headers: anthropic_headers(call),
        body: c.body,
        extra_headers: dropped_header(c.dropped),
        errors,
        answer,
    })
}

fn gemini_converted(
    call: &UpstreamCall,
    req: &ChatRequest,
    inbound: Inbound,
) -> Result<Prepared, GatewayError> {
    let provider = &call.target.provider;
    let mut c = gemini::to_gemini(req)?;
    c.ctx.created = unix_now();
    let path = gemini::model_path(&call.target.api_model);
    // The key goes in a header, never in the URL: URLs end up in logs.
    let url = if call.stream {
        format!("{}/{path}:streamGenerateContent?alt=sse", provider.base_url)
    } else {
        format!("{}/{path}:generateContent", provider.base_url)
    };
    let (errors, answer) = converted(call, Upstream::Gemini(c.ctx), inbound);
    Ok(Prepared {
        url,
        headers: gemini_headers(provider),
        body: c.body,
        extra_headers: dropped_header(c.dropped),
        errors,
        answer,
    })
}

fn gemini_headers(provider: &ProviderSettings) -> Vec<(&'static str, String)> {
    let mut headers = vec![json_header()];
    if let Some(key) = &provider.api_key {
        headers.push(("x-goog-api-key", key.expose().to_owned()));
    }
    headers
}

/// The mock provider's answer, in the caller's format.
fn mock_chat(call: &UpstreamCall, req: &ChatRequest, inbound: Inbound) -> Planned {
    let created = unix_now();
    let model = &call.target.api_model;
    if !call.stream {
        let resp = mock::respond(req, model, created);
        return local(inbound.encode(&resp), resp.usage);
    }
    let (chunks, usage) = mock::stream(req, model, created);
    Planned::Local(local_stream(chunks, usage, inbound.encoder()))
}

/// A stream made here: a task encodes `chunks` as the caller reads them
/// (a bounded channel), so a long answer is never held whole; it stops when
/// the caller goes away.
fn local_stream(
    chunks: impl Iterator<Item = ChatChunk> + 'static,
    usage: Usage,
    mut encoder: Box<dyn ClientEncoder>,
) -> Reply {
    let (tx, rx) = mpsc::channel(super::STREAM_BUFFER);
    actix_web::rt::spawn(async move {
        let mut out = BytesMut::new();
        for chunk in chunks {
            encoder.chunk(&chunk, &mut out);
            if tx.send(out.split().freeze()).await.is_err() {
                return;
            }
        }
        encoder.end(Some(usage), &mut out);
        let _ = tx.send(out.freeze()).await;
    });
    let (summary_tx, summary) = oneshot::channel();
    let _ = summary_tx.send(StreamSummary {
        usage: Some(usage),
        first_byte: Some(Duration::ZERO),
        ..Default::default()
    });
    Reply::Stream {
        chunks: rx,
        summary,
        headers: Vec::new(),
        upstream: Duration::ZERO,
    }
}

fn local(body: Bytes, usage: Option<Usage>) -> Planned {
    Planned::Local(Reply::Complete {
        body,
        usage,
        headers: Vec::new(),
        upstream: Duration::ZERO,
    })
}

fn local_json(v: serde_json::Value, usage: Option<Usage>) -> Planned {
    local(serde_json::to_vec(&v).unwrap_or_default().into(), usage)
}

fn plan_embeddings(call: &UpstreamCall) -> Result<Planned, GatewayError> {
    let provider = &call.target.provider;
    match provider.kind {
        ProviderKind::OpenAi => Ok(Planned::Send(openai_pass_through(call, "/embeddings")?)),
        ProviderKind::Anthropic => Err(GatewayError::invalid(format!(
            "The model `{}` routes to the provider `{}`, an Anthropic provider, which has no embeddings endpoint.",
            call.model, provider.id
        ))
        .with_param("model")
        .with_code("embeddings_not_supported")),
        ProviderKind::Gemini => {
            let req = EmbeddingsRequest::parse(&call.body)?;
            let (body, dropped) = gemini::embeddings::to_gemini(&req, &call.target.api_model)?;
            let path = gemini::model_path(&call.target.api_model);
            let (model, format) = (call.target.api_model.clone(), req.format());
            let (expected, estimate) = (req.input.len(), embeddings::estimate_tokens(&req.input));
            Ok(Planned::Send(Prepared {
                url: format!("{}/{path}:batchEmbedContents", provider.base_url),
                headers: gemini_headers(provider),
                body,
                extra_headers: dropped_header(dropped),
                errors: gemini::error_from_gemini,
                answer: Answer::Whole(Box::new(move |b: Bytes| {
                    let vectors = gemini::embeddings::from_gemini(&b, expected)?;
                    let out = embeddings::openai_response(&model, &vectors, format, estimate);
                    Ok((out.into(), Some(input_usage(estimate))))
                })),
            }))
        }
        ProviderKind::Mock => {
            let req = EmbeddingsRequest::parse(&call.body)?;
            let vectors: Vec<embeddings::Vector> =
                embeddings::mock_vectors(&req.input, req.dimensions)
                    .into_iter()
                    .map(embeddings::Vector::Computed)
                    .collect();
            let estimate = embeddings::estimate_tokens(&req.input);
            let body = embeddings::openai_response(&call.target.api_model, &vectors, req.format(), estimate);
            Ok(local(body.into(), Some(input_usage(estimate))))
        }
    }
}

/// Usage of a call that only consumed input tokens.
fn input_usage(tokens: u64) -> Usage {
    Usage {
        prompt_tokens: tokens,
        total_tokens: tokens,
        ..Default::default()
    }
}

/// The usage of an OpenAI-shaped answer; an answer that is not JSON is
/// unreadable.
fn probe_openai_usage(body: &[u8]) -> Result<Option<Usage>, GatewayError> {
    #[derive(serde::Deserialize)]
    struct Probe {
        usage: Option<Usage>,
    }
    let probe: Probe = serde_json::from_slice(body).map_err(|_| unreadable())?;
    Ok(probe.usage)
}

/// An answer the gateway could not read.
pub fn unreadable() -> GatewayError {
    GatewayError::new(
        ErrorKind::BadUpstreamResponse,
        "the upstream returned a response the gateway could not read",
    )
}

/// An OpenAI-shaped error answer: the upstream's message and code kept.
pub fn openai_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> GatewayError {
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
