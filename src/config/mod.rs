//! Configuration: the file format ([`file`]), loading with env overrides
//! ([`load`]), and the validated, immutable [`Snapshot`] the request path
//! reads.
//!
//! A snapshot is built only from a file that validated completely; every
//! problem is reported at once, each naming its field ([`ConfigErrors`]).

pub mod file;
pub mod limits;
pub mod load;
pub mod responses;

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::governance::LimitsSettings;
use crate::secret::Secret;
pub use load::{load_file, LoadError};

/// The built-in demo config (`config/demo.toml`), used when no config file is
/// given and none is found.
pub const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");

/// SHA-256 of a gateway key: keys are looked up by digest, so the map holds
/// no key and a lookup's timing says nothing about how much of a key matched.
pub type KeyDigest = [u8; 32];

/// Digest of a presented or configured key.
pub fn key_digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
}

/// Shortest `[metrics] key_hash_salt` accepted.
const MIN_KEY_HASH_SALT: usize = 16;

/// A key's `key_hash` label: the first 12 hex digits of HMAC-SHA256(salt,
/// key). Keyed with a per-deployment secret, it lets whoever holds the salt
/// match a key to its name, and tells a `/metrics` reader nothing.
pub fn key_label_hash(salt: &Secret, key: &str) -> String {
    let salt = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt.expose().as_bytes());
    let tag = ring::hmac::sign(&salt, key.as_bytes());
    tag.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The provider protocol families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// OpenAI and every OpenAI-compatible server: bodies pass through.
    OpenAi,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
    /// Answers in-process, without network: demo and load tests.
    Mock,
}

impl ProviderKind {
    /// Parses a `type` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "openai" => Some(Self::OpenAi),
            "anthropic" => Some(Self::Anthropic),
            "gemini" => Some(Self::Gemini),
            "mock" => Some(Self::Mock),
            _ => None,
        }
    }

    /// The `type` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Mock => "mock",
        }
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com/v1"),
            Self::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            Self::Mock => None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// `[server]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub log_level: String,
    pub log_format: LogFormat,
    pub workers: Option<usize>,
    pub max_body_bytes: usize,
    /// Largest request head the gateway serves; larger ones get a 431 in
    /// the caller's format.
    pub max_header_bytes: usize,
    /// The longest a request body may take to arrive (408 after).
    pub body_read_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// Digest of the key that may call `POST /admin/reload`; none: off.
    pub admin_key: Option<KeyDigest>,
    /// Whether a live reload to this config may remove every gateway key or
    /// every model ([`reload`](crate::state::reload)).
    pub allow_empty_reload: bool,
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub endpoint: String,
    pub include_api_key_hash: bool,
    /// Keys the published hashes; set exactly when they are published.
    pub key_hash_salt: Option<Secret>,
}

/// One gateway key, as the request path sees it (the key itself is gone).
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// Who the caller is, for logs and metrics.
    pub name: Arc<str>,
    pub enabled: bool,
    /// Its limits and live counters (kept across reloads that do not change
    /// the limits).
    pub state: Arc<crate::governance::KeyState>,
    /// Its `key_hash` label, when key hashes are published.
    pub label_hash: Option<String>,
}

/// One provider's settings. Provider actors compare these to notice changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    pub id: Arc<str>,
    pub kind: ProviderKind,
    pub enabled: bool,
    pub api_key: Option<Secret>,
    /// Without trailing slash.
    pub base_url: String,
    pub timeout: Duration,
    /// TCP connect timeout (from `[routing]`, kept here so that a change
    /// rebuilds the provider's client).
    pub connect_timeout: Duration,
    /// `anthropic-version` header value.
    pub api_version: String,
    /// Serves the OpenAI Responses API natively (`responses = true`).
    pub responses: bool,
}

/// One deployment of a model: a provider and its name for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub provider: Arc<ProviderSettings>,
    /// The provider's name for the model.
    pub api_model: Arc<str>,
    /// Share of requests among the model's healthy targets.
    pub weight: u32,
    /// The provider gets the name the caller asked for (a pattern's target
    /// without `api_model`); `api_model` is then the pattern.
    pub api_model_from_caller: bool,
}

