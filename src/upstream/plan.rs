//! How one attempt is served: a lookup of the provider's side of the seam
//! ([`ProviderApi`]) and the caller's ([`CallerApi`](crate::protocol::CallerApi)), then either a relay
//! (the caller speaks the provider's own API: the body goes on with only
//! `model` rewritten) or a conversion through the lingua franca — or an
//! answer made here (the mock provider, token estimates).
//!
//! Adding a provider type is one [`ProviderApi`] and one line in
//! [`provider_api`]; adding a caller API is one [`CallerApi`](crate::protocol::CallerApi) and one line in
//! [`InboundApi::caller`](crate::protocol::InboundApi::caller).

use super::{mock, Attempt, ExtraHeaders, Operation, Reply, StreamSummary};
use crate::config::{ProviderKind, ProviderSettings};
use crate::error::GatewayError;
use crate::protocol::anthropic::provider::AnthropicProvider;
use crate::protocol::gemini::provider::{self as gemini, GeminiProvider};
use crate::protocol::openai::embeddings::{self, EmbeddingsRequest};
use crate::protocol::openai::provider::OpenAiProvider;
use crate::protocol::openai::responses;
use crate::protocol::openai::{ChatChunk, Usage};
use crate::protocol::seam::{Answer as CallerAnswer, ParsedEmbeddings, Target};
use crate::protocol::{ClientEncoder, Decoded, Error, InboundApi, ProviderApi, Translator};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Seconds since the Unix epoch, for `created`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The provider side of a provider type; `None` for the in-process mock.
pub fn provider_api(kind: ProviderKind) -> Option<&'static dyn ProviderApi> {
    match kind {
        ProviderKind::OpenAi => Some(&OpenAiProvider),
        ProviderKind::Anthropic => Some(&AnthropicProvider),
        ProviderKind::Gemini => Some(&GeminiProvider),
        ProviderKind::Mock => None,
    }
}

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
    /// Reads the provider's error answers.
    pub provider: &'static dyn ProviderApi,
    pub answer: Answer,
}

/// What an attempt needs: a request to send, or an answer made here.
pub enum Planned {
    Send(Prepared),
    Local(Reply),
}

/// Plans one attempt.
pub fn plan(a: &Attempt) -> Result<Planned, GatewayError> {
    let call = &a.call;
    let Some(provider) = provider_api(a.target.provider.kind) else {
        return mock_plan(a);
    };
    let target = wire_target(a);
    let t = &target;
    let native = provider.native() == Some(call.inbound);
    match call.operation {
        Operation::Chat if native => relay(a, provider, t).map(Planned::Send),
        Operation::Chat if serves_responses(a) => {
            relay_responses(a, provider, t).map(Planned::Send)
        }
        Operation::Chat => convert(a, provider, t).map(Planned::Send),
        Operation::CountTokens if native => relay(a, provider, t).map(Planned::Send),
        Operation::CountTokens => count_estimate(a),
        Operation::Embeddings => embeddings(a, provider, t, native),
    }
}

/// The seam's view of the attempt's target.
fn wire_target(a: &Attempt) -> Target<'_> {
    let p: &ProviderSettings = &a.target.provider;
    Target {
        base_url: &p.base_url,
        api_key: p.api_key.as_ref().map(|k| k.expose()),
        api_version: a
            .call
            .anthropic_version
            .as_deref()
            .unwrap_or(&p.api_version),
        api_model: if a.target.api_model_from_caller {
            a.call.asked()
        } else {
            &a.target.api_model
        },
        default_max_tokens: a.default_max_tokens,
        stream: a.call.stream,
        anthropic_beta: a.call.anthropic_beta.as_deref(),
        created: unix_now(),
    }
}

/// The caller speaks the provider's API: the caller's body with `model`
/// rewritten, the answer relayed.
fn relay(
    a: &Attempt,
    provider: &'static dyn ProviderApi,
    t: &Target<'_>,
) -> Result<Prepared, GatewayError> {
    let caller = a.call.inbound.caller();
    // A chat answer names the model the caller asked for.
    let answer = match (t.stream, a.call.operation) {
        (true, _) => Answer::Stream(caller.relay(a.call.include_usage, a.call.asked())),
        (false, Operation::Chat) => {
            let call = a.call.clone();
            Answer::Whole(Box::new(move |body: Bytes| {
                Ok(caller.relayed(body, call.asked())?)
            }))
        }
        (false, _) => Answer::Whole(Box::new(move |body: Bytes| {
            let usage = caller.relayed_usage(&body)?;
            Ok((body, usage))
        })),
    };
    let relayed = provider.relay_body(&a.call.body, t)?;
    Ok(Prepared {
        url: provider.url(t, a.call.operation),
        headers: provider.headers(t),
        body: relayed.body,
        extra_headers: dropped_header(relayed.dropped),
        provider,
        answer,
    })
}

