//! Logging: subscriber setup, request ids, and the access log (one line per
//! request, written when the response body is finished, so a stream's line
//! carries its full duration).
//!
//! Lines carry the request id, the key's configured name, model, provider,
//! status, duration and, for answered calls, what they cost; never a key or
//! a prompt.

use crate::config::{LogFormat, ServerSettings};
use crate::routes::CallLabels;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use bytes::Bytes;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

/// Installs the global subscriber for `settings` (`RUST_LOG` wins over
/// `log_level` when set).
pub fn init(settings: &ServerSettings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The request id of a request: the caller's `X-Request-Id` when it is
/// sane, or a generated one.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn generate_id() -> HeaderValue {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ (u64::from(std::process::id()) << 32)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{seed:016x}{n:08x}");
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("gateway"))
}

fn caller_id(req: &ServiceRequest) -> Option<HeaderValue> {
    let v = req.headers().get(&REQUEST_ID)?;
    let ok = (1..=128).contains(&v.len())
        && v.as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b));
    ok.then(|| v.clone())
}

/// Middleware: assigns the request id, echoes it in the response, and writes
/// the access log line when the body is done.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = caller_id(&req).unwrap_or_else(generate_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.path().to_owned();
    let mut res = next.call(req).await?;
    res.headers_mut().insert(REQUEST_ID, id.clone());
    let labels = res.request().extensions().get::<CallLabels>().cloned();
    let status = res.status().as_u16();
    Ok(res.map_body(move |_, body| LoggedBody {
        body,
        line: Some(AccessLine {
            id,
            method,
            path,
            status,
            labels,
            started,
        }),
    }))
}

struct AccessLine {
    id: HeaderValue,
    method: actix_web::http::Method,
    path: String,
    status: u16,
    labels: Option<CallLabels>,
    started: Instant,
}

impl AccessLine {
    fn write(self, completed: bool) {
        let request_id = self.id.to_str().unwrap_or_default();
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        match &self.labels {
            Some(l) => tracing::info!(
                request_id,
                method = %self.method,
                path = %self.path,
                status = self.status,
                api_key = %l.api_key,
                model = %l.model,
                provider = %l.provider,
                attempts = l.attempts,
                cost_usd = l.cost.get().map(crate::governance::Cost::usd),
                duration_ms,
                completed,
                "request"
            ),
            None => tracing::info!(
                request_id,
                method = %self.method,
                path = %self.path,
                status = self.status,
                duration_ms,
                completed,
                "request"
            ),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that writes its access line when it ends or is
    /// dropped (the caller went away).
    struct LoggedBody<B> {
        #[pin]
        body: B,
        line: Option<AccessLine>,
    }

    impl<B> PinnedDrop for LoggedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(line) = this.project().line.take() {
                line.write(false);
            }
        }
    }
}

impl<B: MessageBody> MessageBody for LoggedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let poll = this.body.poll_next(cx);
        if let Poll::Ready(None) = poll {
            if let Some(line) = this.line.take() {
                line.write(true);
            }
        }
        poll
    }

    fn try_into_bytes(self) -> Result<Bytes, Self>
    where
        Self: Sized,
    {
        // Keep the wrapper (and its log line); actix still writes a sized
        // body in one go.
        Err(self)
    }
}

/// The tracing root span of a request, carrying its request id so every
/// line logged while serving it can be correlated.
pub struct GatewaySpan;

impl RootSpanBuilder for GatewaySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .and_then(|r| r.0.to_str().ok().map(str::to_owned))
            .unwrap_or_default();
        tracing::info_span!("request", request_id = %id)
    }

    fn on_request_end<B: MessageBody>(_span: Span, _outcome: &Result<ServiceResponse<B>, Error>) {}
}
