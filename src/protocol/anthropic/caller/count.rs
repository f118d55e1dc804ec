//! `count_tokens` for providers with no count endpoint (PROTOCOLS.md §5.5).

use super::request::to_openai_for_count;
use crate::protocol::openai::{ChatRequest, Content, ContentPart, Message};
use crate::protocol::Error;

/// Tokens added per message (role and framing), as in OpenAI's own
/// accounting of chat formats.
const PER_MESSAGE: u64 = 4;
/// Tokens added per tool definition (its framing in the prompt).
const PER_TOOL: u64 = 8;
/// Tokens counted for each image or document: Anthropic's cost of one
/// image at its largest (about 1,600 tokens), also a rough page of a PDF.
const PER_MEDIA: u64 = 1_600;

/// Estimates the input tokens of a `/v1/messages/count_tokens` body (the
/// same 400s as the messages endpoint, but `max_tokens` may be missing).
///
/// The heuristic: `ceil(bytes / 4)` over the UTF-8 text of the system
/// prompt, every text part, tool result, assistant text, tool-call name and
/// arguments, and every tool's name, description and JSON schema (bytes
/// rather than characters, which errs high for non-Latin text: the safe
/// side when a client decides when to compact its context); plus 4 tokens
/// per message, 8 per tool, and 1,600 per image or document. Thinking blocks
/// of earlier turns are not counted (Anthropic strips them from the
/// context). It is an estimate, typically within ±20% for English prose and
/// code.
pub fn estimate_input_tokens(body: &[u8]) -> Result<u64, Error> {
    let (req, _) = to_openai_for_count(body)?;
    Ok(estimate(&req))
}

/// The estimate of [`estimate_input_tokens`] over a request already in the
/// lingua franca (other caller APIs' token counts use it too).
pub fn estimate(req: &ChatRequest) -> u64 {
    let mut bytes: u64 = 0;
    let mut fixed: u64 = 0;
    let mut add = |n: usize| bytes = bytes.saturating_add(n as u64);
    for m in &req.messages {
        fixed = fixed.saturating_add(PER_MESSAGE);
        match m {
            Message::System { content, .. }
            | Message::Developer { content, .. }
            | Message::User { content, .. }
            | Message::Tool { content, .. } => {
                fixed = fixed.saturating_add(content_size(content, &mut add));
            }
            Message::Function { content, .. } => {
                if let Some(c) = content {
                    fixed = fixed.saturating_add(content_size(c, &mut add));
                }
            }
            Message::Assistant(a) => {
                if let Some(c) = &a.content {
                    fixed = fixed.saturating_add(content_size(c, &mut add));
                }
                for call in a.tool_calls.iter().flatten() {
                    add(call.function.name.len());
                    add(call.function.arguments.len());
                }
            }
        }
    }
    for tool in req.tools.iter().flatten() {
        fixed = fixed.saturating_add(PER_TOOL);
        let f = &tool.function;
        add(f.name.len());
        add(f.description.as_deref().map_or(0, str::len));
        if let Some(schema) = &f.parameters {
            let mut counter = ByteCounter(0);
            // Writing into a counter cannot fail.
            let _ = serde_json::to_writer(&mut counter, schema);
            add(usize::try_from(counter.0).unwrap_or(usize::MAX));
        }
    }
    bytes.div_ceil(4).saturating_add(fixed)
}

/// Adds the text of `content` through `add`; returns the fixed tokens of its
/// images and documents.
fn content_size(content: &Content, add: &mut impl FnMut(usize)) -> u64 {
    match content {
        Content::Text(s) => {
            add(s.len());
            0
        }
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => {
                    add(text.len());
                    0
                }
                ContentPart::ImageUrl { .. } | ContentPart::File { .. } => PER_MEDIA,
                ContentPart::InputAudio { .. } | ContentPart::Other(_) => 0,
            })
            .fold(0u64, u64::saturating_add),
    }
}

/// An `io::Write` that only counts.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::damaged;
    use super::*;
    use serde_json::json;

    const COUNT: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/count_tokens_request.json"
    ));
    const CLAUDE_CODE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/claude_code_request.json"
    ));

    fn estimate_json(v: serde_json::Value) -> u64 {
        estimate_input_tokens(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    #[test]
    fn text_counts_a_quarter_token_per_byte_plus_message_overhead() {
        // 40 bytes of text in one message: 10 + 4.
        let v = json!({"model": "m", "messages": [{"role": "user", "content": "a".repeat(40)}]});
        assert_eq!(estimate_json(v), 14);
        // 41 bytes round up.
        let v = json!({"model": "m", "messages": [{"role": "user", "content": "a".repeat(41)}]});
        assert_eq!(estimate_json(v), 15);
    }

    #[test]
    fn system_tools_and_images_count() {
        let v = json!({
            "model": "m",
            "system": "abcd",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "abcd"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                 "data": "A".repeat(100_000)}}]}],
            "tools": [{"name": "abcd", "description": "abcd", "input_schema": {"type": "object"}}]
        });
        // bytes: 4 (system) + 4 (text) + 4 + 4 + 17 (`{"type":"object"}`) = 33 → 9;
        // fixed: 2 messages × 4 + 1 tool × 8 + 1 image × 1600.
        assert_eq!(estimate_json(v), 9 + 8 + 8 + 1600);
    }

    #[test]
    fn recorded_count_request_gives_a_plausible_estimate() {
        let n = estimate_input_tokens(COUNT.as_bytes()).unwrap();
        // ~640 bytes of text and schema, 5 messages, 1 tool, 1 image.
        assert!((1_700..1_900).contains(&n), "{n}");
        // A full messages body counts too (max_tokens and stream ignored).
        assert!(estimate_input_tokens(CLAUDE_CODE.as_bytes()).unwrap() > 1_600);
    }

    #[test]
    fn count_bodies_are_validated_like_messages_bodies() {
        let e = estimate_input_tokens(br#"{"messages": []}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert!(estimate_input_tokens(b"not json").is_err());
    }

    #[test]
    fn damaged_bodies_never_panic() {
        for bytes in damaged(COUNT.as_bytes()) {
            let _ = estimate_input_tokens(&bytes);
        }
    }
}
