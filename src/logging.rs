//! Logging: subscriber setup, request ids and root spans, and the access
//! log (one line per request, written when the response body is finished,
//! so a stream's line carries its full duration).
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

const HEX: &[u8; 16] = b"0123456789abcdef";

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
    let Ok(low) = u32::try_from(n) else {
        let id = format!("{seed:016x}{n:08x}");
        return HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("gateway"));
    };
    // `{seed:016x}{n:08x}`, without the formatting machinery.
    let mut id = [0u8; 24];
    let digits = (seed.to_be_bytes().into_iter()).chain(low.to_be_bytes());
    for (pair, byte) in id.chunks_mut(2).zip(digits) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("gateway"))
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

/// The tracing root span of a request (tracing-actix-web's), carrying the
/// request id `access_log` set, so every line logged while serving it can
/// be correlated; the id is formatted only when the span is enabled.
pub struct GatewaySpan;

impl RootSpanBuilder for GatewaySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let extensions = request.extensions();
        let id = extensions
            .get::<RequestId>()
            .and_then(|r| r.0.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!("request", request_id = %id)
    }

    fn on_request_end<B: MessageBody>(_span: Span, _outcome: &Result<ServiceResponse<B>, Error>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test as actix_test;
    use actix_web::{middleware::from_fn, web, App, HttpResponse};
    use std::sync::{Arc, Mutex};

    /// What the subscriber writes, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn generated_ids_are_the_seed_and_the_counter_in_hex() {
        let (a, b) = (generate_id(), generate_id());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_eq!((a.len(), b.len()), (24, 24));
        assert_eq!(a[..16], b[..16]);
        let (na, nb) = (
            u32::from_str_radix(&a[16..], 16).unwrap(),
            u32::from_str_radix(&b[16..], 16).unwrap(),
        );
        assert!(nb > na, "{a} {b}");
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[actix_web::test]
    async fn lines_logged_while_serving_carry_the_request_id_of_the_root_span() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = actix_test::init_service(
            App::new()
                .wrap(tracing_actix_web::TracingLogger::<GatewaySpan>::new())
                .wrap(from_fn(access_log))
                .route(
                    "/",
                    web::get().to(|| async {
                        tracing::warn!("inside the handler");
                        HttpResponse::Ok().finish()
                    }),
                ),
        )
        .await;
        let req = actix_test::TestRequest::get()
            .uri("/")
            .insert_header(("x-request-id", "req-span-1"))
            .to_request();
        let resp = actix_test::call_service(&app, req).await;
        assert_eq!(resp.headers().get("x-request-id").unwrap(), "req-span-1");
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = text.lines().find(|l| l.contains("inside the handler"));
        assert!(
            line.is_some_and(|l| l.contains("request{request_id=req-span-1}")),
            "{text}"
        );
    }
}
