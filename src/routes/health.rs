//! Liveness and readiness.

use crate::state::Shared;
use actix_web::{web, HttpResponse};

/// `GET /health`: the process is alive.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /ready`: 200 while serving, 503 while starting or draining; the
/// body names the config generation being served, so a caller can await a
/// reload.
pub async fn ready(shared: web::Data<Shared>) -> HttpResponse {
    let generation = shared.snapshot().generation;
    let (mut b, status) = if shared.is_ready() {
        (HttpResponse::Ok(), "ready")
    } else {
        (HttpResponse::ServiceUnavailable(), "not_ready")
    };
    b.json(serde_json::json!({"status": status, "config_generation": generation}))
}
