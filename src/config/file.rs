//! The config file's shape, as written by users (the seed README's format,
//! plus optional fields). Everything is validated into a
//! [`Snapshot`](super::Snapshot) before use; nothing here is used directly by
//! the request path.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub api_keys: Vec<ApiKeySection>,
    #[serde(default)]
    pub models: BTreeMap<String, ModelSection>,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub routing: RoutingSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub responses: ResponsesSection,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
pub struct ServerSection {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: i64,
    #[serde(default = "default_log_level")]
    pub log_level: String,
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Worker threads; default: one per core.
    pub workers: Option<i64>,
    /// Largest accepted request body, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: i64,
    /// Largest accepted request head (request line and header fields), in
    /// bytes.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: i64,
    /// The longest a request body may take to arrive.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_seconds: f64,
    /// How long in-flight requests and streams may take to finish after
    /// SIGTERM.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout_seconds: f64,
    /// Key for `POST /admin/reload`; absent: the endpoint is off.
    pub admin_key: Option<String>,
    /// Lets a live reload of this file remove every gateway key or every
    /// model (refused otherwise: an empty or truncated file is valid TOML).
    #[serde(default)]
    pub allow_empty_reload: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            host: default_host(),
            port: default_port(),
            log_level: default_log_level(),
            log_format: default_log_format(),
            workers: None,
            max_body_bytes: default_max_body_bytes(),
            max_header_bytes: default_max_header_bytes(),
            body_read_timeout_seconds: default_body_read_timeout(),
            shutdown_timeout_seconds: default_shutdown_timeout(),
            admin_key: None,
            allow_empty_reload: false,
        }
    }
}

fn default_host() -> String {
    "0.0.0.0".to_owned()
}
fn default_port() -> i64 {
    8080
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_log_format() -> String {
    "json".to_owned()
}
fn default_max_body_bytes() -> i64 {
    10 * 1024 * 1024
}
fn default_max_header_bytes() -> i64 {
    64 * 1024
}
fn default_body_read_timeout() -> f64 {
    60.0
}
fn default_shutdown_timeout() -> f64 {
    30.0
}
fn default_true() -> bool {
    true
}

/// One `[[api_keys]]` entry.
#[derive(Debug, Deserialize)]
pub struct ApiKeySection {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Allow-list of model names (globs); absent: every model.
    pub models: Option<Vec<String>>,
    /// Requests per minute.
    pub rpm: Option<i64>,
    /// Tokens (input + output) per minute.
    pub tpm: Option<i64>,
    /// Calls in flight, streams included.
    pub max_concurrent: Option<i64>,
    /// Spend allowed per `budget_period`, in USD (from model pricing).
    pub budget_usd: Option<f64>,
    /// `day`, `week` or `month` (UTC calendar periods; default month).
    pub budget_period: Option<String>,
}

/// `[limits]`: where per-key limits are kept.
#[derive(Debug, Deserialize)]
pub struct LimitsSection {
    /// `local` (each replica enforces its own limits) or `redis` (shared).
    #[serde(default = "default_store")]
    pub store: String,
    /// `redis://host:6379/0` or `rediss://…` (TLS).
    pub redis_url: Option<String>,
    /// Better from the environment: `LLM_GATEWAY__LIMITS__REDIS_PASSWORD`.
    pub redis_password: Option<String>,
    /// `allow` (local limits while Redis is unreachable) or `deny` (503).
    #[serde(default = "default_on_store_error")]
    pub on_store_error: String,
    /// The longest a request waits on Redis.
    #[serde(default = "default_store_timeout_ms")]
    pub store_timeout_ms: i64,
    /// How long a concurrency slot outlives a replica that died.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: f64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            store: default_store(),
            redis_url: None,
            redis_password: None,
            on_store_error: default_on_store_error(),
            store_timeout_ms: default_store_timeout_ms(),
            lease_seconds: default_lease_seconds(),
        }
    }
}

fn default_store() -> String {
    "local".to_owned()
}
fn default_on_store_error() -> String {
    "allow".to_owned()
}
fn default_store_timeout_ms() -> i64 {
    50
}
fn default_lease_seconds() -> f64 {
    30.0
}

/// `[models.X.pricing]`: USD per million tokens.
#[derive(Debug, Deserialize)]
pub struct PricingSection {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    /// Default: the input price.
    pub cache_read_per_mtok: Option<f64>,
    /// Default: the input price.
    pub cache_write_per_mtok: Option<f64>,
}

/// One `[models."NAME"]` entry: the seed's single `provider`/`api_model`,
/// or several weighted `targets`.
#[derive(Debug, Deserialize)]
pub struct ModelSection {
    pub provider: Option<String>,
    /// The provider's own name for the model; default: the gateway name.
    pub api_model: Option<String>,
    pub targets: Option<Vec<TargetSection>>,
    /// Other configured models tried in order when every target failed.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// Overrides `[routing] max_retries` for this model.
    pub max_retries: Option<i64>,
    /// Output token limit sent when the caller gives none and the provider
    /// requires one (Anthropic); default 4096.
    pub default_max_tokens: Option<i64>,
    /// What the model costs; absent: nothing.
    pub pricing: Option<PricingSection>,
}

