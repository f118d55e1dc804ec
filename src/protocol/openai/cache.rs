//! Prompt-cache breakpoints marked by OpenAI-format callers: LiteLLM's
//! convention of `cache_control: {"type": "ephemeral"}` (optionally with
//! `"ttl": "5m" | "1h"`) on a tool, a message or a content part. They are
//! read from the body once, only when it has a `cache_control` member;
//! Anthropic makes them breakpoints, other providers drop and name them.

use crate::protocol::raw::has_key;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Where a breakpoint was marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// `tools[k]`.
    Tool(usize),
    /// `messages[i]`: its last block.
    Message(usize),
    /// `messages[i].content[j]`.
    Part(usize, usize),
}

/// One marked breakpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakpoint {
    pub at: At,
    /// `ttl` as the caller gave it, if any.
    pub ttl: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    messages: Vec<MessageMarks>,
    #[serde(default)]
    tools: Option<Vec<Marked>>,
}

#[derive(Deserialize)]
struct MessageMarks {
    #[serde(default)]
    cache_control: Option<Mark>,
    #[serde(default)]
    content: Option<ContentMarks>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ContentMarks {
    Parts(Vec<Marked>),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct Marked {
    #[serde(default)]
    cache_control: Option<Mark>,
}

#[derive(Deserialize)]
struct Mark {
    #[serde(default)]
    ttl: Option<String>,
}

/// The breakpoints of a chat request body, in prompt order (tools, then
/// messages, a message's parts before the message's own mark); none when
/// the body has no `cache_control` member (no parse) or is malformed (the
/// request parse reports that).
pub fn breakpoints(body: &[u8]) -> Vec<Breakpoint> {
    if !has_key(body, "cache_control") {
        return Vec::new();
    }
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut mark = |at: At, m: Option<Mark>| {
        if let Some(m) = m {
            out.push(Breakpoint { at, ttl: m.ttl });
        }
    };
    for (k, t) in b.tools.unwrap_or_default().into_iter().enumerate() {
        mark(At::Tool(k), t.cache_control);
    }
    for (i, m) in b.messages.into_iter().enumerate() {
        if let Some(ContentMarks::Parts(parts)) = m.content {
            for (j, p) in parts.into_iter().enumerate() {
                mark(At::Part(i, j), p.cache_control);
            }
        }
        mark(At::Message(i), m.cache_control);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_on_tools_messages_and_parts_are_read_in_prompt_order() {
        let body = br#"{"model":"m","tools":[{"type":"function","function":{"name":"a"}},
            {"type":"function","function":{"name":"b"},"cache_control":{"type":"ephemeral"}}],
            "messages":[{"role":"system","content":[{"type":"text","text":"s",
              "cache_control":{"type":"ephemeral","ttl":"1h"}}]},
            {"role":"user","content":"hi","cache_control":{"type":"ephemeral"}}]}"#;
        assert_eq!(
            breakpoints(body),
            [
                Breakpoint {
                    at: At::Tool(1),
                    ttl: None
                },
                Breakpoint {
                    at: At::Part(0, 0),
                    ttl: Some("1h".to_owned())
                },
                Breakpoint {
                    at: At::Message(1),
                    ttl: None
                },
            ]
        );
        let text_only = br#"{"messages":[{"role":"user","content":"say \"cache_control\": 1"}]}"#;
        assert!(breakpoints(text_only).is_empty());
    }
}
