//! One upstream exchange: encode the caller's request for the provider's
//! dialect, send it, map transport and status errors, and decode the answer
//! into the caller's format, as a whole body or as a pumped stream.

use super::plan::{self, Answer, Planned, Prepared};
use super::translate::{self, Translator};
use super::{Drain, Reply, StreamSummary, UpstreamCall};
use crate::config::ProviderSettings;
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::protocol::messages::AnthropicEncoder;
use crate::protocol::sse::SseParser;
use awc::error::{PayloadError, SendRequestError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Largest upstream response body read whole (non-streaming answers).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest upstream error body read (the rest is not needed).
const MAX_ERROR_BYTES: usize = 256 * 1024;
/// Quiet time after which an Anthropic caller gets an `event: ping`.
const PING_EVERY: Duration = Duration::from_secs(10);
/// What is read after a stream's terminator to keep its connection.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);
/// Stream chunks buffered between the pump and the caller's connection.
const STREAM_BUFFER: usize = 16;

/// Runs one attempt on `client` (the provider actor's).
pub async fn execute(
    client: awc::Client,
    call: UpstreamCall,
    drain: Drain,
) -> Result<Reply, GatewayError> {
    match plan::plan(&call)? {
        Planned::Local(reply) => Ok(reply),
        Planned::Send(prepared) => send(client, call, prepared, drain).await,
    }
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
    let budget = match prepared.answer {
        Answer::Stream(_) => call.first_byte_timeout.min(provider.timeout),
        Answer::Whole(_) => provider.timeout,
    };
    let mut request = client.post(&prepared.url).timeout(budget);
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
        let err = (prepared.errors)(status, &body, retry_after);
        return Err(shield(err, provider));
    }
    let head_wait = started.elapsed();
    match prepared.answer {
        Answer::Stream(translator) => {
            // Read up to the first event before answering: until then a
            // failure is still retryable on another target, since nothing
            // reached the caller.
            let mut stream = UpstreamStream::new(response, translator);
            match tokio::time::timeout(remaining(started, budget), stream.fill()).await {
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
            actix_web::rt::spawn(pump(
                stream, tx, summary_tx, inbound, idle, drain, first_byte,
            ));
            Ok(Reply::Stream {
                chunks: rx,
                summary,
                headers: prepared.extra_headers,
                upstream: head_wait,
            })
        }
        Answer::Whole(whole) => {
            let body = response
                .timeout(remaining(started, provider.timeout))
                .body()
                .limit(MAX_RESPONSE_BYTES)
                .await
                .map_err(payload_error)?;
            let upstream = started.elapsed();
            let (body, usage) = whole(body)?;
            Ok(Reply::Complete {
                body,
                usage,
                headers: prepared.extra_headers,
                upstream,
            })
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
    /// The body ended: it must not be polled again (awc's payload is not
    /// fused and panics when polled after its end).
    eof: bool,
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
            eof: false,
            busy: Duration::ZERO,
        }
    }

    /// Reads until there is output for the caller or the stream is over.
    async fn fill(&mut self) -> Result<(), GatewayError> {
        while self.out.is_empty() && !self.done && !self.eof {
            match self.response.next().await {
                Some(Ok(chunk)) => {
                    let t = Instant::now();
                    self.parser.feed(&chunk, &mut self.events);
                    let r = self.translate();
                    self.busy += t.elapsed();
                    r?;
                }
                Some(Err(e)) => {
                    self.eof = true;
                    return Err(payload_error(e));
                }
                None => {
                    self.eof = true;
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

    /// Reads the rest of a finished body (bounded in bytes and time), so
    /// the connection can be reused; gives up quietly otherwise.
    async fn drain(&mut self) {
        let mut left = DRAIN_BYTES;
        let deadline = tokio::time::Instant::now() + DRAIN_TIME;
        while !self.eof {
            match tokio::time::timeout_at(deadline, self.response.next()).await {
                Ok(Some(Ok(chunk))) => match left.checked_sub(chunk.len()) {
                    Some(l) => left = l,
                    None => return,
                },
                Ok(None | Some(Err(_))) => self.eof = true,
                Err(_) => return,
            }
        }
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
/// upstream failure, a silent upstream, or the drain deadline. The summary
/// goes out before the caller's stream ends, so that what the call used and
/// cost is known when its last byte is.
async fn pump<S>(
    mut stream: UpstreamStream<S>,
    tx: mpsc::Sender<Bytes>,
    summary: oneshot::Sender<StreamSummary>,
    inbound: InboundApi,
    idle: Duration,
    mut drain: Drain,
    first_byte: Duration,
) where
    S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let gone = || GatewayError::new(ErrorKind::ClientClosed, "the caller went away");
    let mut silent_until = tokio::time::Instant::now() + idle;
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
            filled = stream.fill() => match filled {
                Err(e) => break Err(e),
                Ok(()) => silent_until = tokio::time::Instant::now() + idle,
            },
            _ = tokio::time::sleep_until(silent_until) => break Err(GatewayError::new(
                ErrorKind::Timeout,
                "the upstream stream went silent for too long",
            )),
            // Anthropic clients (Claude Code) expect pings on quiet streams,
            // e.g. while a model thinks; an interrupted `fill` loses nothing.
            _ = tokio::time::sleep(PING_EVERY), if inbound == InboundApi::Anthropic => {
                AnthropicEncoder::ping(&mut stream.out);
            }
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
    let _ = summary.send(StreamSummary {
        usage: stream.translator.usage(),
        error,
        first_byte: Some(first_byte),
        busy: stream.busy,
    });
    // The caller has everything: end their stream now, then read what is
    // left of a completed upstream body (after `[DONE]` or `message_stop`)
    // so that its connection goes back to the pool instead of closing.
    drop(tx);
    if error.is_none() {
        stream.drain().await;
    }
}