/// Where a model name routes.
#[derive(Debug, Clone)]
pub struct ModelRoute {
    /// The gateway-side name callers use.
    pub name: Arc<str>,
    /// At least one; tried by weight, failing over on retryable errors.
    pub targets: Vec<Target>,
    /// Other configured models, tried in order when every target failed.
    pub fallbacks: Vec<Arc<str>>,
    /// Retries after the first attempt, across the targets.
    pub max_retries: u32,
    /// Output token limit for providers that require one (Anthropic).
    pub default_max_tokens: u64,
    /// What a call costs; none: nothing.
    pub pricing: Option<crate::governance::Pricing>,
    /// Spreads requests over the targets by weight.
    pub(crate) picks: Arc<std::sync::atomic::AtomicU64>,
}

impl ModelRoute {
    /// Whether the name is a pattern ([`is_pattern`]).
    pub fn is_pattern(&self) -> bool {
        is_pattern(&self.name)
    }

    /// Whether any target's provider is enabled.
    pub fn enabled(&self) -> bool {
        self.targets.iter().any(|t| t.provider.enabled)
    }

    /// The provider that owns the model in listings: the first target's.
    pub fn owner(&self) -> &Arc<str> {
        &self.targets[0].provider.id
    }

    /// A ticket for weighted target selection (increments per call).
    pub fn next_pick(&self) -> u64 {
        self.picks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// `[routing]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingSettings {
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    /// The overall deadline of a call (attempts, backoff, fallbacks) until
    /// an answer or a stream's first event; each attempt has its own limit
    /// within it.
    pub request_timeout: Duration,
    /// The longest upstream `Retry-After` the gateway waits out itself
    /// before retrying the same target; a longer one moves on.
    pub max_retry_wait: Duration,
    /// The longest a streaming caller may read nothing.
    pub client_stall_timeout: Duration,
    /// Bounds on one upstream stream's lines and events.
    pub sse_limits: crate::protocol::sse::SseLimits,
}

/// One validated configuration, immutable once built.
#[derive(Debug)]
pub struct Snapshot {
    /// Counts published snapshots: 1 for the config the process started
    /// with, +1 per successful reload.
    pub generation: u64,
    pub server: ServerSettings,
    pub metrics: MetricsSettings,
    pub routing: RoutingSettings,
    /// Where per-key counters live.
    pub limits: LimitsSettings,
    /// The Responses store's bounds.
    pub responses: responses::ResponsesSettings,
    keys: HashMap<KeyDigest, KeyEntry>,
    /// Sorted by name, so listings are stable. Shared, so that a request
    /// holds its route without copying it.
    pub models: BTreeMap<String, Arc<ModelRoute>>,
    pub providers: BTreeMap<String, Arc<ProviderSettings>>,
    /// The models whose name is a pattern, longest pattern first (ties in
    /// name order): the order [`Snapshot::route`] tries them in.
    patterns: Vec<Arc<ModelRoute>>,
}

/// Whether a model name is a pattern: it has a `*` (any run of characters)
/// or a `?` (one character).
pub fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?'])
}

/// Longest model name (in characters) matched against patterns; a longer
/// name routes only by its exact entry.
pub const MAX_PATTERN_MATCHED: usize = 256;

impl Snapshot {
    /// The key entry for a presented key, if configured (enabled or not).
    pub fn key(&self, presented: &str) -> Option<&KeyEntry> {
        self.keys.get(&key_digest(presented))
    }

    /// How many gateway keys are configured (enabled or not).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Keeps the live counters of keys whose limits did not change since
    /// `previous` (a reload must not reset them).
    pub fn adopt_counters(&mut self, previous: &Snapshot) {
        for (digest, entry) in &mut self.keys {
            if let Some(old) = previous.keys.get(digest) {
                if old.state.policy() == entry.state.policy() {
                    entry.state = old.state.clone();
                } else {
                    entry.state.adopt_spend(&old.state);
                }
            }
        }
    }

    /// Every key's name with its salted hash ([`key_label_hash`]), sorted
    /// by name (for `llm_api_key_info`); empty unless hashes are published.
    pub fn key_hashes(&self) -> Vec<(Arc<str>, String)> {
        let mut out: Vec<_> = self
            .keys
            .values()
            .filter_map(|e| Some((e.name.clone(), e.label_hash.clone()?)))
            .collect();
        out.sort();
        out
    }

