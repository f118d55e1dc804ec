//! Prometheus metrics in four dimensions (api_key, model, provider,
//! endpoint).
//!
//! actix-web-prom owns the registry, serves the endpoint and times every
//! HTTP request by route template. The [`MetricsActor`] (one per process)
//! owns the `llm_*` families, registered in the same registry, and receives
//! one [`Observation`] per LLM call, sent fire-and-forget from the request
//! path; each worker's [`Recorder`] batches them, so a call costs a push on
//! the worker, not a wake-up of the actor's thread.
//!
//! Label values are bounded: `api_key` is a key's configured name (`unknown`
//! when the key is not known), `model` a configured model name (`unknown`
//! otherwise), `provider` a provider ID, `endpoint` a gateway route, and
//! `error_type` one of [`ErrorKind::metric_label`]'s closed set.

use crate::config::Snapshot;
use crate::error::ErrorKind;
use crate::protocol::openai::Usage;
use actix::prelude::*;
use prometheus::{
    CounterVec, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The label value for a key, model or provider the gateway does not know.
pub const UNKNOWN: &str = "unknown";

/// An inbound LLM endpoint (the `endpoint` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Messages,
    CountTokens,
    Embeddings,
    Responses,
    /// Gemini `:generateContent`.
    GenerateContent,
    /// Gemini `:streamGenerateContent`.
    StreamGenerateContent,
    /// Gemini `:countTokens`.
    GeminiCountTokens,
    /// Gemini `:embedContent`.
    EmbedContent,
    /// Gemini `:batchEmbedContents`.
    BatchEmbedContents,
}

impl Endpoint {
    /// The route, as the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Messages => "/v1/messages",
            Endpoint::CountTokens => "/v1/messages/count_tokens",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Responses => "/v1/responses",
            Endpoint::GenerateContent => "/v1beta/models/{model}:generateContent",
            Endpoint::StreamGenerateContent => "/v1beta/models/{model}:streamGenerateContent",
            Endpoint::GeminiCountTokens => "/v1beta/models/{model}:countTokens",
            Endpoint::EmbedContent => "/v1beta/models/{model}:embedContent",
            Endpoint::BatchEmbedContents => "/v1beta/models/{model}:batchEmbedContents",
        }
    }
}

/// The four dimensions of one call.
#[derive(Debug, Clone)]
pub struct CallDims {
    pub api_key: Arc<str>,
    pub model: Arc<str>,
    pub provider: Arc<str>,
    pub endpoint: Endpoint,
}

impl CallDims {
    /// Dimensions of a call refused before its key or model was known.
    pub fn unknown(endpoint: Endpoint) -> Self {
        let u: Arc<str> = Arc::from(UNKNOWN);
        Self {
            api_key: u.clone(),
            model: u.clone(),
            provider: u,
            endpoint,
        }
    }
}

/// What one LLM call did, reported once when it is over.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Observation {
    pub dims: CallDims,
    /// The HTTP status the caller got.
    pub status: u16,
    /// Set when the call failed, also after a 200 (mid-stream).
    pub error: Option<ErrorKind>,
    pub usage: Option<Usage>,
    /// From the request's arrival to the last byte.
    pub duration: Duration,
    /// Streams: time to the first byte sent.
    pub first_token: Option<Duration>,
    /// Time the gateway itself spent (total minus waiting on the upstream);
    /// `None` when the call never reached a provider.
    pub overhead: Option<Duration>,
    /// What the call cost, from its model's pricing and its usage.
    pub cost_usd: f64,
}

/// The result of a config (re)load (`llm_config_reloads_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum Reloaded {
    /// Published.
    Success,
    /// Refused: the file is invalid.
    Failure,
    /// Refused: the file is valid but would remove every gateway key or
    /// every model, and no one forced it.
    RefusedEmpty,
}

impl Reloaded {
    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reloaded::Success => "success",
            Reloaded::Failure => "failure",
            Reloaded::RefusedEmpty => "refused_empty",
        }
    }
}

/// A failed attempt that is retried (`llm_retries_total`).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Retried {
    pub model: Arc<str>,
    pub provider: Arc<str>,
    pub error_type: &'static str,
}

/// A call moving on to a fallback model (`llm_fallbacks_total`).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct FellBack {
    pub model: Arc<str>,
    pub fallback: Arc<str>,
}

