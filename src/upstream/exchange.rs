//! One upstream exchange: encode the caller's request for the provider's
//! dialect, send it, map transport and status errors, and decode the answer
//! into the caller's format, as a whole body or as a pumped stream.

use super::plan::{self, Answer, Planned, Prepared};
use super::{Attempt, Drain, Reply, StreamSummary, STREAM_BUFFER};
use crate::config::ProviderSettings;
use crate::error::{parse_retry_after, ErrorKind, GatewayError, InboundApi};
use crate::protocol::openai::Usage;
use crate::protocol::sse::{SseLimits, SseOverflow, SseParser};
use crate::protocol::{Flow, Translator};
use awc::error::{PayloadError, SendRequestError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::{Duration, Instant, SystemTime};
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

/// Runs one attempt on `client` (the provider actor's).
pub async fn execute(
    client: awc::Client,
    call: Attempt,
    drain: Drain,
) -> Result<Reply, GatewayError> {
    match plan::plan(&call)? {
        Planned::Local(reply) => Ok(reply),
        Planned::Send(prepared) => {
            let provider = call.target.provider.clone();
            let sent = send(client, call, prepared, drain).await;
            sent.map_err(|e| shield(e, &provider))
        }
    }
}

async fn send(
    client: awc::Client,
    call: Attempt,
    prepared: Prepared,
    drain: Drain,
) -> Result<Reply, GatewayError> {
    let provider = &call.target.provider;
    let started = Instant::now();
    // Per attempt, a stream must show its head and first event within the
    // first-byte timeout, a whole answer must be complete within the
    // provider's timeout; neither runs past the call's overall deadline.
    let limit = match prepared.answer {
        Answer::Stream(_) => call.first_byte_timeout.min(provider.timeout),
        Answer::Whole(_) => provider.timeout,
    };
    let budget = limit.min(call.deadline.saturating_duration_since(started));
    let mut request = client.post(&prepared.url).timeout(budget);
    for (name, value) in &prepared.headers {
        request = request.insert_header((*name, value.as_str()));
    }
    let response = request.send_body(prepared.body).await.map_err(send_error)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        // Parsed here, once: the upstream's text never reaches the caller.
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = response
            .timeout(remaining(started, budget))
            .body()
            .limit(MAX_ERROR_BYTES)
            .await
            .unwrap_or_default();
        return Err(prepared.provider.error(status, &body, retry_after).into());
    }
    let head_wait = started.elapsed();
    match prepared.answer {
        Answer::Stream(translator) => {
            // Read up to the first event before answering: until then a
            // failure is still retryable on another target, since nothing
            // reached the caller.
            let mut stream = UpstreamStream::new(response, translator, call.sse_limits);
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
            let inbound = call.call.inbound;
            let patience = Patience {
                idle: call.stream_idle_timeout,
                stall: call.client_stall_timeout,
            };
            let provider = provider.clone();
            let report = Report {
                summary: summary_tx,
                first_byte,
            };
            actix_web::rt::spawn(async move {
                pump(stream, tx, inbound, patience, drain, report, &provider).await;
            });
            Ok(Reply::Stream {
                chunks: rx,
                summary,
                headers: prepared.extra_headers,
                upstream: head_wait,
            })
        }
        Answer::Whole(whole) => {
            let body = response
                .timeout(remaining(started, budget))
                .body()
                .limit(MAX_RESPONSE_BYTES)
                .await
                .map_err(payload_error)?;
            let upstream = started.elapsed();
            let (body, usage) = whole(body)?;
            Ok(Reply::Complete {
                body,
                usage: usage.map(Usage::plausible),
                headers: prepared.extra_headers,
                upstream,
            })
        }
    }
}