/// A Responses call on an OpenAI-compatible provider marked `responses =
/// true`, which serves that API itself.
fn serves_responses(a: &Attempt) -> bool {
    a.call.inbound == InboundApi::Responses && a.target.provider.responses
}

/// The caller's Responses body to the provider's own `/responses` (model
/// rewritten), the answer relayed as the call's answer makes it its own
/// (the gateway's id, the caller's model name, the store).
fn relay_responses(
    a: &Attempt,
    provider: &'static dyn ProviderApi,
    t: &Target<'_>,
) -> Result<Prepared, GatewayError> {
    let back: Arc<dyn CallerAnswer> = a.call.parsed()?.answer.clone();
    let caller = a.call.inbound.caller();
    let answer = if t.stream {
        Answer::Stream(
            back.relay_stream()
                .unwrap_or_else(|| caller.relay(true, a.call.asked())),
        )
    } else {
        let call = a.call.clone();
        Answer::Whole(Box::new(move |body: Bytes| match back.relay_whole(&body) {
            Some(adapted) => adapted
                .map(|(body, usage)| (body.into(), usage))
                .map_err(Into::into),
            None => Ok(caller.relayed(body, call.asked())?),
        }))
    };
    Ok(Prepared {
        url: format!("{}/responses", t.base_url),
        headers: provider.headers(t),
        body: responses::relay::relay_body(&a.call.body, t.api_model),
        extra_headers: Vec::new(),
        provider,
        answer,
    })
}

/// Through the lingua franca: the provider encodes the caller's request as
/// parsed once for the call, and decodes its answer; the caller's side
/// encodes that back.
fn convert(
    a: &Attempt,
    provider: &'static dyn ProviderApi,
    t: &Target<'_>,
) -> Result<Prepared, GatewayError> {
    let parsed = a.call.parsed()?;
    let encoded = provider.encode(&parsed.request, t)?;
    let mut dropped = parsed.request.dropped.clone();
    // Only Anthropic's wire format has prompt-cache breakpoints.
    if !parsed.request.cache_breakpoints.is_empty()
        && provider.native() != Some(crate::protocol::InboundApi::Anthropic)
    {
        dropped.push("cache_control".to_owned());
    }
    for name in encoded.dropped {
        if !dropped.contains(&name) {
            dropped.push(name);
        }
    }
    let back: Arc<dyn CallerAnswer> = parsed.answer.clone();
    let decoder = encoded.decoder;
    let answer = if t.stream {
        Answer::Stream(Box::new(Decoded::new(decoder.stream(), back.stream())))
    } else {
        Answer::Whole(Box::new(move |body: Bytes| {
            let resp = decoder.whole(&body)?;
            Ok((back.whole(&resp).into(), resp.usage))
        }))
    };
    Ok(Prepared {
        url: provider.url(t, Operation::Chat),
        headers: provider.headers(t),
        body: encoded.body,
        extra_headers: dropped_header(dropped),
        provider,
        answer,
    })
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

/// A token count for a provider without a count endpoint (or one in
/// another API): the documented estimate, in the caller's shape.
fn count_estimate(a: &Attempt) -> Result<Planned, GatewayError> {
    let body = a
        .call
        .inbound
        .caller()
        .count_estimate(a.call.body.bytes())?;
    Ok(local(body.into(), None))
}

/// An embeddings request as the lingua franca, and the caller's answer for
/// its vectors: the caller API's own shape (Gemini's), or OpenAI's.
fn embeddings_request(a: &Attempt) -> Result<ParsedEmbeddings, GatewayError> {
    match own_embeddings(a) {
        Some(parsed) => Ok(parsed?),
        None => openai_embeddings(a),
    }
}

/// An embeddings body in the caller API's own shape, if it has one.
fn own_embeddings(a: &Attempt) -> Option<Result<ParsedEmbeddings, Error>> {
    a.call
        .inbound
        .caller()
        .embeddings(a.call.body.bytes(), a.call.routed())
}

/// An OpenAI embeddings body and OpenAI's answer.
fn openai_embeddings(a: &Attempt) -> Result<ParsedEmbeddings, GatewayError> {
    let req = EmbeddingsRequest::parse(a.call.body.bytes())?;
    let (model, format) = (a.target.api_model.clone(), req.format());
    let estimate = embeddings::estimate_tokens(&req.input);
    Ok(ParsedEmbeddings {
        request: req,
        answer: Box::new(move |vectors| {
            embeddings::openai_response(&model, vectors, format, estimate)
        }),
    })
}

/// Reads a provider's embeddings answer: one vector per input, in order.
type ReadVectors = for<'b> fn(&'b [u8], usize) -> Result<Vec<embeddings::Vector<'b>>, Error>;

