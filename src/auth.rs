//! Who is calling, from their gateway key ([`authenticate`]).
//!
//! The key comes from `Authorization: Bearer <key>` (any case of the scheme;
//! a bare key without it is refused) or `x-api-key`. Missing,
//! unknown and disabled keys get the same 401, so a caller cannot probe which
//! keys exist; keys are looked up by SHA-256 digest (see
//! [`key_digest`](crate::config::key_digest)).

use crate::config::Snapshot;
use crate::error::{ErrorKind, GatewayError};
use crate::state::Shared;
use actix_web::{web, HttpRequest};
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

/// The presented key, if any: the bearer token, else `x-api-key`
/// (Anthropic's SDKs).
fn presented_key(req: &HttpRequest) -> Option<&str> {
    bearer_token(req).or_else(|| {
        req.headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
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
        .and_then(|k| snapshot.key(k))
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