    /// The configured model of exactly this name (a pattern's by its
    /// pattern).
    pub fn model(&self, name: &str) -> Option<&Arc<ModelRoute>> {
        self.models.get(name)
    }

    /// Where a name a caller asked for routes: its exact entry, else the
    /// longest pattern that matches the whole name.
    pub fn route(&self, asked: &str) -> Option<&Arc<ModelRoute>> {
        if let Some(exact) = self.models.get(asked) {
            return Some(exact);
        }
        if self.patterns.is_empty() || asked.chars().count() > MAX_PATTERN_MATCHED {
            return None;
        }
        self.patterns
            .iter()
            .find(|p| crate::governance::glob_match(&p.name, asked))
    }

    /// Builds a snapshot from the parsed file, or every problem found.
    pub fn from_file(f: file::FileConfig) -> Result<Self, ConfigErrors> {
        let mut errs = ConfigErrors::default();
        let server = validate_server(f.server, &mut errs);
        let metrics = validate_metrics(f.metrics, &mut errs);
        let keys = validate_keys(f.api_keys, metrics.key_hash_salt.as_ref(), &mut errs);
        let routing = validate_routing(f.routing, &mut errs);
        let limits = limits::validate_limits(f.limits, &mut errs);
        let responses = responses::validate(f.responses, &mut errs);
        let providers = validate_providers(f.providers, &routing, &mut errs);
        let models = validate_models(f.models, &providers, &routing, &mut errs);
        if !errs.0.is_empty() {
            return Err(errs);
        }
        let mut patterns: Vec<Arc<ModelRoute>> = models
            .values()
            .filter(|m| m.is_pattern())
            .cloned()
            .collect();
        patterns.sort_by_key(|m| std::cmp::Reverse(m.name.chars().count()));
        Ok(Snapshot {
            patterns,
            generation: 1,
            server,
            metrics,
            routing,
            limits,
            responses,
            keys,
            models,
            providers,
        })
    }
}

/// One problem in a config file: the field and what is wrong with it (never
/// the value, which may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path, e.g. `providers.openai.base_url`.
    pub field: String,
    pub problem: String,
}

/// Every problem found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Records a problem.
    pub fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(ConfigError {
            field: field.into(),
            problem: problem.into(),
        });
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {}", e.field, e.problem)?;
        }
        Ok(())
    }
}

/// actix-http's own limit on a request head (its read buffer): a larger
/// head is refused before routing, with a bare 431.
pub const MAX_HEAD_BYTES: usize = 128 * 1024;

fn validate_server(s: file::ServerSection, errs: &mut ConfigErrors) -> ServerSettings {
    let port = match u16::try_from(s.port) {
        Ok(p) if p > 0 => p,
        _ => {
            errs.push("server.port", "is out of range (1-65535)");
            0
        }
    };
    let log_format = match s.log_format.as_str() {
        "json" => LogFormat::Json,
        "pretty" => LogFormat::Pretty,
        _ => {
            errs.push("server.log_format", "must be one of json, pretty");
            LogFormat::Json
        }
    };
    if let Err(problem) = check_log_level(&s.log_level) {
        errs.push("server.log_level", problem);
    }
    let workers = match s.workers {
        None => None,
        Some(w) if (1..=1024).contains(&w) => Some(w as usize),
        Some(_) => {
            errs.push("server.workers", "is out of range (1-1024)");
            None
        }
    };
    let max_body_bytes = match usize::try_from(s.max_body_bytes) {
        Ok(n) if n > 0 => n,
        _ => {
            errs.push(
                "server.max_body_bytes",
                "must be a positive number of bytes",
            );
            0
        }
    };
    let max_header_bytes = match usize::try_from(s.max_header_bytes) {
        Ok(n) if (1024..=MAX_HEAD_BYTES).contains(&n) => n,
        _ => {
            errs.push(
                "server.max_header_bytes",
                format!(
                    "is out of range (1024-{MAX_HEAD_BYTES}: actix refuses larger heads itself)"
                ),
            );
            0
        }
    };
    let body_read_timeout = seconds(
        s.body_read_timeout_seconds,
        "server.body_read_timeout_seconds",
        errs,
    );
    let shutdown_timeout = match s.shutdown_timeout_seconds {
        t if t.is_finite() && (0.0..=3600.0).contains(&t) => Duration::from_secs_f64(t),
        _ => {
            errs.push(
                "server.shutdown_timeout_seconds",
                "is out of range (0-3600)",
            );
            Duration::ZERO
        }
    };
    if s.host.trim().is_empty() {
        errs.push("server.host", "must not be empty");
    }
    let admin_key = match s.admin_key.as_deref() {
        Some(k) if k.trim().is_empty() => {
            errs.push(
                "server.admin_key",
                "must not be empty (leave it out to turn /admin/reload off)",
            );
            None
        }
        Some(k) => Some(key_digest(k)),
        None => None,
    };
    ServerSettings {
        host: s.host,
        port,
        log_level: s.log_level,
        log_format,
        workers,
        max_body_bytes,
        max_header_bytes,
        body_read_timeout,
        shutdown_timeout,
        admin_key,
        allow_empty_reload: s.allow_empty_reload,
    }
}

