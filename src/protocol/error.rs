//! The pure layer's own error: what a conversion found wrong with a caller's
//! request, or what an upstream's answer said or got wrong, in the few
//! classes the wire formats tell apart. The gateway turns it into its own
//! error (with transport and policy classes) one layer up; and renders any
//! error back through [`ErrorReply`], which every caller format encodes.

use std::borrow::Cow;

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

/// An error of a conversion or of an upstream answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Human-readable; never holds a key or a prompt.
    pub message: Cow<'static, str>,
    /// The request field at fault, when there is one.
    pub param: Option<Cow<'static, str>>,
    /// A machine-readable code, e.g. `upstream_stream_incomplete`.
    pub code: Option<Cow<'static, str>>,
    /// Seconds to wait before retrying, as the upstream said.
    pub retry_after: Option<String>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// The caller's request is at fault.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
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

    /// Sets the upstream's retry hint.
    pub fn with_retry_after(mut self, after: Option<String>) -> Self {
        self.retry_after = after;
        self
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
