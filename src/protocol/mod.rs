//! Wire formats and conversions: pure functions and state machines over plain
//! types, no I/O (DESIGN.md "Rules of thumb").
//!
//! [`openai`] is the lingua franca; each provider dialect converts to and from
//! it and has the same shape: `types.rs`, `request.rs`, `response.rs`
//! (including error bodies), `stream.rs`. A stream converter implements
//! [`ChunkDecoder`].

pub mod anthropic;
pub mod gemini;
pub mod openai;
pub mod raw;
pub mod sse;
#[cfg(test)]
pub mod testing;

use crate::error::GatewayError;
use openai::{ChatChunk, Usage};
use sse::SseEvent;

/// Turns one upstream stream, event by event, into OpenAI chunks.
///
/// Decoders never emit the usage-only chunk (`choices: []`): they record the
/// usage, and the pipeline appends that chunk when the caller asked for it
/// (E11). They emit the finish chunk themselves.
pub trait ChunkDecoder {
    /// Converts one upstream event; an upstream `error` event becomes `Err`.
    fn feed(&mut self, event: &SseEvent) -> Result<Vec<ChatChunk>, GatewayError>;
    /// Called once at the upstream's end of stream; a stream that ended
    /// without its proper terminator is an `Err`, never a silent end.
    fn finish(&mut self) -> Result<Vec<ChatChunk>, GatewayError>;
    /// The usage seen so far (running totals), if any.
    fn usage(&self) -> Option<Usage>;
}
