//! The two seams every wire format plugs into, and the registry of caller
//! APIs.
//!
//! * The **caller side** ([`CallerApi`], one implementation per inbound API):
//!   parse a request into the lingua franca (OpenAI chat), and encode
//!   answers, streams of chunks, keep-alives and errors back in the
//!   caller's format.
//! * The **provider side** ([`ProviderApi`], one implementation per provider
//!   wire format): the URL and auth headers of an attempt, the encoded
//!   request, and the decoding of an answer, a stream and an error body.
//!
//! When the caller's API is the provider's own, the request is relayed (the
//! model rewritten) instead of converted.

use crate::protocol::error::{Error, ErrorReply};
use crate::protocol::openai::embeddings::{EmbeddingsRequest, Vector};
use crate::protocol::openai::{ChatRequest, ChatResponse, Usage};
use crate::protocol::raw::RawBody;
use crate::protocol::stream::{ChunkDecoder, ClientEncoder, Translator};
use crate::protocol::{anthropic, gemini, openai};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;

/// The caller APIs the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundApi {
    /// OpenAI Chat Completions: `{"error":{"message","type","param","code"}}`.
    OpenAi,
    /// Anthropic Messages: `{"type":"error","error":{"type","message"}}`.
    Anthropic,
    /// OpenAI Responses: OpenAI's error shape; streams end in
    /// `response.failed`.
    Responses,
    /// Gemini `generateContent`: `{"error":{"code","message","status"}}`.
    Gemini,
}

impl InboundApi {
    /// The API's caller side.
    pub fn caller(self) -> &'static dyn CallerApi {
        match self {
            InboundApi::OpenAi => &openai::caller::OpenAiCaller,
            InboundApi::Anthropic => &anthropic::caller::AnthropicCaller,
            InboundApi::Responses => &openai::responses::ResponsesCaller,
            InboundApi::Gemini => &gemini::caller::GeminiCaller,
        }
    }
}

/// A request in the lingua franca, and how its answers go back.
pub struct Parsed {
    pub request: ChatRequest,
    pub answer: Arc<dyn Answer>,
}

/// A relayed whole answer made a call's own, and its usage.
pub type Relayed = (Vec<u8>, Option<Usage>);

/// The caller's answer body for embedding vectors, in input order.
pub type EmbeddingsAnswer = Box<dyn Fn(&[Vector<'_>]) -> Vec<u8>>;

/// An embeddings request in the lingua franca, and how its vectors go back.
pub struct ParsedEmbeddings {
    pub request: EmbeddingsRequest,
    pub answer: EmbeddingsAnswer,
}

/// What the route of a call knows beyond its body.
#[derive(Debug, Clone, Copy)]
pub struct Routed<'a> {
    /// The gateway model name the call routes on.
    pub model: &'a str,
    /// Whether the caller asked for a stream.
    pub stream: bool,
}

/// How a converted answer goes back to one caller (per request: it knows
/// what the request asked, e.g. the model name to echo, renamed tools).
pub trait Answer: Send + Sync {
    /// A whole answer as the caller's JSON body.
    fn whole(&self, resp: &ChatResponse) -> Vec<u8>;
    /// A fresh encoder for a streamed answer (one per attempt).
    fn stream(&self) -> Box<dyn ClientEncoder>;
    /// A stream relayed from a provider that serves this caller's API
    /// natively, made this call's (e.g. the Responses id and model);
    /// `None`: the caller API's plain relay.
    fn relay_stream(&self) -> Option<Box<dyn Translator>> {
        None
    }
    /// A whole answer relayed likewise, with its usage; `None`: as it came.
    fn relay_whole(&self, _body: &[u8]) -> Option<Result<Relayed, Error>> {
        None
    }
}

/// One caller API: how its requests become the lingua franca and how
/// everything goes back to its clients.
pub trait CallerApi: Sync {
    /// Parses a request body.
    fn parse(&self, body: &[u8]) -> Result<Parsed, Error>;
    /// Parses a request body with what the route knows: for APIs whose URL,
    /// not the body, names the model and asks for a stream (Gemini).
    fn parse_routed(&self, body: &[u8], _route: Routed<'_>) -> Result<Parsed, Error> {
        self.parse(body)
    }
    /// An embeddings body in this API's own shape (Gemini's
    /// `embedContent`), in the lingua franca; `None`: the body is OpenAI's.
    fn embeddings(
        &self,
        _body: &[u8],
        _route: Routed<'_>,
    ) -> Option<Result<ParsedEmbeddings, Error>> {
        None
    }
    /// A token count made by the gateway (for providers without a count
    /// endpoint, or a caller API they do not speak): the caller's answer
    /// body. APIs without a count endpoint keep the default refusal.
    fn count_estimate(&self, _body: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::invalid("this API has no token count endpoint"))
    }
    /// The relay of a chat stream from a provider that speaks this API,
    /// its events naming `model` (the name the caller asked for) instead of
    /// the upstream's id; `include_usage`: the caller asked for the usage
    /// chunk.
    fn relay(&self, include_usage: bool, model: &str) -> Box<dyn Translator>;
    /// A relayed whole chat answer naming `model` likewise (the rest byte
    /// for byte), and its usage (an unreadable answer is an error).
    fn relayed(&self, body: Bytes, model: &str) -> Result<(Bytes, Option<Usage>), Error>;
    /// The usage in another relayed answer (a count, embeddings), which
    /// goes back unchanged.
    fn relayed_usage(&self, body: &[u8]) -> Result<Option<Usage>, Error>;
    /// An error body.
    fn error_body(&self, e: &ErrorReply<'_>) -> Vec<u8>;
    /// An error as a mid-stream event.
    fn error_event(&self, e: &ErrorReply<'_>, out: &mut BytesMut);
    /// The keep-alive event for quiet streams, if the API has one.
    fn keep_alive(&self) -> Option<&'static [u8]> {
        None
    }
}

/// Where and how one attempt goes, as the route and the provider's settings
/// say.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub base_url: &'a str,
    pub api_key: Option<&'a str>,
    /// The provider's API version (Anthropic's `anthropic-version`).
    pub api_version: &'a str,
    /// The provider's model name.
    pub api_model: &'a str,
    /// Output token limit for providers that require one.
    pub default_max_tokens: u64,
    pub stream: bool,
    /// The caller's `anthropic-beta` header.
    pub anthropic_beta: Option<&'a str>,
    /// Unix seconds for the `created` of converted answers.
    pub created: u64,
}

