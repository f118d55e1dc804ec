//! Server-sent events: an incremental parser and the two encoders.
//!
//! The parser follows the WHATWG rules that matter for LLM streams (E23):
//! lines end in CR, LF or CRLF (a CR at the end of one read and the LF at the
//! start of the next count once), `:` lines are comments, several `data:`
//! lines join with `\n`, and an event is dispatched on a blank line. Events
//! split across reads at any byte are reassembled. What one stream may make
//! it hold is bounded ([`SseLimits`]): a line or an event over its limit
//! ends the stream with an [`SseOverflow`].

use bytes::{BufMut, BytesMut};
use std::fmt;

/// One parsed event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if the event had one (Anthropic does, OpenAI and
    /// Gemini do not).
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

/// The most one stream may make the parser hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// The longest line, in bytes, without its line end.
    pub max_line: usize,
    /// The largest event: its joined `data:` lines, in bytes.
    pub max_event: usize,
}

impl Default for SseLimits {
    /// 16 MiB each: far above any text event, and room for the largest
    /// inline image a Gemini event carries.
    fn default() -> Self {
        Self {
            max_line: 16 * 1024 * 1024,
            max_event: 16 * 1024 * 1024,
        }
    }
}

/// A line or an event went over its limit (the limit, in bytes): the
/// stream cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseOverflow {
    Line(usize),
    Event(usize),
}

impl fmt::Display for SseOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, limit) = match self {
            SseOverflow::Line(n) => ("line", n),
            SseOverflow::Event(n) => ("event", n),
        };
        write!(f, "a stream {what} longer than {limit} bytes")
    }
}

/// Incremental SSE parser: feed it reads as they come.
#[derive(Debug, Default)]
pub struct SseParser {
    limits: SseLimits,
    /// Bytes of an incomplete line.
    line: Vec<u8>,
    /// The previous read ended in CR, so a leading LF belongs to that line end.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// A parser with nothing buffered and the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with nothing buffered and `limits`.
    pub fn with_limits(limits: SseLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Parses one read and appends every event it completes to `out`. After
    /// an overflow the stream is over: feed nothing more.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) {
            let line_end_len = match (chunk[end], chunk.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            self.check_line(end)?;
            if self.line.is_empty() {
                self.process_line(&chunk[..end], out)?;
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..end]);
                self.process_line(&line, out)?;
                line.clear();
                self.line = line;
            }
            chunk = &chunk[end + line_end_len..];
        }
        self.check_line(chunk.len())?;
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    /// Ends the input: an event still pending (no final blank line) is
    /// dispatched rather than lost, since some servers close without one.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseOverflow> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let mut sink = Vec::new();
            self.process_line(&line, &mut sink)?;
        }
        Ok(self.take_event())
    }

    /// Whether the pending line may grow by `more` bytes.
    fn check_line(&self, more: usize) -> Result<(), SseOverflow> {
        if self.line.len().saturating_add(more) > self.limits.max_line {
            return Err(SseOverflow::Line(self.limits.max_line));
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        if line.is_empty() {
            if let Some(ev) = self.take_event() {
                out.push(ev);
            }
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        // Valid UTF-8 is checked at full speed; only invalid text pays for
        // the replacement characters.
        let value = match std::str::from_utf8(value) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                let grown = self.data.len() + usize::from(self.has_data) + value.len();
                if grown > self.limits.max_event {
                    return Err(SseOverflow::Event(self.limits.max_event));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
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
            p.feed(c, &mut out).unwrap();
        }
        out.extend(p.finish().unwrap());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_replaced_not_dropped() {
        let input = b"data: caf\xc3\xa9 \xff!\r\n\r\n";
        assert_eq!(
            parse_in_pieces(input, input.len()),
            vec![ev(None, "caf\u{e9} \u{fffd}!")]
        );
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

    fn limited(max_line: usize, max_event: usize) -> SseParser {
        SseParser::with_limits(SseLimits {
            max_line,
            max_event,
        })
    }

    #[test]
    fn a_line_over_the_limit_overflows_whether_or_not_it_ends() {
        let mut out = Vec::new();
        // Without a line end, fed in pieces: nothing past the limit is kept.
        let mut p = limited(16, 1024);
        p.feed(b"data: 0123456789", &mut out).unwrap();
        assert_eq!(p.feed(b"x", &mut out), Err(SseOverflow::Line(16)));
        // A comment counts too, and a whole line in one read.
        let mut p = limited(16, 1024);
        assert_eq!(
            p.feed(b": 0123456789abcdef\n\n", &mut out),
            Err(SseOverflow::Line(16))
        );
        // At the limit exactly is fine.
        let mut p = limited(16, 1024);
        p.feed(b"data: 0123456789\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev(None, "0123456789")]);
    }

    #[test]
    fn an_event_over_the_limit_overflows_even_in_short_lines() {
        let mut out = Vec::new();
        let mut p = limited(64, 10);
        p.feed(b"data: 01234\ndata: 5678\n", &mut out).unwrap();
        assert_eq!(p.feed(b"data: 9\n", &mut out), Err(SseOverflow::Event(10)));
        // The last event of a stream that ends without a blank line too.
        let mut p = limited(64, 10);
        p.feed(b"data: 0123456789\ndata: x", &mut out).unwrap();
        assert_eq!(p.finish(), Err(SseOverflow::Event(10)));
        assert!(out.is_empty());
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