/// Keeps provider credentials out of what the caller sees, and what the
/// upstream wrote to a bounded size, for every error
/// of an attempt (status, body and mid-stream errors): an upstream 401 is
/// about the gateway's provider key, so its message is replaced; the key is
/// masked in every upstream-written string (message, param, code).
fn shield(mut err: GatewayError, provider: &ProviderSettings) -> GatewayError {
    if err.kind == ErrorKind::Upstream(401) {
        err.message = format!(
            "The provider `{}` rejected the gateway's credentials (HTTP 401); \
             check the provider key in the gateway's configuration.",
            provider.id
        )
        .into();
    }
    let err = match &provider.api_key {
        Some(key) => err.mask(key.expose()),
        None => err,
    };
    err.bounded()
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

/// An upstream stream line or event over the gateway's limit.
fn overflow_error(o: SseOverflow) -> GatewayError {
    GatewayError::new(
        ErrorKind::BadUpstreamResponse,
        format!("the upstream sent {o} (the gateway's limit)"),
    )
    .with_code("upstream_event_too_large")
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
    /// When the upstream last sent anything (keep-alive comments and pings
    /// included): the idle timeout counts from here.
    heard: tokio::time::Instant,
}

impl<S> UpstreamStream<S>
where
    S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    fn new(
        response: awc::ClientResponse<S>,
        translator: Box<dyn Translator>,
        limits: SseLimits,
    ) -> Self {
        Self {
            response,
            parser: SseParser::with_limits(limits),
            events: Vec::new(),
            translator,
            out: BytesMut::new(),
            done: false,
            eof: false,
            busy: Duration::ZERO,
            heard: tokio::time::Instant::now(),
        }
    }

    /// Reads until there is output for the caller or the stream is over.
    async fn fill(&mut self) -> Result<(), GatewayError> {
        while self.out.is_empty() && !self.done && !self.eof {
            match self.response.next().await {
                Some(Ok(chunk)) => {
                    self.heard = tokio::time::Instant::now();
                    let t = Instant::now();
                    let r = self
                        .parser
                        .feed(&chunk, &mut self.events)
                        .map_err(overflow_error)
                        .and_then(|()| self.translate());
                    self.busy += t.elapsed();
                    r?;
                }
                Some(Err(e)) => {
                    self.eof = true;
                    return Err(payload_error(e));
                }
                None => {
                    self.eof = true;
                    let last = self.parser.finish().map_err(overflow_error)?;
                    self.events.extend(last);
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
            if self.translator.event(&ev, &mut self.out)? == Flow::Done {
                self.done = true;
                self.translator.end(&mut self.out)?;
            }
        }
        Ok(())
    }
}

/// How long a stream waits on each side.
#[derive(Debug, Clone, Copy)]
struct Patience {
    /// Upstream silence that fails the stream.
    idle: Duration,
    /// The longest the caller may take to make room for the next chunk.
    stall: Duration,
}

/// The drain deadline passed with the stream still open.
fn drain_ended() -> GatewayError {
    GatewayError::new(
        ErrorKind::Unavailable,
        "the gateway is shutting down and its drain period ended before this stream did",
    )
    .with_code("gateway_shutdown")
}

/// Where a stream's pump reports its end.
struct Report {
    summary: oneshot::Sender<StreamSummary>,
    /// Time from the call to the first byte sent to the caller.
    first_byte: Duration,
}

/// Sends the stream on as it is translated. Stops reading as soon as the
/// caller goes away (the receiver is dropped) or stops reading for
/// `patience.stall`, which drops the upstream response and closes its
/// connection; ends with an error event on an upstream failure, a silent
/// upstream, or the drain deadline (which also ends a wait on the caller).
/// The summary goes out before the caller's stream ends, so that what the
/// call used and cost is known when its last byte is.
async fn pump<S>(
    mut stream: UpstreamStream<S>,
    tx: mpsc::Sender<Bytes>,
    inbound: InboundApi,
    patience: Patience,
    mut drain: Drain,
    report: Report,
    provider: &ProviderSettings,
) where
    S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let gone = || GatewayError::new(ErrorKind::ClientClosed, "the caller went away");
    let keep_alive = inbound.caller().keep_alive();
    let stalled = || GatewayError::new(ErrorKind::ClientClosed, "the caller stopped reading");
    let mut ping_at = tokio::time::Instant::now() + PING_EVERY;
    let result: Result<(), GatewayError> = loop {
        if !stream.out.is_empty() {
            let waiting = tokio::time::Instant::now();
            let room = tokio::select! {
                biased;
                _ = drain.wait_for(|deadline| *deadline) => Err(drain_ended()),
                room = tokio::time::timeout(patience.stall, tx.reserve()) => match room {
                    Ok(Ok(permit)) => Ok(permit),
                    Ok(Err(_)) => Err(gone()),
                    Err(_) => Err(stalled()),
                },
            };
            match room {
                Ok(permit) => permit.send(stream.out.split().freeze()),
                Err(e) => break Err(e),
            }
            // Time spent waiting on the caller is no upstream silence.
            let now = tokio::time::Instant::now();
            stream.heard += now - waiting;
            ping_at = now + PING_EVERY;
        }
        if stream.done {
            break Ok(());
        }
        // `fill` moves `heard` on every read, keep-alives included: at this
        // deadline the loop looks again before calling the upstream silent.
        let silent_at = stream.heard + patience.idle;
        tokio::select! {
            biased;
            _ = tx.closed() => break Err(gone()),
            _ = drain.wait_for(|deadline| *deadline) => break Err(drain_ended()),
            filled = stream.fill() => if let Err(e) = filled {
                break Err(e);
            },
            _ = tokio::time::sleep_until(silent_at) => if stream.heard + patience.idle <= tokio::time::Instant::now() {
                break Err(GatewayError::new(
                    ErrorKind::Timeout,
                    "the upstream stream went silent for too long",
                ));
            },
            // Keep-alives on quiet streams (Anthropic's pings, e.g. while a
            // model thinks); an interrupted `fill` loses nothing.
            _ = tokio::time::sleep_until(ping_at), if keep_alive.is_some() => {
                stream.out.extend_from_slice(keep_alive.unwrap_or_default());
            }
        }
    };
    let error = match result {
        Ok(()) => None,
        Err(e) => {
            let e = shield(e, provider);
            if e.kind != ErrorKind::ClientClosed {
                let mut out = stream.out.split();
                if !stream.translator.fail(&e.reply(inbound), &mut out) {
                    out.extend_from_slice(&e.stream_event(inbound));
                }
                // Delivered if the caller makes room in time; after the
                // drain deadline the pump waits on nobody.
                tokio::select! {
                    biased;
                    _ = tokio::time::timeout(patience.stall, tx.send(out.freeze())) => {}
                    _ = drain.wait_for(|deadline| *deadline) => {}
                }
            }
            Some(e.kind)
        }
    };
    let _ = report.summary.send(StreamSummary {
        usage: stream.translator.usage().map(Usage::plausible),
        error,
        first_byte: Some(report.first_byte),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::relay::OpenAiPassThrough;

    const CHUNK: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";

    /// An upstream stream of `reads`, then silence (never its end).
    fn upstream(
        reads: Vec<Result<Bytes, PayloadError>>,
    ) -> UpstreamStream<impl futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin> {
        let body = futures_util::stream::iter(reads).chain(futures_util::stream::pending());
        let response = awc::test::TestResponse::default()
            .finish()
            .map_body(|_, _| actix_web::dev::Payload::Stream { payload: body });
        let translator = Box::new(OpenAiPassThrough::new(false, None));
        UpstreamStream::new(response, translator, SseLimits::default())
    }

    /// Pumps `stream` into a one-chunk channel nobody reads (a caller that
    /// stopped reading, with all patience), ends the drain once the pump
    /// waits, and returns how the pump ended.
    fn provider() -> ProviderSettings {
        ProviderSettings {
            id: "p".into(),
            kind: crate::config::ProviderKind::Mock,
            enabled: true,
            api_key: None,
            base_url: String::new(),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            api_version: String::new(),
            responses: false,
        }
    }

    async fn pump_to_a_stalled_caller<S>(stream: UpstreamStream<S>) -> Option<ErrorKind>
    where
        S: futures_util::Stream<Item = Result<Bytes, PayloadError>> + Unpin + 'static,
    {
        let (tx, _rx) = mpsc::channel(1);
        let (drain_tx, drain) = tokio::sync::watch::channel(false);
        let patience = Patience {
            idle: Duration::from_secs(600),
            stall: Duration::from_secs(600),
        };
        let (summary, summarised) = oneshot::channel();
        let pumping = actix_web::rt::spawn(async move {
            let provider = provider();
            let report = Report {
                summary,
                first_byte: Duration::ZERO,
            };
            pump(
                stream,
                tx,
                InboundApi::OpenAi,
                patience,
                drain,
                report,
                &provider,
            )
            .await
        });
        // The pump runs until it waits on the full channel.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        drain_tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), pumping)
            .await
            .expect("the pump ended at the drain deadline")
            .expect("the pump did not panic");
        summarised.await.expect("a summary").error
    }

    #[actix_web::test]
    async fn the_drain_deadline_ends_a_wait_on_a_caller_that_stopped_reading() {
        let stream = upstream(vec![Ok(Bytes::from(CHUNK)), Ok(Bytes::from(CHUNK))]);
        assert_eq!(
            pump_to_a_stalled_caller(stream).await,
            Some(ErrorKind::Unavailable)
        );
    }

    #[actix_web::test]
    async fn the_drain_deadline_ends_a_wait_to_deliver_the_error_event() {
        let cut = Err(PayloadError::Incomplete(None));
        let stream = upstream(vec![Ok(Bytes::from(CHUNK)), cut]);
        assert_eq!(
            pump_to_a_stalled_caller(stream).await,
            Some(ErrorKind::BadUpstreamResponse)
        );
    }
}
