//! The stream seam: upstream SSE events in, the caller's SSE bytes out, one
//! event at a time (never buffered to the end).
//!
//! A [`Translator`] is what the exchange pumps. Two shapes implement it: a
//! relay of a stream whose caller speaks the provider's own format, or
//! [`Decoded`], which chains a provider's [`ChunkDecoder`] (upstream events →
//! OpenAI chunks, the lingua franca) with a caller's [`ClientEncoder`]
//! (OpenAI chunks → the caller's events).

use crate::protocol::openai::{ChatChunk, Usage};
use crate::protocol::sse::SseEvent;
use crate::protocol::{Error, ErrorReply};
use bytes::{BufMut, BytesMut};

/// Whether the upstream stream is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The upstream sent its terminator; stop reading.
    Done,
}

/// Turns upstream events into the caller's bytes.
pub trait Translator: 'static {
    /// One upstream event; appends what the caller should get to `out`.
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error>;
    /// The upstream closed its stream; appends the caller's ending.
    fn end(&mut self, out: &mut BytesMut) -> Result<(), Error>;
    /// Usage seen so far.
    fn usage(&self) -> Option<Usage>;
    /// Ends the stream with `e` in the stream's own terms, when the caller's
    /// format needs the stream's state for it (OpenAI Responses'
    /// `response.failed`); `false`: the caller API's plain error event is
    /// sent instead.
    fn fail(&mut self, _e: &ErrorReply<'_>, _out: &mut BytesMut) -> bool {
        false
    }
}

/// Turns one upstream stream, event by event, into OpenAI chunks.
///
/// Decoders never emit the usage-only chunk (`choices: []`): they record the
/// usage, and the pipeline appends that chunk when the caller asked for it
/// (E11). They emit the finish chunk themselves.
pub trait ChunkDecoder {
    /// Converts one upstream event; an upstream `error` event becomes `Err`.
    fn feed(&mut self, event: &SseEvent) -> Result<Vec<ChatChunk>, Error>;
    /// Called once at the upstream's end of stream; a stream that ended
    /// without its proper terminator is an `Err`, never a silent end.
    fn finish(&mut self) -> Result<Vec<ChatChunk>, Error>;
    /// The usage seen so far (running totals), if any.
    fn usage(&self) -> Option<Usage>;
}

/// Writes OpenAI chunks in the caller's format.
pub trait ClientEncoder: 'static {
    /// One chunk.
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut);
    /// The end of a complete stream, with the final usage.
    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut);
    /// Ends a stream that failed; see [`Translator::fail`].
    fn fail(&mut self, _e: &ErrorReply<'_>, _out: &mut BytesMut) -> bool {
        false
    }
}

/// Appends `data: <json>\n\n`.
pub fn write_json_data<T: serde::Serialize>(out: &mut BytesMut, value: &T) {
    out.put_slice(b"data: ");
    // Serialising our own types into memory cannot fail.
    let _ = serde_json::to_writer(out.writer(), value);
    out.put_slice(b"\n\n");
}

/// A dialect decoder chained with a caller encoder.
pub struct Decoded {
    decoder: Box<dyn ChunkDecoder>,
    encoder: Box<dyn ClientEncoder>,
}

impl Decoded {
    /// Chains `decoder` into `encoder`.
    pub fn new(decoder: Box<dyn ChunkDecoder>, encoder: Box<dyn ClientEncoder>) -> Self {
        Self { decoder, encoder }
    }
}

impl Translator for Decoded {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error> {
        for chunk in self.decoder.feed(ev)? {
            self.encoder.chunk(&chunk, out);
        }
        Ok(Flow::Continue)
    }

    fn end(&mut self, out: &mut BytesMut) -> Result<(), Error> {
        for chunk in self.decoder.finish()? {
            self.encoder.chunk(&chunk, out);
        }
        self.encoder.end(self.decoder.usage(), out);
        Ok(())
    }

    fn usage(&self) -> Option<Usage> {
        self.decoder.usage()
    }

    fn fail(&mut self, e: &ErrorReply<'_>, out: &mut BytesMut) -> bool {
        self.encoder.fail(e, out)
    }
}
