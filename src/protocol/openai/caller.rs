//! OpenAI Chat Completions as the caller's API: how answers and chunks go
//! back to an OpenAI client.

use crate::protocol::openai::{ChatChunk, Usage};
use crate::protocol::sse;
use crate::protocol::stream::{write_json_data, ClientEncoder};
use bytes::{BufMut, BytesMut};

/// OpenAI chunks to an OpenAI caller: `data:` lines, the usage chunk when
/// asked for (always with `"choices": []`, E11), then `[DONE]`.
#[derive(Debug, Default)]
pub struct OpenAiEncoder {
    include_usage: bool,
    /// id, model and created of the stream, for the usage chunk.
    meta: Option<(String, String, u64)>,
}

impl OpenAiEncoder {
    /// `include_usage`: the caller asked for the usage chunk.
    pub fn new(include_usage: bool) -> Self {
        Self {
            include_usage,
            meta: None,
        }
    }
}

impl ClientEncoder for OpenAiEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        if self.meta.is_none() {
            self.meta = Some((chunk.id.clone(), chunk.model.clone(), chunk.created));
        }
        write_json_data(out, chunk);
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if let (true, Some(usage), Some((id, model, created))) =
            (self.include_usage, usage, self.meta.take())
        {
            let chunk = ChatChunk {
                id,
                object: "chat.completion.chunk".to_owned(),
                created,
                model,
                choices: Vec::new(),
                usage: Some(usage),
            };
            write_json_data(out, &chunk);
        }
        out.put_slice(sse::DONE);
    }
}
