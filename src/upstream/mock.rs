//! The `mock` provider: answers in-process, without network, so the quick
//! start, client tests and load tests need no provider key.
//!
//! It echoes the text of the last user message; a stream sends it word by
//! word (each word with its following whitespace). Usage counts one token
//! per whitespace-separated word: the prompt's words over all messages, and
//! the reply's words.

use crate::protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Content, Delta, FinishReason,
    Message, ResponseMessage, Usage,
};
use std::sync::atomic::{AtomicU64, Ordering};

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
    let reply = req
        .messages
        .iter()
        .rev()
        .find_map(|m| match m {
            Message::User { content, .. } => Some(content.text()),
            _ => None,
        })
        .unwrap_or_default();
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

/// The chunks of a streamed response (role, one per word, finish) and the
/// usage.
pub fn stream(req: &ChatRequest, model: &str, created: u64) -> (Vec<ChatChunk>, Usage) {
    let (reply, usage) = answer(req);
    let id = next_id();
    let chunk = |delta: Delta, finish_reason: Option<FinishReason>| ChatChunk {
        id: id.clone(),
        object: "chat.completion.chunk".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason,
            logprobs: None,
        }],
        usage: None,
    };
    let mut chunks = vec![chunk(
        Delta {
            role: Some("assistant".to_owned()),
            content: Some(String::new()),
            ..Default::default()
        },
        None,
    )];
    chunks.extend(split_words(&reply).map(|w| {
        chunk(
            Delta {
                content: Some(w.to_owned()),
                ..Default::default()
            },
            None,
        )
    }));
    chunks.push(chunk(Delta::default(), Some(FinishReason::Stop)));
    (chunks, usage)
}

/// Splits text into words, each keeping the whitespace that follows it, so
/// the pieces join back to the exact text.
fn split_words(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let word_end = rest
            .char_indices()
            .skip_while(|(_, c)| c.is_whitespace())
            .find(|(_, c)| c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i);
        let end = rest[word_end..]
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map_or(rest.len(), |(i, _)| word_end + i);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
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
    fn streamed_words_join_back_to_the_exact_text() {
        let text = "  héllo   wide\n world ";
        let (chunks, _) = stream(&request(text), "demo", 1);
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
