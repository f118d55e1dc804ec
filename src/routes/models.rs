//! `GET /v1/models`: the models a caller can use, in OpenAI's list shape, or
//! in Anthropic's, paginated, for Anthropic callers (an `anthropic-version`
//! header or `x-api-key` auth: the Anthropic SDKs and Claude Code). A key
//! with a model allow-list sees only the models it may use; patterns are
//! routes, not models, and are not listed.

use super::render;
use crate::auth::Caller;
use crate::config::ModelRoute;
use crate::error::{GatewayError, InboundApi};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Anthropic's page size when `limit` is not given, and its largest.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1000;

/// Anthropic's pagination parameters.
#[derive(Deserialize)]
struct Page {
    limit: Option<String>,
    after_id: Option<String>,
    before_id: Option<String>,
}

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
        .filter(|m| !m.is_pattern() && m.enabled() && caller.limits.policy().allows(&m.name))
        .collect();
    let headers = req.headers();
    let anthropic = headers.contains_key("anthropic-version")
        || (headers.contains_key("x-api-key") && !headers.contains_key("authorization"));
    if anthropic {
        return match page(req.query_string(), &models) {
            Ok(body) => HttpResponse::Ok().json(body),
            Err(e) => render(&e, InboundApi::Anthropic),
        };
    }
    let data: Vec<_> = models
        .iter()
        .map(|m| json!({"id": &*m.name, "object": "model", "created": 0, "owned_by": &**m.owner()}))
        .collect();
    HttpResponse::Ok().json(json!({"object": "list", "data": data}))
}

/// One page of Anthropic's list (models in name order): `limit` (1-1000,
/// default 20) models after `after_id` or, with `before_id`, the last
/// `limit` before it; ids need not exist, they mark a place in the order.
fn page(query: &str, models: &[&Arc<ModelRoute>]) -> Result<serde_json::Value, GatewayError> {
    let wrong = |param: &'static str, problem: &str| {
        GatewayError::invalid(format!("{param}: {problem}")).with_param(param)
    };
    let q = actix_web::web::Query::<Page>::from_query(query)
        .map_err(|_| GatewayError::invalid("The query string could not be read."))?
        .into_inner();
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| wrong("limit", "must be an integer from 1 to 1000"))?,
    };
    let (items, has_more) = match (q.after_id.as_deref(), q.before_id.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(wrong("before_id", "cannot be combined with after_id"));
        }
        (_, Some(before)) => {
            let end = models.partition_point(|m| &*m.name < before);
            let start = end.saturating_sub(limit);
            (&models[start..end], start > 0)
        }
        (after, None) => {
            let start = after.map_or(0, |a| models.partition_point(|m| &*m.name <= a));
            let end = (start + limit).min(models.len());
            (&models[start..end], end < models.len())
        }
    };
    let data: Vec<_> = items
        .iter()
        .map(|m| {
            json!({"type": "model", "id": &*m.name, "display_name": &*m.name,
                   "created_at": "1970-01-01T00:00:00Z"})
        })
        .collect();
    Ok(json!({
        "data": data,
        "has_more": has_more,
        "first_id": items.first().map(|m| &*m.name),
        "last_id": items.last().map(|m| &*m.name),
    }))
}
