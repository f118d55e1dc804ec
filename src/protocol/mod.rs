//! Wire formats and conversions: pure functions and state machines over plain
//! types, no I/O (DESIGN.md "Rules of thumb").
//!
//! [`openai`] is the lingua franca; each provider dialect converts to and from
//! it and has the same shape: `types.rs`, `request.rs`, `response.rs`
//! (including error bodies), `stream.rs`. A stream converter implements
//! [`ChunkDecoder`].

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
