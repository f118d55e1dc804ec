//! `GET /v1/models`: the models a caller can use, in OpenAI's list shape.

use crate::auth::Caller;
use actix_web::HttpResponse;
use serde::Serialize;

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelEntry<'a>>,
}

#[derive(Serialize)]
struct ModelEntry<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'a str,
}

/// Lists the configured models whose provider is enabled; `owned_by` is the
/// provider ID.
pub async fn list(caller: Caller) -> HttpResponse {
    let data = caller
        .snapshot
        .models
        .values()
        .filter(|m| m.enabled())
        .map(|m| ModelEntry {
            id: &m.name,
            object: "model",
            created: 0,
            owned_by: m.owner(),
        })
        .collect();
    HttpResponse::Ok().json(ModelList {
        object: "list",
        data,
    })
}