/// A target's breaker opened or closed (`llm_target_healthy`).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TargetHealth {
    pub provider: Arc<str>,
    pub model: Arc<str>,
    pub healthy: bool,
}

/// Every configured target with its health, after a (re)load.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Targets(pub Vec<TargetHealth>);

/// Publishes the `llm_api_key_info` series of a new snapshot.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct KeyInfo(pub Vec<(Arc<str>, String)>);

const DIMS: &[&str] = &["api_key", "model", "provider", "endpoint"];

/// The `llm_*` families.
pub struct Families {
    requests: IntCounterVec,
    tokens: IntCounterVec,
    duration: HistogramVec,
    ttft: HistogramVec,
    overhead: HistogramVec,
    errors: IntCounterVec,
    in_flight: IntGaugeVec,
    key_info: IntGaugeVec,
    reloads: IntCounterVec,
    last_reload: Gauge,
    retries: IntCounterVec,
    fallbacks: IntCounterVec,
    target_healthy: IntGaugeVec,
    rate_limited: IntCounterVec,
    cost: CounterVec,
    store_errors: IntCounterVec,
}

/// The four dimensions plus `extra` labels.
fn dims_and(extra: &[&'static str]) -> Vec<&'static str> {
    DIMS.iter().chain(extra).copied().collect()
}

impl Families {
    /// Creates the families and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, extra: &[&'static str]| {
            let c = IntCounterVec::new(Opts::new(name, help), &dims_and(extra))?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        let latency = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            300.0, 600.0,
        ];
        let overhead = vec![
            0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
            0.05, 0.1,
        ];
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let last_reload = Gauge::new(
            "llm_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
        )?;
        registry.register(Box::new(last_reload.clone()))?;
        let reloads = IntCounterVec::new(
            Opts::new("llm_config_reloads_total", "Config reloads by result."),
            &["result"],
        )?;
        registry.register(Box::new(reloads.clone()))?;
        let plain_counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let cost = CounterVec::new(
            Opts::new(
                "llm_cost_usd_total",
                "What calls cost in USD, from the model's pricing and the provider's usage.",
            ),
            &["api_key", "model", "provider"],
        )?;
        registry.register(Box::new(cost.clone()))?;
        Ok(Self {
            cost,
            store_errors: plain_counter(
                "llm_limits_store_errors_total",
                "Operations on the shared limits store (Redis) that failed, timed out or were skipped while it was unreachable.",
                &["operation"],
            )?,
            rate_limited: plain_counter(
                "llm_rate_limited_total",
                "Calls refused by a key's limit.",
                &["api_key", "limit"],
            )?,
            retries: plain_counter(
                "llm_retries_total",
                "Failed upstream attempts that were retried, by the provider that failed.",
                &["model", "provider", "error_type"],
            )?,
            fallbacks: plain_counter(
                "llm_fallbacks_total",
                "Calls that moved on to a fallback model.",
                &["model", "fallback"],
            )?,
            target_healthy: gauge(
                "llm_target_healthy",
                "1 while a target's circuit breaker is closed, 0 while open or half-open; model is the provider's model name.",
                &["provider", "model"],
            )?,
            requests: counter(
                "llm_requests_total",
                "LLM calls by caller key name, model, provider, endpoint and HTTP status.",
                &["status"],
            )?,
            tokens: counter(
                "llm_tokens_total",
                "Tokens as the provider reported them; type: input (all input, cache reads and writes included), output, cache_read and cache_write (subsets of input), cached_input (= cache_read, for older dashboards).",
                &["type"],
            )?,
            duration: histogram(
                "llm_request_duration_seconds",
                "Duration of LLM calls, to the last byte.",
                DIMS,
                latency.clone(),
            )?,
            ttft: histogram(
                "llm_time_to_first_token_seconds",
                "Streams: time to the first byte sent to the caller.",
                DIMS,
                latency,
            )?,
            overhead: histogram(
                "llm_gateway_overhead_seconds",
                "Time the gateway itself spent on a call (total minus waiting on the upstream).",
                &["provider", "endpoint"],
                overhead,
            )?,
            errors: counter(
                "llm_errors_total",
                "Failed LLM calls by error type.",
                &["error_type"],
            )?,
            in_flight: gauge(
                "llm_in_flight_requests",
                "LLM calls in flight, streams included.",
                &["provider"],
            )?,
            key_info: gauge(
                "llm_api_key_info",
                "Maps a key's name to the first 12 hex digits of HMAC-SHA256(key_hash_salt, key).",
                &["api_key", "key_hash"],
            )?,
            reloads,
            last_reload,
        })
    }

    fn observe(&self, o: &Observation) {
        let d = &o.dims;
        let dims = [&*d.api_key, &*d.model, &*d.provider, d.endpoint.as_str()];
        let status = o.status.to_string();
        self.requests
            .with_label_values(&[dims[0], dims[1], dims[2], dims[3], &status])
            .inc();
        if let Some(u) = o.usage {
            let add = |kind: &str, n: u64| {
                if n > 0 {
                    self.tokens
                        .with_label_values(&[dims[0], dims[1], dims[2], dims[3], kind])
                        .inc_by(n);
                }
            };
            add("input", u.prompt_tokens);
            add("output", u.completion_tokens);
            add("cached_input", u.cached_tokens());
            add("cache_read", u.cached_tokens());
            add("cache_write", u.cache_write_tokens());
        }
        self.duration
            .with_label_values(&dims)
            .observe(o.duration.as_secs_f64());
        if let Some(t) = o.first_token {
            self.ttft.with_label_values(&dims).observe(t.as_secs_f64());
        }
        if let Some(t) = o.overhead {
            self.overhead
                .with_label_values(&[dims[2], dims[3]])
                .observe(t.as_secs_f64());
        }
        if o.cost_usd > 0.0 {
            self.cost
                .with_label_values(&[dims[0], dims[1], dims[2]])
                .inc_by(o.cost_usd);
        }
        if let Some(kind) = o.error {
            self.errors
                .with_label_values(&[dims[0], dims[1], dims[2], dims[3], kind.metric_label()])
                .inc();
        }
    }
}

