//! Anthropic Messages, both directions (PROTOCOLS.md §2, §4.1–4.3, §5):
//!
//! * [`types`]: the wire types both directions share.
//! * [`provider`]: Anthropic as a provider: OpenAI chat requests → Messages
//!   bodies, and Anthropic answers, streams and error bodies → OpenAI shapes.
//! * [`caller`]: Anthropic as a caller (Claude Code, the Anthropic SDKs):
//!   Messages requests → OpenAI chat, and OpenAI answers and chunks →
//!   Anthropic messages and events.

pub mod caller;
pub mod provider;
pub mod relay;
pub mod types;
