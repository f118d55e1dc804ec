//! Liveness and readiness.

use crate::state::Shared;
use actix_web::{web, HttpResponse};

/// `GET /health`: the process is alive.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /ready`: 200 while serving, 503 while starting or draining. The
/// body names the config generation being served (so a caller can await a
/// reload) and each target's health (an open circuit breaker is unhealthy;
/// serving the rest is still ready).
pub async fn ready(shared: web::Data<Shared>) -> HttpResponse {
    let snapshot = shared.snapshot();
    let targets: Vec<_> = crate::upstream::breaker::targets(&snapshot, &shared.breakers)
        .0
        .into_iter()
        .map(|t| serde_json::json!({"provider": &*t.provider, "model": &*t.model, "healthy": t.healthy}))
        .collect();
    let (mut b, status) = if shared.is_ready() {
        (HttpResponse::Ok(), "ready")
    } else {
        (HttpResponse::ServiceUnavailable(), "not_ready")
    };
    b.json(serde_json::json!({
        "status": status,
        "config_generation": snapshot.generation,
        "targets": targets,
    }))
}
