//! Test support shared by the dialects' unit tests.

use super::openai::{ChatChunk, Usage};
use super::sse::SseParser;
use super::ChunkDecoder;
use crate::protocol::Error;

/// What one run of a stream through a decoder produced: the chunks until
/// the first error, how it ended, and the usage seen.
#[derive(Debug, PartialEq)]
pub struct StreamRun {
    pub chunks: Vec<ChatChunk>,
    pub end: Result<(), Error>,
    pub usage: Option<Usage>,
}

/// Feeds `sse` to `decoder` through [`SseParser`] in reads of `piece` bytes,
/// then ends the stream.
pub fn run_decoder(mut decoder: impl ChunkDecoder, sse: &[u8], piece: usize) -> StreamRun {
    let mut parser = SseParser::new();
    let mut chunks = Vec::new();
    let mut events = Vec::new();
    let mut end = Ok(());
    'reads: for read in sse.chunks(piece.max(1)) {
        parser
            .feed(read, &mut events)
            .expect("test streams fit the limits");
        for ev in events.drain(..) {
            match decoder.feed(&ev) {
                Ok(c) => chunks.extend(c),
                Err(e) => {
                    end = Err(e);
                    break 'reads;
                }
            }
        }
    }
    if end.is_ok() {
        let last = parser
            .finish()
            .expect("test streams fit the limits")
            .map_or(Ok(Vec::new()), |ev| decoder.feed(&ev));
        end = last
            .and_then(|c| {
                chunks.extend(c);
                decoder.finish()
            })
            .map(|c| chunks.extend(c));
    }
    StreamRun {
        chunks,
        end,
        usage: decoder.usage(),
    }
}

/// Every prefix of `input`, then `input` with one byte changed at each
/// position (rotating between flipping bit 0, bit 5, bit 7 and all bits): a
/// deterministic stand-in for fuzzing.
pub fn damaged(input: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let truncated = (0..input.len()).map(|n| input[..n].to_vec());
    let flipped = (0..input.len()).map(|i| {
        let mut v = input.to_vec();
        v[i] ^= [0x01, 0x20, 0x80, 0xff][i % 4];
        v
    });
    truncated.chain(flipped)
}
