//! `GET /v1/models`: the models a caller can use, in OpenAI's list shape, or
//! in Anthropic's when the caller sends `anthropic-version` (the Anthropic
//! SDKs and Claude Code do). A key with a model allow-list sees only the
//! models it may use.

use crate::auth::Caller;
use crate::config::ModelRoute;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use std::sync::Arc;

/// Lists the configured models whose provider is enabled (Gemini's shape
/// for a Gemini caller: `x-goog-api-key` sent).
pub async fn list(req: HttpRequest, caller: Caller) -> HttpResponse {
    if crate::auth::is_gemini(&req) {
        return super::gemini::listing(&caller);
    }
    let models: Vec<&Arc<ModelRoute>> = caller
        .snapshot
        .models
        .values()
        .filter(|m| m.enabled() && caller.limits.policy().allows(&m.name))
        .collect();
    if req.headers().contains_key("anthropic-version") {
        let data: Vec<_> = models
            .iter()
            .map(|m| {
                json!({"type": "model", "id": &*m.name, "display_name": &*m.name,
                       "created_at": "1970-01-01T00:00:00Z"})
            })
            .collect();
        return HttpResponse::Ok().json(json!({
            "data": data,
            "has_more": false,
            "first_id": models.first().map(|m| &*m.name),
            "last_id": models.last().map(|m| &*m.name),
        }));
    }
    let data: Vec<_> = models
        .iter()
        .map(|m| json!({"id": &*m.name, "object": "model", "created": 0, "owned_by": &**m.owner()}))
        .collect();
    HttpResponse::Ok().json(json!({"object": "list", "data": data}))
}
