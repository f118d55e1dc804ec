//! Who is calling, from their gateway key ([`authenticate`]).
//!
//! The key comes from `Authorization: Bearer <key>` (any case of the scheme;
//! a bare key without it is refused) or `x-api-key`; on Gemini's routes
//! also from `x-goog-api-key` or `?key=` (as the google-genai SDKs and
//! Gemini CLI send it; request paths are logged without the query). Missing,
//! unknown and disabled keys get the same 401, so a caller cannot probe which
//! keys exist; keys are looked up by SHA-256 digest (see
//! [`key_digest`](crate::config::key_digest)).

use crate::config::Snapshot;
use crate::error::{ErrorKind, GatewayError};
use crate::state::Shared;
use actix_web::{web, HttpRequest};
use std::borrow::Cow;
use std::sync::Arc;

/// An authenticated caller and the snapshot their request is served with.
pub struct Caller {
    /// The key's configured name: who the caller is in logs and metrics.
    pub name: Arc<str>,
    /// The config snapshot taken at the start of the request.
    pub snapshot: Arc<Snapshot>,
    /// The key's limits and live counters.
    pub limits: Arc<crate::governance::KeyState>,
}

/// The token of `Authorization: Bearer <token>`, the scheme matched
/// case-insensitively (RFC 9110 §11.1); `None` without the header, for
/// another scheme, or for a bare value without a scheme. The one parser for
/// gateway and admin keys.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Where Gemini's routes live.
pub const GEMINI_PREFIX: &str = "/v1beta/";

/// Whether a request is for Gemini's API: under `/v1beta/`, or under
/// `/v1/models` (Gemini's `v1`, which google-genai 3 uses by default) with
/// a `:method` or Gemini's key header.
pub fn is_gemini(req: &HttpRequest) -> bool {
    let path = req.path();
    path.starts_with(GEMINI_PREFIX)
        || (path.starts_with("/v1/models")
            && (path.contains(':') || req.headers().contains_key("x-goog-api-key")))
}

/// The presented key, if any: the bearer token, else `x-api-key`
/// (Anthropic's SDKs), else on Gemini's routes `x-goog-api-key` or the
/// `key` query parameter.
fn presented_key(req: &HttpRequest) -> Option<Cow<'_, str>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(key) = bearer_token(req).or_else(|| header("x-api-key")) {
        return Some(Cow::Borrowed(key));
    }
    if !is_gemini(req) {
        return None;
    }
    if let Some(key) = header("x-goog-api-key") {
        return Some(Cow::Borrowed(key));
    }
    #[derive(serde::Deserialize)]
    struct KeyParam {
        key: Option<String>,
    }
    web::Query::<KeyParam>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().key)
        .map(Cow::Owned)
}

/// Authenticates a request against the live snapshot: missing, unknown and
/// disabled keys are the same error.
pub fn authenticate(req: &HttpRequest) -> Result<Caller, GatewayError> {
    let Some(shared) = req.app_data::<web::Data<Shared>>() else {
        return Err(GatewayError::new(
            ErrorKind::Internal,
            "gateway state missing",
        ));
    };
    let snapshot = shared.snapshot();
    let entry = presented_key(req)
        .filter(|k| !k.is_empty())
        .and_then(|k| snapshot.key(&k))
        .filter(|e| e.enabled);
    match entry {
        Some(e) => Ok(Caller {
            name: e.name.clone(),
            limits: e.state.clone(),
            snapshot: snapshot.clone(),
        }),
        None => Err(GatewayError::new(
            ErrorKind::Authentication,
            "Invalid or missing API key. Send your gateway key as `Authorization: Bearer <key>`.",
        )
        .with_code("invalid_api_key")),
    }
}