/// Embeddings the caller does not send in the provider's own API: Gemini's
/// `batchEmbedContents`, or (for a caller in another API) OpenAI's
/// `/embeddings`; Anthropic has no embeddings endpoint. A caller speaking
/// the provider's API is relayed.
fn embeddings(
    a: &Attempt,
    provider: &'static dyn ProviderApi,
    t: &Target<'_>,
    native: bool,
) -> Result<Planned, GatewayError> {
    let parsed = match own_embeddings(a) {
        Some(own) => own?,
        None if native => return relay(a, provider, t).map(Planned::Send),
        None => openai_embeddings(a)?,
    };
    let p = &a.target.provider;
    let (body, dropped, read): (Vec<u8>, Vec<String>, ReadVectors) = match p.kind {
        ProviderKind::Gemini => {
            let (body, dropped) = gemini::embeddings::to_gemini(&parsed.request, t.api_model)?;
            (body, dropped, gemini::embeddings::from_gemini)
        }
        ProviderKind::OpenAi => {
            let (body, dropped) = embeddings::openai_request(&parsed.request, t.api_model);
            (body, dropped, embeddings::openai_vectors)
        }
        ProviderKind::Anthropic | ProviderKind::Mock => {
            return Err(GatewayError::invalid(format!(
                "The model `{}` routes to the provider `{}`, which has no embeddings endpoint.",
                a.model, p.id
            ))
            .with_param("model")
            .with_code("embeddings_not_supported"))
        }
    };
    let req = &parsed.request;
    let (expected, estimate) = (req.input.len(), embeddings::estimate_tokens(&req.input));
    let back = parsed.answer;
    Ok(Planned::Send(Prepared {
        url: provider.url(t, Operation::Embeddings),
        headers: provider.headers(t),
        body,
        extra_headers: dropped_header(dropped),
        provider,
        answer: Answer::Whole(Box::new(move |b: Bytes| {
            let vectors = read(&b, expected)?;
            Ok((back(&vectors).into(), Some(input_usage(estimate))))
        })),
    }))
}

/// The mock provider's answers, in the caller's format.
fn mock_plan(a: &Attempt) -> Result<Planned, GatewayError> {
    let model = &a.target.api_model;
    match a.call.operation {
        Operation::Chat => {
            let parsed = a.call.parsed()?;
            let created = unix_now();
            if !a.call.stream {
                let resp = mock::respond(&parsed.request, model, created);
                return Ok(local(parsed.answer.whole(&resp).into(), resp.usage));
            }
            let (chunks, usage) = mock::stream(&parsed.request, model, created);
            Ok(Planned::Local(local_stream(
                chunks,
                usage,
                parsed.answer.stream(),
            )))
        }
        Operation::CountTokens => count_estimate(a),
        Operation::Embeddings => {
            let parsed = embeddings_request(a)?;
            let req = &parsed.request;
            let vectors: Vec<embeddings::Vector> =
                embeddings::mock_vectors(&req.input, req.dimensions)
                    .into_iter()
                    .map(embeddings::Vector::Computed)
                    .collect();
            let estimate = embeddings::estimate_tokens(&req.input);
            Ok(local(
                (parsed.answer)(&vectors).into(),
                Some(input_usage(estimate)),
            ))
        }
    }
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

/// Usage of a call that only consumed input tokens.
fn input_usage(tokens: u64) -> Usage {
    Usage {
        prompt_tokens: tokens,
        total_tokens: tokens,
        ..Default::default()
    }
}
