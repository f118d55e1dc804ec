//! Configuration: the file format ([`file`]), loading with env overrides
//! ([`load`]), and the validated, immutable [`Snapshot`] the request path
//! reads.
//!
//! A snapshot is built only from a file that validated completely; every
//! problem is reported at once, each naming its field ([`ConfigErrors`]).

pub mod file;
pub mod limits;
pub mod load;
pub mod reload;

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use limits::{LimitsSettings, OnStoreError, RedisSettings, Store};
pub use load::{load_file, LoadError};

/// The built-in demo config (`config/demo.toml`), used when no config file is
/// given and none is found.
pub const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");

/// A secret string that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret value, for the one place that sends it upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SHA-256 of a gateway key: keys are looked up by digest, so the map holds
/// no key and a lookup's timing says nothing about how much of a key matched.
pub type KeyDigest = [u8; 32];

/// Digest of a presented or configured key.
pub fn key_digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
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
    pub shutdown_timeout: Duration,
    /// Digest of the key that may call `POST /admin/reload`; none: off.
    pub admin_key: Option<KeyDigest>,
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub endpoint: String,
    pub include_api_key_hash: bool,
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
}

/// One deployment of a model: a provider and its name for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub provider: Arc<ProviderSettings>,
    /// The provider's name for the model.
    pub api_model: Arc<str>,
    /// Share of requests among the model's healthy targets.
    pub weight: u32,
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
    keys: HashMap<KeyDigest, KeyEntry>,
    /// Sorted by name, so listings are stable. Shared, so that a request
    /// holds its route without copying it.
    pub models: BTreeMap<String, Arc<ModelRoute>>,
    pub providers: BTreeMap<String, Arc<ProviderSettings>>,
}

impl Snapshot {
    /// The key entry for a presented key, if configured (enabled or not).
    pub fn key(&self, presented: &str) -> Option<&KeyEntry> {
        self.keys.get(&key_digest(presented))
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

    /// Every key's name with the first 12 hex digits of its SHA-256, sorted
    /// by name (for `llm_api_key_info`).
    pub fn key_hashes(&self) -> Vec<(Arc<str>, String)> {
        let mut out: Vec<_> = self
            .keys
            .iter()
            .map(|(digest, e)| {
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                (e.name.clone(), hex)
            })
            .collect();
        out.sort();
        out
    }

    /// The route of a model name.
    pub fn model(&self, name: &str) -> Option<&Arc<ModelRoute>> {
        self.models.get(name)
    }

    /// Builds a snapshot from the parsed file, or every problem found.
    pub fn from_file(f: file::FileConfig) -> Result<Self, ConfigErrors> {
        let mut errs = ConfigErrors::default();
        let server = validate_server(f.server, &mut errs);
        let metrics = validate_metrics(f.metrics, &mut errs);
        let keys = validate_keys(f.api_keys, &mut errs);
        let routing = validate_routing(f.routing, &mut errs);
        let limits = limits::validate_limits(f.limits, &mut errs);
        let providers = validate_providers(f.providers, &routing, &mut errs);
        let models = validate_models(f.models, &providers, &routing, &mut errs);
        if !errs.0.is_empty() {
            return Err(errs);
        }
        Ok(Snapshot {
            generation: 1,
            server,
            metrics,
            routing,
            limits,
            keys,
            models,
            providers,
        })
    }
}

/// One problem in a config file: the field and what is wrong with it.
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

fn validate_server(s: file::ServerSection, errs: &mut ConfigErrors) -> ServerSettings {
    let port = match u16::try_from(s.port) {
        Ok(p) if p > 0 => p,
        _ => {
            errs.push(
                "server.port",
                format!("{} is out of range (1-65535)", s.port),
            );
            0
        }
    };
    let log_format = match s.log_format.as_str() {
        "json" => LogFormat::Json,
        "pretty" => LogFormat::Pretty,
        other => {
            errs.push(
                "server.log_format",
                format!("`{other}` is not one of json, pretty"),
            );
            LogFormat::Json
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&s.log_level).is_err() {
        errs.push(
            "server.log_level",
            format!(
                "`{}` is not a log level or filter (e.g. info, debug)",
                s.log_level
            ),
        );
    }
    let workers = match s.workers {
        None => None,
        Some(w) if (1..=1024).contains(&w) => Some(w as usize),
        Some(w) => {
            errs.push("server.workers", format!("{w} is out of range (1-1024)"));
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
    let shutdown_timeout = match s.shutdown_timeout_seconds {
        t if t.is_finite() && (0.0..=3600.0).contains(&t) => Duration::from_secs_f64(t),
        t => {
            errs.push(
                "server.shutdown_timeout_seconds",
                format!("{t} is out of range (0-3600)"),
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
        shutdown_timeout,
        admin_key,
    }
}

fn validate_metrics(m: file::MetricsSection, errs: &mut ConfigErrors) -> MetricsSettings {
    if !m.endpoint.starts_with('/') || m.endpoint.len() < 2 {
        errs.push(
            "metrics.endpoint",
            format!("`{}` must be a path starting with /", m.endpoint),
        );
    }
    MetricsSettings {
        enabled: m.enabled,
        endpoint: m.endpoint,
        include_api_key_hash: m.include_api_key_hash,
    }
}

fn validate_keys(
    keys: Vec<file::ApiKeySection>,
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
                format!("`{}` is already used by api_keys[{first}]", k.name),
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
                        format!("`{t}` is not one of openai, anthropic, gemini, mock"),
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
            Some(t) => {
                errs.push(
                    format!("{field}.timeout_seconds"),
                    format!("{t} must be greater than 0 and at most 86400"),
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
        let api_key = p.api_key.filter(|k| !k.is_empty()).map(Secret);
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
            }),
        );
    }
    out
}

/// A base URL must be absolute http(s) with a host; the trailing slash goes.
fn check_base_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` must start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) || rest.contains(['?', '#']) {
        return Err(format!(
            "`{url}` is not a valid URL (expected e.g. https://api.openai.com/v1)"
        ));
    }
    if url.parse::<awc::http::Uri>().is_err() {
        return Err(format!("`{url}` is not a valid URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A positive number of seconds, or the problem with it.
fn seconds(v: f64, field: &str, errs: &mut ConfigErrors) -> Duration {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Duration::from_secs_f64(v)
    } else {
        errs.push(
            field,
            format!("{v} must be greater than 0 and at most 86400"),
        );
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
            format!("{v} is out of range ({}-{})", range.start(), range.end()),
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
    }
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
                errs.push(
                    tfield,
                    format!("`{}` is not a configured provider", t.provider),
                );
                continue;
            };
            let weight = match t.weight {
                None => 1,
                Some(w) => count(w, 1..=10_000, &format!("{field}.targets[{i}].weight"), errs),
            };
            targets.push(Target {
                provider: provider.clone(),
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
                    format!("`{f}` is not a configured model"),
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
            Some(n) => {
                errs.push(
                    format!("{field}.default_max_tokens"),
                    format!("{n} must be positive"),
                );
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
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("sk-live".into())), "Secret(***)");
    }
}
