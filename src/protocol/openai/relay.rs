//! OpenAI-compatible upstream, OpenAI caller: the stream relayed event by
//! event, parsing no more than the usage needs, `model` rewritten in place
//! to the name the caller asked for.

use crate::protocol::error::cut_short;
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::Usage;
use crate::protocol::raw::put_with;
use crate::protocol::sse::{self, SseEvent};
use crate::protocol::{Error, ErrorKind, Flow, Translator};
use bytes::{BufMut, BytesMut};
use serde::Deserialize;

/// Reads `usage` (and whether `choices` is empty) out of an OpenAI chunk or
/// response without building the rest.
#[derive(Deserialize)]
struct UsageProbe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    choices: Option<Vec<serde::de::IgnoredAny>>,
}

/// OpenAI upstream, OpenAI caller: events are relayed as they are, once
/// checked to be JSON (a caller's SDK would fail on anything else before it
/// saw the gateway's error event); empty ones are dropped. The gateway
/// always asks the upstream for usage; the usage-only chunk is passed on
/// only if the caller asked for it too. Each chunk's `model` becomes the
/// caller's.
#[derive(Debug)]
pub struct OpenAiPassThrough {
    forward_usage_chunk: bool,
    /// The caller's `model`, raw JSON; none: the upstream's is kept.
    model: Option<Box<str>>,
    usage: Option<Usage>,
    done: bool,
}

impl OpenAiPassThrough {
    /// `forward_usage_chunk`: the caller asked for `include_usage`;
    /// `model`: the caller's `model` member (raw JSON), echoed in every
    /// chunk.
    pub fn new(forward_usage_chunk: bool, model: Option<&str>) -> Self {
        Self {
            forward_usage_chunk,
            model: model.map(Into::into),
            usage: None,
            done: false,
        }
    }
}

impl Translator for OpenAiPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            out.put_slice(sse::DONE);
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        // Only chunks that carry a usage object are parsed into it; content
        // chunks (`"usage": null` when usage was asked for) are only
        // validated.
        let probe = has_usage_object(data)
            .then(|| serde_json::from_str::<UsageProbe>(data).ok())
            .flatten();
        if let Some(probe) = probe {
            if let Some(u) = probe.usage {
                self.usage = Some(u);
                let usage_only = probe.choices.is_none_or(|c| c.is_empty());
                if usage_only && !self.forward_usage_chunk {
                    return Ok(Flow::Continue);
                }
            }
        } else if data.starts_with("{\"error\"") || data.starts_with("{ \"error\"") {
            // An upstream error payload mid-stream ends the stream; the
            // pump sends it on in the gateway's error shape.
            self.done = true;
            return Err(upstream_stream_error(data));
        }
        // Also the check that the event is JSON.
        let start = out.len();
        out.reserve(data.len() + self.model.as_ref().map_or(0, |m| m.len()) + 8);
        out.put_slice(b"data: ");
        let written = match &self.model {
            Some(model) => put_with(out, data.as_bytes(), &["model"], model.as_bytes()),
            None => serde_json::from_str::<serde::de::IgnoredAny>(data)
                .map(|_| out.put_slice(data.as_bytes())),
        };
        if written.is_err() {
            self.done = true;
            out.truncate(start);
            return Err(unreadable());
        }
        out.put_slice(b"\n\n");
        Ok(Flow::Continue)
    }

    fn end(&mut self, _out: &mut BytesMut) -> Result<(), Error> {
        if self.done {
            Ok(())
        } else {
            Err(cut_short("[DONE]"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

/// Whether a chunk has `"usage": {…}` (not `null`), without parsing it.
fn has_usage_object(data: &str) -> bool {
    const USAGE: &str = "\"usage\"";
    memchr::memmem::find_iter(data.as_bytes(), USAGE).any(|i| {
        data[i + USAGE.len()..]
            .trim_start()
            .strip_prefix(':')
            .is_some_and(|rest| rest.trim_start().starts_with('{'))
    })
}

/// The error an upstream sent inside its stream (status unknown: counted as
/// an upstream 5xx), with the upstream's message.
fn upstream_stream_error(data: &str) -> Error {
    let message = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the upstream reported an error mid-stream".to_owned());
    Error::new(ErrorKind::Upstream(500), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: s.to_owned(),
        }
    }

    const USAGE_CHUNK: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;

    #[test]
    fn pass_through_strips_the_usage_chunk_the_caller_did_not_ask_for() {
        let mut t = OpenAiPassThrough::new(false, None);
        let mut out = BytesMut::new();
        t.event(
            &data(r#"{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}"#),
            &mut out,
        )
        .unwrap();
        t.event(&data(USAGE_CHUNK), &mut out).unwrap();
        assert_eq!(t.event(&data("[DONE]"), &mut out).unwrap(), Flow::Done);
        t.end(&mut out).unwrap();
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains("prompt_tokens"), "{text}");
        assert!(text.contains("\"content\":\"hi\""));
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(t.usage().unwrap().total_tokens, 5);
    }

    #[test]
    fn pass_through_forwards_the_usage_chunk_when_asked() {
        let mut t = OpenAiPassThrough::new(true, None);
        let mut out = BytesMut::new();
        t.event(&data(USAGE_CHUNK), &mut out).unwrap();
        assert!(String::from_utf8(out.to_vec())
            .unwrap()
            .contains("prompt_tokens"));
    }

    #[test]
    fn only_usage_objects_are_probed() {
        assert!(has_usage_object(
            r#"{"choices":[],"usage": {"total_tokens":1}}"#
        ));
        assert!(!has_usage_object(
            r#"{"choices":[{"delta":{}}],"usage":null}"#
        ));
        assert!(!has_usage_object(
            r#"{"choices":[{"delta":{"content":"\"usage\""}}]}"#
        ));
    }

    #[test]
    fn pass_through_refuses_an_event_that_is_not_json_instead_of_relaying_it() {
        let mut t = OpenAiPassThrough::new(false, None);
        let mut out = BytesMut::new();
        t.event(&data(r#"{"choices":[]}"#), &mut out).unwrap();
        t.event(&data(""), &mut out).unwrap();
        for bad in ["<html>502 Bad Gateway</html>", r#"{"choices":[],"usage":{"#] {
            let mut t = OpenAiPassThrough::new(false, None);
            let err = t.event(&data(bad), &mut BytesMut::new()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadUpstreamResponse, "{bad}");
        }
        assert_eq!(
            &out[..],
            b"data: {\"choices\":[]}\n\n",
            "empty events are dropped"
        );
    }

    #[test]
    fn pass_through_reports_a_stream_cut_before_done() {
        let mut t = OpenAiPassThrough::new(false, None);
        let mut out = BytesMut::new();
        t.event(&data(r#"{"choices":[]}"#), &mut out).unwrap();
        let err = t.end(&mut out).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadUpstreamResponse);
    }
}
