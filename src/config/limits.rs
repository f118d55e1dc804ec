//! Validation of what governs keys beyond their rate limits: `[limits]`
//! (where counters live), budgets (`budget_usd`, `budget_period`) and
//! `[models.X.pricing]`.

use super::{file, ConfigErrors};
use crate::governance::{
    Budget, Cost, LimitsSettings, OnStoreError, Period, Pricing, RedisSettings, Store,
};
use crate::secret::Secret;
use std::time::Duration;

/// `[limits]`, or the problems with it.
pub fn validate_limits(l: file::LimitsSection, errs: &mut ConfigErrors) -> LimitsSettings {
    let on_store_error = match l.on_store_error.as_str() {
        "allow" => OnStoreError::Allow,
        "deny" => OnStoreError::Deny,
        _ => {
            errs.push("limits.on_store_error", "is not one of allow, deny");
            OnStoreError::Allow
        }
    };
    let store_timeout = match l.store_timeout_ms {
        n @ 1..=10_000 => Duration::from_millis(n as u64),
        _ => {
            errs.push("limits.store_timeout_ms", "is out of range (1-10000)");
            Duration::from_millis(50)
        }
    };
    let lease = match l.lease_seconds {
        s if s.is_finite() && (1.0..=3600.0).contains(&s) => Duration::from_secs_f64(s),
        _ => {
            errs.push("limits.lease_seconds", "is out of range (1-3600)");
            Duration::from_secs(30)
        }
    };
    let store = match (l.store.as_str(), l.redis_url) {
        ("local", _) => Store::Local,
        ("redis", Some(url)) => match check_redis_url(&url) {
            Ok(()) => Store::Redis(RedisSettings {
                url,
                password: l.redis_password.filter(|p| !p.is_empty()).map(Secret::new),
                lease,
            }),
            Err(problem) => {
                errs.push("limits.redis_url", problem);
                Store::Local
            }
        },
        ("redis", None) => {
            errs.push(
                "limits.redis_url",
                "is required with store = \"redis\" (e.g. redis://redis:6379/0)",
            );
            Store::Local
        }
        _ => {
            errs.push("limits.store", "is not one of local, redis");
            Store::Local
        }
    };
    LimitsSettings {
        store,
        on_store_error,
        store_timeout,
    }
}

/// A Redis URL the client accepts; the problem never quotes the URL (it
/// may hold a password).
fn check_redis_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("must start with redis:// or rediss://".to_owned());
    }
    redis::IntoConnectionInfo::into_connection_info(url)
        .map(|_| ())
        .map_err(|_| "is not a valid Redis URL (e.g. redis://redis:6379/0)".to_owned())
}

/// The largest accepted price, USD per million tokens.
const MAX_PRICE: f64 = 100_000.0;
/// The largest accepted budget, USD per period (exact in nano-dollars).
const MAX_BUDGET: f64 = 1_000_000.0;

/// A model's `pricing`, or the problems with it. Cache prices default to
/// the input price.
pub fn validate_pricing(
    p: Option<file::PricingSection>,
    field: &str,
    errs: &mut ConfigErrors,
) -> Option<Pricing> {
    let p = p?;
    let mut price = |v: Option<f64>, name: &str| match v {
        None => None,
        Some(v) if v.is_finite() && (0.0..=MAX_PRICE).contains(&v) => Some(v),
        Some(_) => {
            errs.push(
                format!("{field}.pricing.{name}"),
                format!("must be a price in USD per million tokens, 0-{MAX_PRICE}"),
            );
            None
        }
    };
    let input = price(p.input_per_mtok, "input_per_mtok").unwrap_or(0.0);
    let output = price(p.output_per_mtok, "output_per_mtok").unwrap_or(0.0);
    let cache_read = price(p.cache_read_per_mtok, "cache_read_per_mtok").unwrap_or(input);
    let cache_write = price(p.cache_write_per_mtok, "cache_write_per_mtok").unwrap_or(input);
    Some(Pricing {
        input,
        output,
        cache_read,
        cache_write,
    })
}

/// A key's budget, or the problems with it; the period defaults to a
/// month.
pub fn validate_budget(
    usd: Option<f64>,
    period: Option<String>,
    field: &str,
    errs: &mut ConfigErrors,
) -> Option<Budget> {
    let Some(usd) = usd else {
        if period.is_some() {
            errs.push(format!("{field}.budget_period"), "needs budget_usd");
        }
        return None;
    };
    let period = match period.as_deref().map(|p| (p, Period::parse(p))) {
        None => Period::Month,
        Some((_, Some(p))) => p,
        Some((_, None)) => {
            errs.push(
                format!("{field}.budget_period"),
                "is not one of day, week, month",
            );
            return None;
        }
    };
    if usd.is_finite() && usd > 0.0 && usd <= MAX_BUDGET {
        Some(Budget {
            limit: Cost::from_usd(usd),
            period,
        })
    } else {
        errs.push(
            format!("{field}.budget_usd"),
            format!("must be greater than 0 and at most {MAX_BUDGET}"),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_str;

    fn problems(toml_text: &str) -> String {
        load_str(toml_text, "t").unwrap_err().to_string()
    }

    #[test]
    fn each_bad_field_is_named() {
        let text = problems(
            r#"
            [limits]
            store = "redis"
            redis_url = "http://user:hunter2@redis:6379"
            on_store_error = "maybe"
            store_timeout_ms = 0
            [[api_keys]]
            key = "k"
            name = "n"
            budget_usd = -5
            budget_period = "fortnight"
            [[api_keys]]
            key = "k2"
            name = "n2"
            budget_usd = 5
            [providers.mock]
            [models.m]
            provider = "mock"
            pricing = { input_per_mtok = -1, output_per_mtok = 2, cache_read_per_mtok = inf }
            "#,
        );
        for want in [
            "limits.on_store_error: is not one of allow, deny",
            "limits.store_timeout_ms: is out of range",
            "limits.redis_url: must start with redis:// or rediss://",
            "api_keys[0].budget_period: is not one of day, week, month",
            "models.\"m\".pricing.input_per_mtok: must be a price",
            "models.\"m\".pricing.cache_read_per_mtok: must be a price",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(
            !text.contains("hunter2") && !text.contains("fortnight"),
            "{text}"
        );
        assert!(!text.contains("api_keys[1]"), "{text}");
    }

    #[test]
    fn a_redis_store_needs_a_url_and_a_budget_needs_a_positive_amount() {
        let text = problems(
            "[limits]\nstore = \"redis\"\n[[api_keys]]\nkey = \"k\"\nname = \"n\"\nbudget_usd = 0\n",
        );
        assert!(text.contains("limits.redis_url: is required"), "{text}");
        assert!(
            text.contains("api_keys[0].budget_usd: must be greater than 0"),
            "{text}"
        );
        let text = problems("[limits]\nstore = \"memcached\"\n");
        assert!(
            text.contains("limits.store: is not one of local, redis"),
            "{text}"
        );
    }

    #[test]
    fn cache_prices_default_to_the_input_price() {
        let s = load_str(
            "[providers.mock]\n[models.m]\nprovider = \"mock\"\n[models.m.pricing]\ninput_per_mtok = 2.5\noutput_per_mtok = 10\n",
            "t",
        )
        .unwrap();
        let p = s.models["m"].pricing.unwrap();
        assert_eq!(
            (p.input, p.output, p.cache_read, p.cache_write),
            (2.5, 10.0, 2.5, 2.5)
        );
    }
}
