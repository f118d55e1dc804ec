//! Gemini `generateContent` (PROTOCOLS.md §3, §4.4–4.14):
//!
//! * [`types`]: the wire types.
//! * [`schema`]: JSON Schema → Gemini's Schema subset.
//! * [`provider`]: Gemini as a provider: OpenAI chat (and embeddings)
//!   requests → Gemini bodies, and Gemini answers, streams and error bodies
//!   → OpenAI shapes.
//! * [`caller`]: Gemini as a caller (google-genai, Gemini CLI): Gemini
//!   requests → OpenAI chat, and OpenAI answers and chunks → Gemini
//!   responses and stream events.

pub mod caller;
pub mod provider;
pub mod schema;
pub mod types;