/// A `log_level` must be a tracing filter whose bare words are levels:
/// EnvFilter reads a bare `infoo` as a target name, which silences every
/// other line (the access log included). Targets take a level:
/// `info,llm_gateway=debug`.
fn check_log_level(filter: &str) -> Result<(), String> {
    const LEVELS: &str = "trace, debug, info, warn, error or off";
    if filter.trim().is_empty() {
        return Err(format!("must not be empty (one of {LEVELS})"));
    }
    let bare_word = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains(['=', '[']))
        .find(|d| {
            d.parse::<tracing_subscriber::filter::LevelFilter>()
                .is_err()
        });
    if let Some(word) = bare_word {
        return Err(format!(
            "`{word}` is not a log level ({LEVELS}); a target takes a level, e.g. `{word}=debug`"
        ));
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| format!("is not a log filter ({e}); e.g. info, or info,llm_gateway=debug"))
}

fn validate_metrics(m: file::MetricsSection, errs: &mut ConfigErrors) -> MetricsSettings {
    if !m.endpoint.starts_with('/') || m.endpoint.len() < 2 {
        errs.push("metrics.endpoint", "must be a path starting with /");
    }
    let key_hash_salt = match m.key_hash_salt {
        _ if !m.include_api_key_hash => None,
        Some(salt) if salt.chars().count() >= MIN_KEY_HASH_SALT => Some(Secret::new(salt)),
        _ => {
            errs.push(
                "metrics.key_hash_salt",
                "is required with include_api_key_hash = true: a per-deployment secret \
                 of at least 16 characters (better: LLM_GATEWAY__METRICS__KEY_HASH_SALT)",
            );
            None
        }
    };
    MetricsSettings {
        enabled: m.enabled,
        endpoint: m.endpoint,
        include_api_key_hash: m.include_api_key_hash,
        key_hash_salt,
    }
}

fn validate_keys(
    keys: Vec<file::ApiKeySection>,
    hash_salt: Option<&Secret>,
    errs: &mut ConfigErrors,
) -> HashMap<KeyDigest, KeyEntry> {
    let mut out = HashMap::with_capacity(keys.len());
    let mut names = HashMap::new();
    for (i, k) in keys.into_iter().enumerate() {
        let field = format!("api_keys[{i}]");
        if k.key.trim().is_empty() {
            errs.push(format!("{field}.key"), "must not be empty");
            continue;
        }
        if k.name.trim().is_empty() {
            errs.push(format!("{field}.name"), "must not be empty");
            continue;
        }
        if let Some(first) = names.insert(k.name.clone(), i) {
            errs.push(
                format!("{field}.name"),
                format!("is already used by api_keys[{first}]"),
            );
        }
        let limit = |v: Option<i64>, what: &str, errs: &mut ConfigErrors| {
            v.map(|n| count(n, 1..=100_000_000, &format!("{field}.{what}"), errs))
        };
        let policy = crate::governance::KeyPolicy {
            models: k.models,
            rpm: limit(k.rpm, "rpm", errs),
            tpm: limit(k.tpm, "tpm", errs),
            max_concurrent: limit(k.max_concurrent, "max_concurrent", errs),
            budget: limits::validate_budget(k.budget_usd, k.budget_period, &field, errs),
        };
        let entry = KeyEntry {
            name: k.name.into(),
            enabled: k.enabled,
            state: Arc::new(crate::governance::KeyState::new(policy)),
            label_hash: hash_salt.map(|salt| key_label_hash(salt, &k.key)),
        };
        if out.insert(key_digest(&k.key), entry).is_some() {
            // Never print the key itself.
            errs.push(
                format!("{field}.key"),
                "duplicates the key of an earlier entry",
            );
        }
    }
    out
}