/// Owns the `llm_*` families; one per process.
pub struct MetricsActor {
    families: Families,
}

impl MetricsActor {
    /// An actor recording into `families`.
    pub fn new(families: Families) -> Self {
        Self { families }
    }
}

/// `do_send` queues regardless of the mailbox capacity, so recording never
/// blocks the request path.
impl Actor for MetricsActor {
    type Context = Context<Self>;
}

impl Handler<Observation> for MetricsActor {
    type Result = ();
    fn handle(&mut self, o: Observation, _: &mut Self::Context) {
        self.families.observe(&o);
    }
}

impl Handler<Reloaded> for MetricsActor {
    type Result = ();
    fn handle(&mut self, r: Reloaded, _: &mut Self::Context) {
        self.families.reloads.with_label_values(&[r.as_str()]).inc();
        if r == Reloaded::Success {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.families.last_reload.set(now);
        }
    }
}

impl Handler<Retried> for MetricsActor {
    type Result = ();
    fn handle(&mut self, r: Retried, _: &mut Self::Context) {
        self.families
            .retries
            .with_label_values(&[&*r.model, &*r.provider, r.error_type])
            .inc();
    }
}

impl Handler<FellBack> for MetricsActor {
    type Result = ();
    fn handle(&mut self, f: FellBack, _: &mut Self::Context) {
        self.families
            .fallbacks
            .with_label_values(&[&*f.model, &*f.fallback])
            .inc();
    }
}

impl Handler<TargetHealth> for MetricsActor {
    type Result = ();
    fn handle(&mut self, t: TargetHealth, _: &mut Self::Context) {
        self.families
            .target_healthy
            .with_label_values(&[&*t.provider, &t.model])
            .set(i64::from(t.healthy));
    }
}

impl Handler<Targets> for MetricsActor {
    type Result = ();
    fn handle(&mut self, Targets(all): Targets, ctx: &mut Self::Context) {
        self.families.target_healthy.reset();
        for t in all {
            self.handle(t, ctx);
        }
    }
}

impl Handler<KeyInfo> for MetricsActor {
    type Result = ();
    fn handle(&mut self, KeyInfo(keys): KeyInfo, _: &mut Self::Context) {
        self.families.key_info.reset();
        for (name, hash) in keys {
            self.families
                .key_info
                .with_label_values(&[&*name, &hash])
                .set(1);
        }
    }
}

/// The `llm_api_key_info` series of a snapshot (empty unless
/// `include_api_key_hash` is on).
pub fn key_info(snapshot: &Snapshot) -> KeyInfo {
    KeyInfo(snapshot.key_hashes())
}

