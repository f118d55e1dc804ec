//! Wire formats and conversions: pure functions and state machines over plain
//! types, no I/O, no other module of the crate (DESIGN.md "Rules of thumb";
//! `tests/architecture.rs` checks it).
//!
//! One folder per wire format, both directions inside: [`openai`] (the chat
//! types that are the lingua franca, and OpenAI as a caller and as a
//! provider), [`anthropic`] and [`gemini`]. Each plugs into the two seams of
//! [`seam`]: a [`CallerApi`] per inbound API and a [`ProviderApi`] per
//! provider wire format. Streams go through [`stream`] ([`Translator`],
//! [`ChunkDecoder`], [`ClientEncoder`]); errors are this layer's own
//! [`Error`].

pub mod anthropic;
pub mod error;
pub mod gemini;
pub mod openai;
pub mod raw;
pub mod seam;
pub mod sse;
pub mod stream;
#[cfg(test)]
pub mod testing;

pub use error::{Error, ErrorKind, ErrorReply};
pub use seam::{CallerApi, InboundApi, Operation, ProviderApi};
pub use stream::{ChunkDecoder, ClientEncoder, Decoded, Flow, Translator};