fn validate_providers(
    providers: BTreeMap<String, file::ProviderSection>,
    routing: &RoutingSettings,
    errs: &mut ConfigErrors,
) -> BTreeMap<String, Arc<ProviderSettings>> {
    let mut out = BTreeMap::new();
    for (id, p) in providers {
        let field = format!("providers.{id}");
        let kind = match p.kind.as_deref() {
            Some(t) => match ProviderKind::parse(t) {
                Some(k) => k,
                None => {
                    errs.push(
                        format!("{field}.type"),
                        "must be one of openai, anthropic, gemini, mock",
                    );
                    continue;
                }
            },
            None => match ProviderKind::parse(&id) {
                Some(k) => k,
                None => {
                    errs.push(
                        format!("{field}.type"),
                        "is required when the provider ID is not one of openai, anthropic, gemini, mock",
                    );
                    continue;
                }
            },
        };
        let base_url = match p.base_url.as_deref().or(kind.default_base_url()) {
            Some(url) => match check_base_url(url) {
                Ok(u) => u,
                Err(problem) => {
                    errs.push(format!("{field}.base_url"), problem);
                    continue;
                }
            },
            None if kind == ProviderKind::Mock => String::new(),
            None => {
                errs.push(
                    format!("{field}.base_url"),
                    "is required for this provider type",
                );
                continue;
            }
        };
        let timeout = match p.timeout_seconds {
            None => Duration::from_secs(300),
            Some(t) if t.is_finite() && t > 0.0 && t <= 86_400.0 => Duration::from_secs_f64(t),
            Some(_) => {
                errs.push(
                    format!("{field}.timeout_seconds"),
                    "must be greater than 0 and at most 86400",
                );
                continue;
            }
        };
        if p.api_version.is_some() && kind != ProviderKind::Anthropic {
            errs.push(
                format!("{field}.api_version"),
                "only applies to anthropic providers",
            );
        }
        if p.responses && kind != ProviderKind::OpenAi {
            errs.push(
                format!("{field}.responses"),
                "only applies to openai providers",
            );
        }
        let api_key = p.api_key.filter(|k| !k.is_empty()).map(Secret::new);
        out.insert(
            id.clone(),
            Arc::new(ProviderSettings {
                id: id.into(),
                kind,
                enabled: p.enabled,
                api_key,
                base_url,
                timeout,
                connect_timeout: routing.connect_timeout,
                api_version: p.api_version.unwrap_or_else(|| "2023-06-01".to_owned()),
                responses: p.responses && kind == ProviderKind::OpenAi,
            }),
        );
    }
    out
}