/// Request headers of an attempt.
pub type Headers = Vec<(&'static str, String)>;

/// What a provider's encoder made of a lingua-franca request.
pub struct Encoded {
    pub body: Vec<u8>,
    /// Caller parameters not sent (`x-gateway-dropped-params`).
    pub dropped: Vec<String>,
    /// How the answer to this request is read.
    pub decoder: Box<dyn Decode>,
}

/// What a provider makes of a relayed body: the caller's own, rewritten.
#[derive(Debug, Default)]
pub struct RelayBody {
    pub body: Vec<u8>,
    /// Members of the caller's body left out (`x-gateway-dropped-params`).
    pub dropped: Vec<String>,
}

impl From<Vec<u8>> for RelayBody {
    /// A body relayed whole: nothing left out.
    fn from(body: Vec<u8>) -> Self {
        Self {
            body,
            dropped: Vec::new(),
        }
    }
}

/// How the answer to one encoded request is read.
pub trait Decode {
    /// A whole answer.
    fn whole(&self, body: &[u8]) -> Result<ChatResponse, Error>;
    /// A stream decoder.
    fn stream(self: Box<Self>) -> Box<dyn ChunkDecoder>;
}

/// What a call asks of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A chat completion or message, streamed or not.
    Chat,
    /// Anthropic `count_tokens`.
    CountTokens,
    /// OpenAI embeddings.
    Embeddings,
}

/// One provider wire format.
pub trait ProviderApi: Sync {
    /// The caller API this provider speaks natively (relayed unconverted).
    fn native(&self) -> Option<InboundApi>;
    /// The URL of an operation.
    fn url(&self, t: &Target<'_>, op: Operation) -> String;
    /// Content type, auth and version headers.
    fn headers(&self, t: &Target<'_>) -> Headers;
    /// A relayed body: the caller's own, the model rewritten (and whatever
    /// the gateway needs, e.g. usage on OpenAI streams), with what it left
    /// out.
    fn relay_body(&self, raw: &RawBody, t: &Target<'_>) -> Result<RelayBody, Error>;
    /// Converts a lingua-franca request.
    fn encode(&self, req: &ChatRequest, t: &Target<'_>) -> Result<Encoded, Error>;
    /// Reads an error answer (`retry_after`: the response's own header).
    fn error(&self, status: u16, body: &[u8], retry_after: Option<Duration>) -> Error;
}
