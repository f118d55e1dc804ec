//! What a call cost, from the model's `[models.X.pricing]` (USD per million
//! tokens) and the provider's real usage.
//!
//! A cost is an integer number of nano-dollars (1e-9 USD), rounded to the
//! nearest once per call: the header, the metric and the log line show the
//! same number, and budgets add costs up exactly, across replicas too.

use crate::protocol::openai::Usage;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// An amount in USD, as an integer number of nano-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cost(u64);

impl Cost {
    pub const ZERO: Cost = Cost(0);

    /// `n` nano-dollars.
    pub fn from_nanos(n: u64) -> Self {
        Self(n)
    }

    /// The nearest nano-dollar to `usd` (negative and non-finite: zero).
    pub fn from_usd(usd: f64) -> Self {
        let nanos = (usd * 1e9).round();
        if nanos.is_finite() && nanos > 0.0 {
            Self(nanos as u64)
        } else {
            Self(0)
        }
    }

    /// Nano-dollars.
    pub fn nanos(self) -> u64 {
        self.0
    }

    /// USD, as the metric and the log line carry it.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self + other`, saturating.
    pub fn saturating_add(self, other: Cost) -> Cost {
        Cost(self.0.saturating_add(other.0))
    }

    /// `self - other`, zero at the least.
    pub fn saturating_sub(self, other: Cost) -> Cost {
        Cost(self.0.saturating_sub(other.0))
    }
}

/// Exact decimal USD, e.g. `0.00012345` or `5.0` (the header format).
impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frac = format!("{:09}", self.0 % 1_000_000_000);
        let frac = frac.trim_end_matches('0');
        let frac = if frac.is_empty() { "0" } else { frac };
        write!(f, "{}.{frac}", self.0 / 1_000_000_000)
    }
}

/// A model's prices in USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pricing {
    /// Input tokens that were neither read from nor written to a cache.
    pub input: f64,
    pub output: f64,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read: f64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write: f64,
}

impl Pricing {
    /// The cost of `usage`. Usage is in OpenAI's meaning: `prompt_tokens`
    /// includes cache reads (`cached_tokens`) and cache writes, which are
    /// priced at their own rates.
    pub fn cost(&self, usage: &Usage) -> Cost {
        let read = usage.cached_tokens();
        let write = usage
            .prompt_tokens_details
            .and_then(|d| d.cache_write_tokens)
            .unwrap_or(0);
        let plain = usage
            .prompt_tokens
            .saturating_sub(read)
            .saturating_sub(write);
        let usd = (plain as f64 * self.input
            + read as f64 * self.cache_read
            + write as f64 * self.cache_write
            + usage.completion_tokens as f64 * self.output)
            / 1e6;
        Cost::from_usd(usd)
    }
}

/// A call's cost for its access log line: known with a whole answer, or
/// when a stream has ended.
#[derive(Debug, Clone, Default)]
pub enum CostNote {
    /// The call was not answered (or did not reach a provider).
    #[default]
    None,
    Known(Cost),
    /// Set by the stream when it ends.
    Later(Arc<OnceLock<Cost>>),
}

impl CostNote {
    /// The cost, when known.
    pub fn get(&self) -> Option<Cost> {
        match self {
            Self::None => None,
            Self::Known(c) => Some(*c),
            Self::Later(cell) => cell.get().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::PromptTokensDetails;

    #[test]
    fn costs_print_as_exact_decimals() {
        assert_eq!(Cost::from_nanos(123_450).to_string(), "0.00012345");
        assert_eq!(Cost::from_nanos(5_000_000_000).to_string(), "5.0");
        assert_eq!(Cost::from_nanos(1).to_string(), "0.000000001");
        assert_eq!(Cost::ZERO.to_string(), "0.0");
        let c = Cost::from_nanos(987_654_321_123);
        assert_eq!(c.to_string().parse::<f64>().unwrap(), c.usd());
    }

    #[test]
    fn cache_reads_and_writes_are_priced_apart_from_plain_input() {
        let p = Pricing {
            input: 3.0,
            output: 15.0,
            cache_read: 0.3,
            cache_write: 3.75,
        };
        let u = Usage {
            prompt_tokens: 1000 + 200 + 100,
            completion_tokens: 50,
            total_tokens: 1350,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(200),
                cache_write_tokens: Some(100),
            }),
            completion_tokens_details: None,
        };
        // 1000 × 3 + 200 × 0.3 + 100 × 3.75 + 50 × 15 = 4185 µUSD.
        assert_eq!(p.cost(&u), Cost::from_nanos(4_185_000));
        assert_eq!(Pricing::default().cost(&u), Cost::ZERO);
    }

    #[test]
    fn a_cost_rounds_to_the_nearest_nano_dollar() {
        let priced = |input: f64| Pricing {
            input,
            ..Default::default()
        };
        let one = Usage {
            prompt_tokens: 1,
            ..Default::default()
        };
        // 0.0001 USD per Mtok: 0.1 nano-dollar per token → 0; 0.0006 → 1.
        assert_eq!(priced(0.0001).cost(&one), Cost::ZERO);
        assert_eq!(priced(0.0006).cost(&one), Cost::from_nanos(1));
        assert_eq!(Cost::from_usd(-1.0), Cost::ZERO);
        assert_eq!(Cost::from_usd(f64::NAN), Cost::ZERO);
    }
}
