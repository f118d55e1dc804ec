//! Upstream calls: the provider actors that own the HTTP clients, and the
//! translators that turn an upstream's answer into the caller's format.
//!
//! A handler describes the [`Call`] once; the [`router`] tries its targets,
//! sending each [`Attempt`] as a [`Dispatch`] to the provider's actor
//! ([`actor`]); the actor plans it ([`plan`]: a lookup of the provider's and
//! the caller's sides of the protocol seam), does the HTTP exchange
//! ([`exchange`]) and answers with a [`Reply`]: a finished body, or the
//! receiving end of a bounded channel that a pump task fills as upstream
//! events arrive (awc types are not `Send`, actix message results must be).

pub mod actor;
pub mod breaker;
pub mod connect;
pub mod exchange;
pub mod mock;
pub mod plan;
pub mod router;

use crate::config::{ModelRoute, Target};
use crate::error::{GatewayError, InboundApi};
use crate::protocol;
use crate::protocol::openai::Usage;
use crate::protocol::raw::RawBody;
use crate::protocol::seam::Parsed;
use bytes::Bytes;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use crate::protocol::Operation;
pub use actor::{Dispatch, ProviderActor, ProviderPool};

/// Stream chunks buffered between the producer (a pump, or a local answer)
/// and the caller's connection.
pub const STREAM_BUFFER: usize = 16;

/// One call, described once: what the caller asked (the body scanned once,
/// typed at most once) and where its model routes. Its attempts share it.
pub struct Call {
    pub operation: Operation,
    /// The caller's API: the format of the body and of the reply.
    pub inbound: InboundApi,
    /// The caller's request body, scanned once for relays.
    pub body: RawBody,
    /// Where the model routes: its targets and fallbacks.
    pub route: Arc<ModelRoute>,
    /// Whether the caller asked for a stream.
    pub stream: bool,
    /// Whether the caller asked for the final usage chunk.
    pub include_usage: bool,
    /// The caller's `anthropic-beta` header, passed on to Anthropic.
    pub anthropic_beta: Option<String>,
    /// The caller's `anthropic-version` header, passed on to Anthropic
    /// instead of the provider's configured `api_version`.
    pub anthropic_version: Option<String>,
    /// The model name the caller asked for (the body's `model`, Gemini's
    /// URL): what answers name, and what a pattern's target without
    /// `api_model` sends upstream.
    pub asked_model: Box<str>,
    /// The body in the lingua franca, parsed on the first attempt that
    /// converts, and only then.
    parsed: OnceLock<Result<Parsed, protocol::Error>>,
}

impl Call {
    /// A call of `operation` in the caller's `inbound` API, for the model
    /// `asked_model` the route resolved (the name as the caller wrote it).
    pub fn new(
        operation: Operation,
        inbound: InboundApi,
        body: RawBody,
        route: Arc<ModelRoute>,
        asked_model: impl Into<Box<str>>,
    ) -> Self {
        Self {
            operation,
            inbound,
            body,
            route,
            stream: false,
            include_usage: false,
            anthropic_beta: None,
            anthropic_version: None,
            asked_model: asked_model.into(),
            parsed: OnceLock::new(),
        }
    }

    /// The model name the caller asked for.
    pub fn asked(&self) -> &str {
        &self.asked_model
    }

    /// The call with its request already in the lingua franca (a caller
    /// API whose answers need the route's per-call state, e.g. the
    /// Responses id and store).
    pub fn with_parsed(mut self, parsed: Parsed) -> Self {
        self.parsed = OnceLock::from(Ok(parsed));
        self
    }

    /// What the route tells the caller's side: the model asked for (also
    /// when a fallback serves) and whether it streams.
    pub fn routed(&self) -> protocol::seam::Routed<'_> {
        protocol::seam::Routed {
            model: self.asked(),
            stream: self.stream,
        }
    }

    /// The request in the lingua franca, parsed once for all attempts.
    pub fn parsed(&self) -> Result<&Parsed, GatewayError> {
        self.parsed
            .get_or_init(|| {
                self.inbound
                    .caller()
                    .parse_routed(self.body.bytes(), self.routed())
            })
            .as_ref()
            .map_err(|e| e.clone().into())
    }
}

/// One attempt of a call on one target, as a provider actor runs it.
pub struct Attempt {
    pub call: Arc<Call>,
    /// The gateway model name (a fallback's, when falling back).
    pub model: Arc<str>,
    /// The provider and its model name for this attempt.
    pub target: Target,
    /// Output token limit for providers that require one.
    pub default_max_tokens: u64,
    /// No response head and first event by then: the attempt failed.
    pub first_byte_timeout: Duration,
    /// Upstream silence inside a stream (any bytes, keep-alive comments and
    /// pings included, break it): the stream fails.
    pub stream_idle_timeout: Duration,
    /// The call's overall deadline (`[routing] request_timeout_seconds`):
    /// no attempt waits past it.
    pub deadline: Instant,
    /// The longest a streaming caller may read nothing: the stream ends.
    pub client_stall_timeout: Duration,
    /// Bounds on the upstream stream's lines and events.
    pub sse_limits: crate::protocol::sse::SseLimits,
}

/// Turns true at the drain deadline of a shutdown: streams still open then
/// end with an error event instead of being cut silently.
pub type Drain = tokio::sync::watch::Receiver<bool>;

/// Extra response headers the gateway adds (e.g. `x-gateway-dropped-params`).
pub type ExtraHeaders = Vec<(&'static str, String)>;

/// What the upstream answered, already in the caller's format.
#[derive(Debug)]
pub enum Reply {
    /// A complete JSON body.
    Complete {
        body: Bytes,
        usage: Option<Usage>,
        headers: ExtraHeaders,
        /// Time spent waiting on the upstream.
        upstream: Duration,
    },
    /// SSE bytes, sent as they are produced; the stream's end (with usage and
    /// outcome) is reported through `summary`.
    Stream {
        chunks: mpsc::Receiver<Bytes>,
        summary: tokio::sync::oneshot::Receiver<StreamSummary>,
        headers: ExtraHeaders,
        /// Time spent waiting for the upstream's response head.
        upstream: Duration,
    },
}

/// How a stream ended, reported once by its pump.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    /// Usage as far as the upstream reported it.
    pub usage: Option<Usage>,
    /// `None` when the stream completed normally.
    pub error: Option<crate::error::ErrorKind>,
    /// Time from the call to the first byte sent to the caller.
    pub first_byte: Option<Duration>,
    /// Time the pump spent translating (the gateway's own share of the
    /// stream).
    pub busy: Duration,
}