/// A call refused by a key's limit (`llm_rate_limited_total`).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RateLimited {
    pub api_key: Arc<str>,
    pub limit: &'static str,
}

impl Handler<RateLimited> for MetricsActor {
    type Result = ();
    fn handle(&mut self, r: RateLimited, _: &mut Self::Context) {
        self.families
            .rate_limited
            .with_label_values(&[&*r.api_key, r.limit])
            .inc();
    }
}

/// Process-level access to the metrics actor (config reloads, target
/// health at load time): messages go straight to the actor.
#[derive(Clone, Default)]
pub struct MetricsHandle(Option<Addr<MetricsActor>>);

impl MetricsHandle {
    /// A handle on `addr` (none: metrics are disabled).
    pub fn new(addr: Option<Addr<MetricsActor>>) -> Self {
        Self(addr)
    }

    /// Sends a message to the actor.
    pub fn send<M>(&self, m: M)
    where
        M: Message<Result = ()> + Send + 'static,
        MetricsActor: Handler<M>,
    {
        if let Some(a) = &self.0 {
            a.do_send(m);
        }
    }

    /// A recorder for one worker.
    pub fn recorder(&self) -> Recorder {
        Recorder(Rc::new(Buffer {
            addr: self.0.clone(),
            events: RefCell::new(Vec::new()),
        }))
    }
}

/// One thing the request path reports.
#[derive(Debug, Clone)]
pub enum Event {
    Observed(Observation),
    Started(Arc<str>),
    Ended(Arc<str>),
    Retried(Retried),
    FellBack(FellBack),
    TargetHealth(TargetHealth),
    RateLimited(RateLimited),
    /// A failed operation on the shared limits store, by operation.
    StoreError(&'static str),
}

/// Events of one worker, delivered together: one cross-thread wake-up per
/// batch instead of one per call.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Batch(pub Vec<Event>);

impl Handler<Batch> for MetricsActor {
    type Result = ();
    fn handle(&mut self, Batch(events): Batch, ctx: &mut Self::Context) {
        for e in events {
            match e {
                Event::Observed(o) => self.families.observe(&o),
                Event::Started(p) => self.families.in_flight.with_label_values(&[&*p]).inc(),
                Event::Ended(p) => self.families.in_flight.with_label_values(&[&*p]).dec(),
                Event::Retried(r) => self.handle(r, ctx),
                Event::FellBack(f) => self.handle(f, ctx),
                Event::TargetHealth(t) => self.handle(t, ctx),
                Event::RateLimited(r) => self.handle(r, ctx),
                Event::StoreError(op) => self.families.store_errors.with_label_values(&[op]).inc(),
            }
        }
    }
}

/// How long a worker holds events before sending them.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(5);
/// A batch this large is sent at once.
const FLUSH_AT: usize = 512;

struct Buffer {
    addr: Option<Addr<MetricsActor>>,
    events: RefCell<Vec<Event>>,
}

/// Where a worker's handlers report (nothing when metrics are disabled):
/// events are buffered on the worker and sent to the actor in batches,
/// at most [`FLUSH_EVERY`] late.
#[derive(Clone)]
pub struct Recorder(Rc<Buffer>);

impl Recorder {
    /// Reports one event.
    pub fn record(&self, event: Event) {
        if self.0.addr.is_none() {
            return;
        }
        let len = {
            let mut events = self.0.events.borrow_mut();
            events.push(event);
            events.len()
        };
        if len >= FLUSH_AT {
            self.flush();
        } else if len == 1 {
            let me = self.clone();
            actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(FLUSH_EVERY).await;
                me.flush();
            });
        }
    }

    fn flush(&self) {
        let events = std::mem::take(&mut *self.0.events.borrow_mut());
        if let (Some(a), false) = (&self.0.addr, events.is_empty()) {
            a.do_send(Batch(events));
        }
    }

    /// Records a finished call.
    pub fn observe(&self, o: Observation) {
        self.record(Event::Observed(o));
    }

    /// Marks a call to `provider` in flight; the returned guard ends it.
    pub fn start(&self, provider: &Arc<str>) -> InFlight {
        self.record(Event::Started(provider.clone()));
        InFlight(Some((self.clone(), provider.clone())))
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight(Option<(Recorder, Arc<str>)>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((r, p)) = self.0.take() {
            r.record(Event::Ended(p));
        }
    }
}
