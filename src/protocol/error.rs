//! The pure layer's own error: what a conversion found wrong with a caller's
//! request, or what an upstream's answer said or got wrong, in the few
//! classes the wire formats tell apart. The gateway turns it into its own
//! error (with transport and policy classes) one layer up; and renders any
//! error back through [`ErrorReply`], which every caller format encodes.

use std::borrow::Cow;
use std::time::Duration;

/// What went wrong, as far as a wire format can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's request is malformed or cannot be converted.
    InvalidRequest,
    /// The upstream answered with this error status (its error body read).
    Upstream(u16),
    /// The upstream's answer could not be read or understood.
    BadUpstreamResponse,
    /// A conversion reached a state it should not (a bug).
    Internal,
}

/// An error value: its class `K`, what the caller is told, and a retry
/// hint. The pure layer's [`Error`] and the gateway's `GatewayError` are
/// this with their own sets of classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault<K> {
    pub kind: K,
    /// Human-readable; never holds a key or a prompt.
    pub message: Cow<'static, str>,
    /// The request field at fault, when there is one.
    pub param: Option<Cow<'static, str>>,
    /// A machine-readable code, e.g. `upstream_stream_incomplete`.
    pub code: Option<Cow<'static, str>>,
    /// How long to wait before retrying (bounded where it entered).
    pub retry_after: Option<Duration>,
}

/// An error of a conversion or of an upstream answer.
pub type Error = Fault<ErrorKind>;

impl<K: std::fmt::Debug> std::fmt::Display for Fault<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl<K: std::fmt::Debug> std::error::Error for Fault<K> {}

impl<K> Fault<K> {
    /// An error of `kind` with a message.
    pub fn new(kind: K, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// The same error in another set of classes.
    pub fn map_kind<L>(self, f: impl FnOnce(K) -> L) -> Fault<L> {
        Fault {
            kind: f(self.kind),
            message: self.message,
            param: self.param,
            code: self.code,
            retry_after: self.retry_after,
        }
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets the machine-readable code.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the retry hint.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

impl Error {
    /// The caller's request is at fault.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// A 400 for a request body that did not parse: where, and in serde's
    /// words what was wrong, never the values serde quotes (a prompt).
    pub fn bad_body(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let (line, column) = (e.line(), e.column());
        match e.classify() {
            Category::Syntax | Category::Eof => Self::invalid(format!(
                "The request body is not valid JSON (line {line}, column {column})."
            )),
            Category::Data => {
                let text = e.to_string();
                let at = format!(" at line {line} column {column}");
                let what = without_values(text.strip_suffix(&at).unwrap_or(&text));
                Self::invalid(format!(
                    "Invalid request body: {what} (line {line}, column {column})."
                ))
            }
            Category::Io => Self::invalid("The request body could not be read."),
        }
    }
}

/// The longest wait taken from an upstream (`Retry-After`, Gemini's
/// `RetryInfo`); a longer or unreadable one is dropped, not trusted.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// `seconds` as a wait, when it is a number from 0 to [`MAX_RETRY_AFTER`].
pub fn bounded_wait(seconds: f64) -> Option<Duration> {
    if !(0.0..=MAX_RETRY_AFTER.as_secs_f64()).contains(&seconds) {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// Longest caller-given name a message quotes, in characters.
const MAX_QUOTED_CHARS: usize = 64;

/// A caller-given name (a model, a path) as a message may quote it: at
/// most 64 characters (then `…`), control and bidi characters as `?`.
pub fn quoted(name: &str) -> String {
    let safe = |c: char| {
        if c.is_control()
            || matches!(c, '\u{200e}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            '?'
        } else {
            c
        }
    };
    let mut out: String = name.chars().take(MAX_QUOTED_CHARS).map(safe).collect();
    if name.chars().nth(MAX_QUOTED_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A serde error message without the values it quotes, which may be a
/// prompt or a key: `invalid type: string "…", expected a sequence` becomes
/// `invalid type: string, expected a sequence`, and an unknown variant or
/// field loses its name. What the gateway's own types wrote is kept: the
/// expected shape, missing and duplicate field names, custom messages.
pub fn without_values(message: &str) -> String {
    let with_expected = |head: String, rest: &str| match rest.rsplit_once(", expected ") {
        Some((_, expected)) if expected.starts_with("struct ") => {
            format!("{head}, expected an object")
        }
        Some((_, expected)) => format!("{head}, expected {expected}"),
        None => head,
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return with_expected(format!("{prefix}{}", value_kind(rest)), rest);
        }
    }
    for prefix in ["unknown variant `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return with_expected(prefix.trim_end_matches(" `").to_owned(), rest);
        }
    }
    message.to_owned()
}

/// The kind serde names before a value (`string "…"` → `string`,
/// `integer `5`` → `integer`, `sequence` → `sequence`).
fn value_kind(unexpected: &str) -> &str {
    let end = unexpected
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ' ' || c == '-'))
        .unwrap_or(unexpected.len());
    match unexpected[..end].trim() {
        "" => "value",
        kind => kind,
    }
}

/// A stream that closed before its terminator.
pub fn cut_short(terminator: &str) -> Error {
    Error::new(
        ErrorKind::BadUpstreamResponse,
        format!("the upstream stream ended before {terminator}"),
    )
    .with_code("upstream_stream_incomplete")
}

/// An error as the caller will see it: what every caller format encodes
/// (its error body, its mid-stream error event).
#[derive(Debug, Clone, Copy)]
pub struct ErrorReply<'a> {
    /// The HTTP status the caller gets.
    pub status: u16,
    pub message: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_the_values_they_quote_but_keep_the_expected_shape() {
        for (message, want) in [
            (
                r#"invalid type: string "my secret, expected x", expected a sequence"#,
                "invalid type: string, expected a sequence",
            ),
            (
                "invalid value: integer `99999999999`, expected a token id",
                "invalid value: integer, expected a token id",
            ),
            (
                "invalid type: sequence, expected struct ChatRequest",
                "invalid type: sequence, expected an object",
            ),
            (
                "unknown variant `my secret`, expected one of `user`, `system`",
                "unknown variant, expected one of `user`, `system`",
            ),
            (
                "unknown field `my secret`, there are no fields",
                "unknown field",
            ),
            ("missing field `messages`", "missing field `messages`"),
            (
                "data did not match any variant of untagged enum Content",
                "data did not match any variant of untagged enum Content",
            ),
        ] {
            assert_eq!(without_values(message), want);
        }
    }
}
