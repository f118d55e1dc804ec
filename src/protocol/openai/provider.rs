//! OpenAI-compatible servers as providers: their error bodies, and answers
//! the gateway could not read.

use crate::protocol::{Error, ErrorKind};

/// An answer the gateway could not read.
pub fn unreadable() -> Error {
    Error::new(
        ErrorKind::BadUpstreamResponse,
        "the upstream returned a response the gateway could not read",
    )
}

/// An OpenAI-shaped error answer: the upstream's message and code kept.
pub fn openai_error(status: u16, body: &[u8], retry_after: Option<String>) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: Option<String>,
        code: Option<serde_json::Value>,
        param: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.error.message.clone())
        .unwrap_or_else(|| format!("the upstream returned HTTP {status}"));
    let mut err = Error::new(ErrorKind::Upstream(status), message).with_retry_after(retry_after);
    if let Some(inner) = parsed.map(|b| b.error) {
        err.code = match inner.code {
            Some(serde_json::Value::String(s)) => Some(s.into()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string().into()),
            _ => None,
        };
        err.param = inner.param.map(Into::into);
    }
    err
}