/// A base URL must be absolute http(s) with a host, and no query (keys go
/// in `api_key`); the trailing slash goes. The problem never quotes the URL.
fn check_base_url(url: &str) -> Result<String, &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.contains(['?', '#']) {
        return Err("must have no query string or fragment (a provider key goes in api_key)");
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || host.contains(char::is_whitespace)
        || url.parse::<awc::http::Uri>().is_err()
    {
        return Err("is not a valid URL (expected e.g. https://api.openai.com/v1)");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A positive number of seconds, or the problem with it.
fn seconds(v: f64, field: &str, errs: &mut ConfigErrors) -> Duration {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Duration::from_secs_f64(v)
    } else {
        errs.push(field, "must be greater than 0 and at most 86400");
        Duration::from_secs(1)
    }
}

/// A count in `range`, or the problem with it.
fn count(
    v: i64,
    range: std::ops::RangeInclusive<i64>,
    field: &str,
    errs: &mut ConfigErrors,
) -> u32 {
    if range.contains(&v) {
        v as u32
    } else {
        errs.push(
            field,
            format!("is out of range ({}-{})", range.start(), range.end()),
        );
        0
    }
}

/// A number of bytes from 1 KiB to 1 GiB, or the problem with it.
fn byte_limit(v: i64, field: &str, errs: &mut ConfigErrors) -> usize {
    const RANGE: std::ops::RangeInclusive<i64> = 1024..=1024 * 1024 * 1024;
    if RANGE.contains(&v) {
        v as usize
    } else {
        errs.push(
            field,
            format!(
                "{v} is out of range ({}-{} bytes)",
                RANGE.start(),
                RANGE.end()
            ),
        );
        0
    }
}

fn validate_routing(r: file::RoutingSection, errs: &mut ConfigErrors) -> RoutingSettings {
    RoutingSettings {
        max_retries: count(r.max_retries, 0..=10, "routing.max_retries", errs),
        retry_backoff: Duration::from_millis(
            count(
                r.retry_backoff_ms,
                0..=60_000,
                "routing.retry_backoff_ms",
                errs,
            )
            .into(),
        ),
        connect_timeout: seconds(
            r.connect_timeout_seconds,
            "routing.connect_timeout_seconds",
            errs,
        ),
        first_byte_timeout: seconds(
            r.first_byte_timeout_seconds,
            "routing.first_byte_timeout_seconds",
            errs,
        ),
        stream_idle_timeout: seconds(
            r.stream_idle_timeout_seconds,
            "routing.stream_idle_timeout_seconds",
            errs,
        ),
        breaker_failures: count(
            r.breaker_failures,
            1..=1000,
            "routing.breaker_failures",
            errs,
        ),
        breaker_cooldown: seconds(
            r.breaker_cooldown_seconds,
            "routing.breaker_cooldown_seconds",
            errs,
        ),
        request_timeout: seconds(
            r.request_timeout_seconds,
            "routing.request_timeout_seconds",
            errs,
        ),
        max_retry_wait: seconds(
            r.max_retry_wait_seconds,
            "routing.max_retry_wait_seconds",
            errs,
        ),
        client_stall_timeout: seconds(
            r.client_stall_timeout_seconds,
            "routing.client_stall_timeout_seconds",
            errs,
        ),
        sse_limits: crate::protocol::sse::SseLimits {
            max_line: byte_limit(r.max_sse_line_bytes, "routing.max_sse_line_bytes", errs),
            max_event: byte_limit(r.max_sse_event_bytes, "routing.max_sse_event_bytes", errs),
        },
    }
}

/// A pattern uses `*` and `?` only (no `[`, `{` or `\\` syntax) and is at
/// most [`MAX_PATTERN_MATCHED`] characters.
fn check_pattern(name: &str) -> Result<(), String> {
    if name.chars().count() > MAX_PATTERN_MATCHED {
        return Err(format!(
            "is a pattern longer than {MAX_PATTERN_MATCHED} characters"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '[' | ']' | '{' | '}' | '\\'))
    {
        return Err(format!(
            "is a pattern with `{c}`: patterns use `*` (any run of characters) and `?` (one character) only"
        ));
    }
    if name.contains("**") {
        return Err("is a pattern with `**`: one `*` matches any run of characters".to_owned());
    }
    Ok(())
}

fn validate_models(
    models: BTreeMap<String, file::ModelSection>,
    providers: &BTreeMap<String, Arc<ProviderSettings>>,
    routing: &RoutingSettings,
    errs: &mut ConfigErrors,
) -> BTreeMap<String, Arc<ModelRoute>> {
    let names: std::collections::BTreeSet<String> = models.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (name, m) in models {
        let field = format!("models.\"{name}\"");
        if name.trim().is_empty() {
            errs.push("models", "a model name must not be empty");
            continue;
        }
        let pattern = is_pattern(&name);
        if pattern {
            if let Err(problem) = check_pattern(&name) {
                errs.push(field.clone(), problem);
                continue;
            }
        }
        let before = errs.0.len();
        let seed_form = m.provider.is_some();
        let sections = match (m.provider, m.targets) {
            (Some(provider), None) => vec![file::TargetSection {
                provider,
                api_model: m.api_model,
                weight: None,
            }],
            (None, Some(targets)) if !targets.is_empty() => {
                if m.api_model.is_some() {
                    errs.push(
                        format!("{field}.api_model"),
                        "goes inside each target when `targets` is used",
                    );
                }
                targets
            }
            (None, Some(_)) => {
                errs.push(format!("{field}.targets"), "must not be empty");
                continue;
            }
            (Some(_), Some(_)) => {
                errs.push(field.clone(), "has both `provider` and `targets`; use one");
                continue;
            }
            (None, None) => {
                errs.push(format!("{field}.provider"), "is required (or `targets`)");
                continue;
            }
        };
        let mut targets = Vec::with_capacity(sections.len());
        for (i, t) in sections.into_iter().enumerate() {
            let tfield = if seed_form {
                format!("{field}.provider")
            } else {
                format!("{field}.targets[{i}].provider")
            };
            let Some(provider) = providers.get(&t.provider) else {
                errs.push(tfield, "is not a configured provider");
                continue;
            };
            let weight = match t.weight {
                None => 1,
                Some(w) => count(w, 1..=10_000, &format!("{field}.targets[{i}].weight"), errs),
            };
            if t.api_model.as_deref().is_some_and(is_pattern) {
                errs.push(
                    if seed_form {
                        format!("{field}.api_model")
                    } else {
                        format!("{field}.targets[{i}].api_model")
                    },
                    "must be a model id, not a pattern (leave it out to send the name the caller asked for)",
                );
            }
            targets.push(Target {
                provider: provider.clone(),
                api_model_from_caller: pattern && t.api_model.is_none(),
                api_model: t.api_model.unwrap_or_else(|| name.clone()).into(),
                weight,
            });
        }
        for (i, f) in m.fallbacks.iter().enumerate() {
            if *f == name {
                errs.push(
                    format!("{field}.fallbacks[{i}]"),
                    "a model cannot fall back to itself",
                );
            } else if !names.contains(f) {
                errs.push(
                    format!("{field}.fallbacks[{i}]"),
                    "is not a configured model",
                );
            }
        }
        let max_retries = match m.max_retries {
            None => routing.max_retries,
            Some(n) => count(n, 0..=10, &format!("{field}.max_retries"), errs),
        };
        let default_max_tokens = match m.default_max_tokens {
            None => 4096,
            Some(n) if n > 0 => n as u64,
            Some(_) => {
                errs.push(format!("{field}.default_max_tokens"), "must be positive");
                4096
            }
        };
        let pricing = limits::validate_pricing(m.pricing, &field, errs);
        if errs.0.len() > before {
            continue;
        }
        out.insert(
            name.clone(),
            Arc::new(ModelRoute {
                name: name.into(),
                targets,
                fallbacks: m.fallbacks.into_iter().map(Into::into).collect(),
                max_retries,
                default_max_tokens,
                pricing,
                picks: Arc::default(),
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Snapshot, ConfigErrors> {
        let f: file::FileConfig = toml::from_str(toml_text).unwrap();
        Snapshot::from_file(f)
    }

    #[test]
    fn an_exact_name_beats_a_pattern_and_the_longest_pattern_wins() {
        let s = parse(
            r#"
            [models."claude-sonnet-4-5"]
            provider = "p"
            [models."claude-*"]
            provider = "p"
            api_model = "any-claude"
            [models."claude-sonnet-4-5*"]
            provider = "p"
            [models."claude-sonnet-4-?-2025*"]
            provider = "p"
            [providers.p]
            type = "mock"
            "#,
        )
        .unwrap();
        let route = |asked: &str| s.route(asked).map(|r| &*r.name);
        assert_eq!(route("claude-sonnet-4-5"), Some("claude-sonnet-4-5"));
        assert_eq!(
            route("claude-sonnet-4-5-20250929"),
            Some("claude-sonnet-4-?-2025*")
        );
        assert_eq!(
            route("claude-sonnet-4-5-20260101"),
            Some("claude-sonnet-4-5*")
        );
        assert_eq!(route("claude-haiku-4-5"), Some("claude-*"));
        // Anchored at both ends: no other names are caught.
        assert_eq!(route("my-claude-sonnet-4-5"), None);
        assert_eq!(route("gpt-4o"), None);
        assert_eq!(route(&format!("claude-{}", "x".repeat(300))), None);
        let dated = s.route("claude-sonnet-4-5-20260101").unwrap();
        assert!(dated.targets[0].api_model_from_caller);
        assert!(!s.route("claude-haiku-4-5").unwrap().targets[0].api_model_from_caller);
        assert!(!s.model("claude-sonnet-4-5").unwrap().targets[0].api_model_from_caller);
    }

    #[test]
    fn patterns_are_validated() {
        let errs = parse(
            r#"
            [models."claude-[0-9]*"]
            provider = "p"
            [models."claude-**"]
            provider = "p"
            [models."gpt-*"]
            provider = "p"
            api_model = "gpt-*"
            [providers.p]
            type = "mock"
            "#,
        )
        .unwrap_err();
        let got: Vec<_> = errs
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.problem.split(':').next().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            [
                ("models.\"claude-**\"", "is a pattern with `**`"),
                ("models.\"claude-[0-9]*\"", "is a pattern with `[`"),
                (
                    "models.\"gpt-*\".api_model",
                    "must be a model id, not a pattern (leave it out to send the name the caller asked for)"
                ),
            ]
        );
    }

    #[test]
    fn demo_config_is_valid() {
        let s = parse(DEMO_CONFIG).unwrap();
        assert!(s.model("demo").is_some());
        assert!(s.key("sk-gateway-demo").is_some());
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_field() {
        let errs = parse(
            r#"
            [server]
            port = 70000
            [[api_keys]]
            key = "k1"
            name = "a"
            [[api_keys]]
            key = "k1"
            name = "a"
            [models.m]
            provider = "nope"
            [providers.groq]
            base_url = "ftp://x"
            [providers.openai]
            timeout_seconds = 0
            "#,
        )
        .unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "server.port",
                "api_keys[1].name",
                "api_keys[1].key",
                "providers.groq.type",
                "providers.openai.timeout_seconds",
                "models.\"m\".provider",
            ]
        );
        assert!(!errs.to_string().contains("k1"), "a key leaked: {errs}");
    }

    #[test]
    fn provider_type_defaults_to_known_ids_and_base_urls() {
        let s = parse(
            r#"
            [providers.anthropic]
            [providers.groq]
            type = "openai"
            base_url = "https://api.groq.com/openai/v1/"
            "#,
        )
        .unwrap();
        assert_eq!(s.providers["anthropic"].kind, ProviderKind::Anthropic);
        assert_eq!(
            s.providers["anthropic"].base_url,
            "https://api.anthropic.com/v1"
        );
        assert_eq!(
            s.providers["groq"].base_url,
            "https://api.groq.com/openai/v1"
        );
    }

    #[test]
    fn log_levels_are_levels_or_filters_whose_bare_words_are_levels() {
        for good in [
            "info",
            "WARN",
            "debug",
            "off",
            "3",
            "info,llm_gateway=debug",
            "warn,actix_web=trace,",
        ] {
            assert_eq!(check_log_level(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("infoo", "`infoo` is not a log level"),
            ("warn,llm_gateway", "`llm_gateway` is not a log level"),
            ("llm_gateway=infoo", "is not a log filter"),
            ("", "must not be empty"),
            ("  ", "must not be empty"),
        ] {
            let problem = check_log_level(bad).unwrap_err();
            assert!(problem.contains(says), "{bad}: {problem}");
        }
    }

    #[test]
    fn max_header_bytes_stays_within_actix_own_limit() {
        let with = |n: i64| parse(&format!("[server]\nmax_header_bytes = {n}\n"));
        assert_eq!(with(1024).unwrap().server.max_header_bytes, 1024);
        assert_eq!(
            with(131_072).unwrap().server.max_header_bytes,
            MAX_HEAD_BYTES
        );
        for bad in [0, 1023, 131_073, -1] {
            let errs = with(bad).unwrap_err();
            assert_eq!(errs.0[0].field, "server.max_header_bytes", "{bad}");
        }
        assert_eq!(parse("").unwrap().server.max_header_bytes, 65_536);
    }

    #[test]
    fn hardening_bounds_have_defaults_and_are_range_checked() {
        let s = parse("").unwrap();
        assert_eq!(s.server.body_read_timeout, Duration::from_secs(60));
        assert_eq!(s.routing.client_stall_timeout, Duration::from_secs(60));
        assert_eq!(
            s.routing.sse_limits,
            crate::protocol::sse::SseLimits::default()
        );
        let errs = parse(
            r#"
            [server]
            body_read_timeout_seconds = -1
            [routing]
            client_stall_timeout_seconds = 0
            max_sse_line_bytes = 0
            max_sse_event_bytes = 2147483648
            "#,
        )
        .unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "server.body_read_timeout_seconds",
                "routing.client_stall_timeout_seconds",
                "routing.max_sse_line_bytes",
                "routing.max_sse_event_bytes"
            ]
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(
            format!("{:?}", Secret::new("sk-live".into())),
            "Secret(***)"
        );
    }
}
