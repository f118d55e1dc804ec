//! Server-sent events: an incremental parser and the two encoders.
//!
//! The parser follows the WHATWG rules that matter for LLM streams (E23):
//! lines end in CR, LF or CRLF (a CR at the end of one read and the LF at the
//! start of the next count once), `:` lines are comments, several `data:`
//! lines join with `\n`, and an event is dispatched on a blank line. Events
//! split across reads at any byte are reassembled.

use bytes::{BufMut, BytesMut};

/// One parsed event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if the event had one (Anthropic does, OpenAI and
    /// Gemini do not).
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

/// Incremental SSE parser: feed it reads as they come.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of an incomplete line.
    line: Vec<u8>,
    /// The previous read ended in CR, so a leading LF belongs to that line end.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one read and appends every event it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line_end_len = match (chunk[end], chunk.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            if self.line.is_empty() {
                self.process_line(&chunk[..end], out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..end]);
                self.process_line(&line, out);
                line.clear();
                self.line = line;
            }
            chunk = &chunk[end + line_end_len..];
        }
        self.line.extend_from_slice(chunk);
    }

    /// Ends the input: an event still pending (no final blank line) is
    /// dispatched rather than lost, since some servers close without one.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let mut sink = Vec::new();
            self.process_line(&line, &mut sink);
        }
        self.take_event()
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(ev) = self.take_event() {
                out.push(ev);
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {}
        }
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        })
    }
}

/// Appends `data: <payload>\n\n` (OpenAI and Gemini framing).
pub fn write_data(out: &mut BytesMut, payload: &[u8]) {
    out.reserve(payload.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(payload);
    out.put_slice(b"\n\n");
}

/// Appends `event: <name>\ndata: <payload>\n\n` (Anthropic framing).
pub fn write_event(out: &mut BytesMut, name: &str, payload: &[u8]) {
    out.reserve(name.len() + payload.len() + 16);
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(payload);
    out.put_slice(b"\n\n");
}

/// The OpenAI end-of-stream marker, framed.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in input.chunks(piece) {
            p.feed(c, &mut out);
        }
        out.extend(p.finish());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_split_at_every_byte_are_reassembled() {
        let input = b"event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n";
        for piece in 1..input.len() {
            assert_eq!(
                parse_in_pieces(input, piece),
                vec![
                    ev(Some("message_start"), "{\"a\":1}"),
                    ev(Some("ping"), "{}")
                ],
                "piece size {piece}"
            );
        }
    }

    #[test]
    fn crlf_and_cr_line_ends_are_accepted() {
        let input = b"data: one\r\n\r\ndata: two\r\rdata: three\n\n";
        for piece in 1..input.len() {
            assert_eq!(
                parse_in_pieces(input, piece),
                vec![ev(None, "one"), ev(None, "two"), ev(None, "three")],
                "piece size {piece}"
            );
        }
    }

    #[test]
    fn comments_are_skipped_and_multiline_data_joined() {
        let input = b": OPENROUTER PROCESSING\n\ndata: a\ndata: b\n\n";
        assert_eq!(parse_in_pieces(input, 4), vec![ev(None, "a\nb")]);
    }

    #[test]
    fn a_last_event_without_blank_line_is_not_lost() {
        assert_eq!(parse_in_pieces(b"data: end", 3), vec![ev(None, "end")]);
    }

    #[test]
    fn encoders_frame_events() {
        let mut out = BytesMut::new();
        write_data(&mut out, b"{}");
        write_event(&mut out, "ping", b"{\"type\":\"ping\"}");
        assert_eq!(
            &out[..],
            b"data: {}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
    }
}
