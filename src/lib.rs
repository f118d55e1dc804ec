//! llm-gateway library.
pub mod error;
pub mod protocol;
