//! The `mock` provider: answers in-process, without network, so the quick
//! start, client tests and load tests need no provider key.
//!
//! It echoes the text of the last user message, at most its first
//! [`MAX_REPLY_BYTES`]; a stream sends it word by word (each word with its
//! following whitespace), each chunk made as the caller reads. Usage counts
//! one token per whitespace-separated word: the prompt's words over all
//! messages, and the reply's words.

use crate::protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, Choice, Content, Delta, FinishReason, Message,
    ResponseMessage, Usage,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The longest echo, in bytes: the work and memory of one mock answer stay
/// small whatever the prompt.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> String {
    format!("chatcmpl-mock-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

fn message_text(m: &Message) -> String {
    match m {
        Message::System { content, .. }
        | Message::Developer { content, .. }
        | Message::User { content, .. }
        | Message::Tool { content, .. } => content.text(),
        Message::Assistant(a) => a.content.as_ref().map(Content::text).unwrap_or_default(),
        Message::Function { content, .. } => {
            content.as_ref().map(Content::text).unwrap_or_default()
        }
    }
}

/// The reply text and usage for a request.
fn answer(req: &ChatRequest) -> (String, Usage) {
    let mut reply = req
        .messages
        .iter()
        .rev()
        .find_map(|m| match m {
            Message::User { content, .. } => Some(content.text()),
            _ => None,
        })
        .unwrap_or_default();
    let mut end = reply.len().min(MAX_REPLY_BYTES);
    while !reply.is_char_boundary(end) {
        end -= 1;
    }
    reply.truncate(end);
    let prompt_tokens = req.messages.iter().map(|m| words(&message_text(m))).sum();
    let completion_tokens = words(&reply);
    let usage = Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
        ..Default::default()
    };
    (reply, usage)
}

/// A non-streaming response.
pub fn respond(req: &ChatRequest, model: &str, created: u64) -> ChatResponse {
    let (reply, usage) = answer(req);
    ChatResponse {
        id: next_id(),
        object: "chat.completion".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: Some(reply),
                ..Default::default()
            },
            finish_reason: Some(FinishReason::Stop),
            logprobs: None,
        }],
        usage: Some(usage),
        system_fingerprint: None,
    }
}

/// A streamed response, one chunk at a time (role, one per word, finish),
/// and the usage.
pub fn stream(req: &ChatRequest, model: &str, created: u64) -> (MockStream, Usage) {
    let (reply, usage) = answer(req);
    let stream = MockStream {
        id: next_id().into(),
        model: model.into(),
        created,
        reply,
        at: None,
    };
    (stream, usage)
}

/// The chunks of a streamed mock answer, made on demand.
#[derive(Debug)]
pub struct MockStream {
    id: Arc<str>,
    model: Arc<str>,
    created: u64,
    reply: String,
    /// Where the next word starts; `None` before the role chunk.
    at: Option<usize>,
}

impl MockStream {
    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk::single(&self.id, &self.model, self.created, delta, finish_reason)
    }
}

impl Iterator for MockStream {
    type Item = ChatChunk;

    fn next(&mut self) -> Option<ChatChunk> {
        let Some(at) = self.at else {
            self.at = Some(0);
            let role = Delta {
                role: Some("assistant".to_owned()),
                content: Some(String::new()),
                ..Default::default()
            };
            return Some(self.chunk(role, None));
        };
        let rest = self.reply.get(at..)?;
        if rest.is_empty() {
            // Past the end: the finish chunk once, then nothing.
            self.at = Some(at + 1);
            return Some(self.chunk(Delta::default(), Some(FinishReason::Stop)));
        }
        let end = at + piece_len(rest);
        self.at = Some(end);
        let word = Delta {
            content: Some(self.reply[at..end].to_owned()),
            ..Default::default()
        };
        Some(self.chunk(word, None))
    }
}

/// The length of the first word of `text` with the whitespace that follows
/// it, so that the pieces join back to the exact text.
fn piece_len(text: &str) -> usize {
    let word_end = text
        .char_indices()
        .skip_while(|(_, c)| c.is_whitespace())
        .find(|(_, c)| c.is_whitespace())
        .map_or(text.len(), |(i, _)| i);
    text[word_end..]
        .char_indices()
        .find(|(_, c)| !c.is_whitespace())
        .map_or(text.len(), |(i, _)| word_end + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> ChatRequest {
        serde_json::from_value(serde_json::json!({
            "model": "demo",
            "messages": [{"role": "system", "content": "be kind"}, {"role": "user", "content": text}]
        }))
        .unwrap()
    }

    #[test]
    fn echoes_the_last_user_message_with_word_usage() {
        let r = respond(&request("hello there world"), "demo", 1);
        assert_eq!(
            r.choices[0].message.content.as_deref(),
            Some("hello there world")
        );
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (5, 3, 8)
        );
    }

    #[test]
    fn a_long_echo_is_cut_at_the_limit_on_a_character_boundary() {
        let text = format!("x{}", "é ".repeat(MAX_REPLY_BYTES));
        let r = respond(&request(&text), "demo", 1);
        let reply = r.choices[0].message.content.clone().unwrap();
        assert!(reply.len() <= MAX_REPLY_BYTES && reply.len() > MAX_REPLY_BYTES - 4);
        assert!(text.starts_with(&reply));
        let streamed: String = stream(&request(&text), "demo", 1)
            .0
            .filter_map(|c| c.choices[0].delta.content.clone())
            .collect();
        assert_eq!(streamed, reply);
    }

    #[test]
    fn streamed_words_join_back_to_the_exact_text() {
        let text = "  héllo   wide\n world ";
        let chunks: Vec<ChatChunk> = stream(&request(text), "demo", 1).0.collect();
        let joined: String = chunks
            .iter()
            .filter_map(|c| c.choices[0].delta.content.clone())
            .collect();
        assert_eq!(joined, text);
        assert_eq!(chunks.len(), 2 + 3, "role + 3 pieces + finish");
        assert_eq!(
            chunks.last().unwrap().choices[0].finish_reason,
            Some(FinishReason::Stop)
        );
    }
}
