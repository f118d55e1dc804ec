//! Integration tests: the real server on a free port, against mock upstreams
//! speaking recorded wire formats.

mod common;

mod auth;
mod chat_anthropic;
mod chat_gemini;
mod chat_openai;
mod cli;
mod contract;
mod cost;
mod embeddings;
mod errors;
mod gemini_inbound;
mod governance;
mod messages;
mod metrics;
mod models;
mod reload;
mod request_bounds;
mod resilience;
mod responses;
mod shared_limits;
mod shutdown;
mod stream_bounds;
mod upstream_answers;