/// One deployment of a model.
#[derive(Debug, Deserialize)]
pub struct TargetSection {
    pub provider: String,
    pub api_model: Option<String>,
    /// Share of requests (default 1).
    pub weight: Option<i64>,
}

/// `[routing]`: retries, timeouts and circuit breaking, for every model.
#[derive(Debug, Deserialize)]
pub struct RoutingSection {
    #[serde(default = "default_max_retries")]
    pub max_retries: i64,
    #[serde(default = "default_backoff_ms")]
    pub retry_backoff_ms: i64,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: f64,
    #[serde(default = "default_stream_timeout")]
    pub first_byte_timeout_seconds: f64,
    #[serde(default = "default_stream_timeout")]
    pub stream_idle_timeout_seconds: f64,
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: i64,
    #[serde(default = "default_breaker_cooldown")]
    pub breaker_cooldown_seconds: f64,
    /// The overall deadline of a call: every attempt, backoff and fallback.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: f64,
    /// The longest upstream `Retry-After` waited out before retrying the
    /// same target.
    #[serde(default = "default_max_retry_wait")]
    pub max_retry_wait_seconds: f64,
    /// The longest a streaming caller may read nothing.
    #[serde(default = "default_stream_timeout")]
    pub client_stall_timeout_seconds: f64,
    /// Longest line of an upstream stream, in bytes.
    #[serde(default = "default_max_sse_line")]
    pub max_sse_line_bytes: i64,
    /// Largest event of an upstream stream (its data), in bytes.
    #[serde(default = "default_max_sse_event")]
    pub max_sse_event_bytes: i64,
}

impl Default for RoutingSection {
    fn default() -> Self {
        Self {
            max_retries: default_max_retries(),
            retry_backoff_ms: default_backoff_ms(),
            connect_timeout_seconds: default_connect_timeout(),
            first_byte_timeout_seconds: default_stream_timeout(),
            stream_idle_timeout_seconds: default_stream_timeout(),
            breaker_failures: default_breaker_failures(),
            breaker_cooldown_seconds: default_breaker_cooldown(),
            request_timeout_seconds: default_request_timeout(),
            max_retry_wait_seconds: default_max_retry_wait(),
            client_stall_timeout_seconds: default_stream_timeout(),
            max_sse_line_bytes: default_max_sse_line(),
            max_sse_event_bytes: default_max_sse_event(),
        }
    }
}

fn default_max_retries() -> i64 {
    2
}
fn default_backoff_ms() -> i64 {
    100
}
fn default_connect_timeout() -> f64 {
    5.0
}
fn default_stream_timeout() -> f64 {
    60.0
}
fn default_breaker_failures() -> i64 {
    5
}
fn default_breaker_cooldown() -> f64 {
    30.0
}
fn default_request_timeout() -> f64 {
    600.0
}
fn default_max_retry_wait() -> f64 {
    10.0
}
fn default_max_sse_line() -> i64 {
    crate::protocol::sse::SseLimits::default().max_line as i64
}
fn default_max_sse_event() -> i64 {
    crate::protocol::sse::SseLimits::default().max_event as i64
}

/// One `[providers.ID]` entry.
#[derive(Debug, Deserialize)]
pub struct ProviderSection {
    /// `openai`, `anthropic`, `gemini` or `mock`; default: the ID, when the ID
    /// is one of those.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub timeout_seconds: Option<f64>,
    pub api_version: Option<String>,
    /// The provider serves the OpenAI Responses API itself (openai type
    /// only): `/v1/responses` calls are relayed to its `/responses`.
    #[serde(default)]
    pub responses: bool,
}

/// `[metrics]`.
#[derive(Debug, Deserialize)]
pub struct MetricsSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_metrics_endpoint")]
    pub endpoint: String,
    #[serde(default)]
    pub include_api_key_hash: bool,
    /// Per-deployment secret the published key hashes are keyed with;
    /// required with `include_api_key_hash`.
    pub key_hash_salt: Option<String>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            endpoint: default_metrics_endpoint(),
            include_api_key_hash: false,
            key_hash_salt: None,
        }
    }
}

fn default_metrics_endpoint() -> String {
    "/metrics".to_owned()
}

/// `[responses]`: the store behind `POST /v1/responses` with `store: true`
/// (`previous_response_id`, `GET /v1/responses/{id}`), per replica.
#[derive(Debug, Deserialize)]
pub struct ResponsesSection {
    /// Most responses kept.
    #[serde(default = "default_responses_entries")]
    pub store_max_entries: i64,
    /// Most bytes kept (responses and their conversations).
    #[serde(default = "default_responses_bytes")]
    pub store_max_bytes: i64,
    /// How long a response is kept.
    #[serde(default = "default_responses_ttl")]
    pub store_ttl_seconds: f64,
}

impl Default for ResponsesSection {
    fn default() -> Self {
        Self {
            store_max_entries: default_responses_entries(),
            store_max_bytes: default_responses_bytes(),
            store_ttl_seconds: default_responses_ttl(),
        }
    }
}

fn default_responses_entries() -> i64 {
    10_000
}
fn default_responses_bytes() -> i64 {
    256 * 1024 * 1024
}
fn default_responses_ttl() -> f64 {
    86_400.0
}
