//! `[responses]`: the bounds of the store behind the Responses API.

use super::{file, ConfigErrors};
use std::time::Duration;

/// The Responses store's bounds (per replica).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResponsesSettings {
    /// Most responses kept; the oldest go first.
    pub max_entries: usize,
    /// Most bytes kept (responses and their conversations).
    pub max_bytes: usize,
    /// How long a response is kept.
    pub ttl: Duration,
}

impl Default for ResponsesSettings {
    fn default() -> Self {
        Self::from_section(file::ResponsesSection::default())
    }
}

impl ResponsesSettings {
    fn from_section(s: file::ResponsesSection) -> Self {
        Self {
            max_entries: s.store_max_entries.max(0) as usize,
            max_bytes: s.store_max_bytes.max(0) as usize,
            ttl: Duration::from_secs_f64(s.store_ttl_seconds.clamp(0.0, 1e9)),
        }
    }
}

/// Checks `[responses]`: counts and bytes 0 (keep nothing) or more, the
/// TTL within 1 s to 30 days.
pub fn validate(s: file::ResponsesSection, errs: &mut ConfigErrors) -> ResponsesSettings {
    let mut ok = true;
    if !(0..=10_000_000).contains(&s.store_max_entries) {
        errs.push(
            "responses.store_max_entries",
            "is out of range (0-10000000)",
        );
        ok = false;
    }
    if !(0..=1 << 40).contains(&s.store_max_bytes) {
        errs.push("responses.store_max_bytes", "is out of range (0-1 TiB)");
        ok = false;
    }
    if !(s.store_ttl_seconds.is_finite() && (1.0..=2_592_000.0).contains(&s.store_ttl_seconds)) {
        errs.push("responses.store_ttl_seconds", "is out of range (1-2592000)");
        ok = false;
    }
    if ok {
        ResponsesSettings::from_section(s)
    } else {
        ResponsesSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_generous_and_bad_values_are_named() {
        let d = ResponsesSettings::default();
        assert_eq!(d.max_entries, 10_000);
        assert_eq!(d.ttl, Duration::from_secs(86_400));
        let mut errs = ConfigErrors::default();
        validate(
            file::ResponsesSection {
                store_max_entries: -1,
                store_max_bytes: 10,
                store_ttl_seconds: f64::NAN,
            },
            &mut errs,
        );
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["responses.store_max_entries", "responses.store_ttl_seconds"]
        );
    }

    #[test]
    fn responses_and_store_bounds_are_read_and_responses_is_openai_only() {
        let file = |kind: &str| {
            format!(
                "[responses]\nstore_max_entries = 5\nstore_ttl_seconds = 60\n\
                 [providers.p]\ntype = \"{kind}\"\nbase_url = \"http://h\"\nresponses = true\n"
            )
        };
        let s = crate::config::load::load_str(&file("openai"), "t").unwrap();
        assert!(s.providers["p"].responses);
        assert_eq!(s.responses.max_entries, 5);
        assert_eq!(s.responses.ttl, Duration::from_secs(60));
        let err = crate::config::load::load_str(&file("anthropic"), "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("providers.p.responses"), "{err}");
    }
}
