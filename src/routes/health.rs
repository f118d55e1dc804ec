//! Liveness and readiness.

use crate::state::Shared;
use actix_web::{web, HttpResponse};

/// `GET /health`: the process is alive.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /ready`: 200 while serving, 503 while starting or draining.
pub async fn ready(shared: web::Data<Shared>) -> HttpResponse {
    if shared.is_ready() {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"status":"ready"}"#)
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("application/json")
            .body(r#"{"status":"not_ready"}"#)
    }
}
