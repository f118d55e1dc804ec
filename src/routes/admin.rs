//! `POST /admin/reload`: reload the config now. Off unless `[server]
//! admin_key` is set; the admin key is separate from gateway keys.

use super::render;
use crate::config::key_digest;
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::state::reload::{Refused, Reload};
use crate::state::Shared;
use actix_web::{web, HttpRequest, HttpResponse};

/// `POST /admin/reload`'s query.
#[derive(Debug, Default, serde::Deserialize)]
struct ReloadQuery {
    /// Publish a valid file even if it removes every gateway key or model.
    #[serde(default)]
    force: bool,
}

/// Reloads the config file and answers the new generation, or why the file
/// was refused (the old config keeps serving). `?force=true` publishes a
/// file that removes every gateway key or every model.
pub async fn reload(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let api = InboundApi::OpenAi;
    let snapshot = shared.snapshot();
    let (Some(admin), Some(reloader)) = (snapshot.server.admin_key, shared.reloader.get()) else {
        let e = GatewayError::new(ErrorKind::NotFound, "Unknown endpoint: POST /admin/reload")
            .with_code("unknown_url");
        return render(&e, api);
    };
    let presented = crate::auth::bearer_token(&req).unwrap_or_default();
    if key_digest(presented) != admin {
        let e = GatewayError::new(ErrorKind::Authentication, "Invalid or missing admin key.")
            .with_code("invalid_api_key");
        return render(&e, api);
    }
    let Ok(query) = web::Query::<ReloadQuery>::from_query(req.query_string()) else {
        let e = GatewayError::invalid("`force` must be true or false").with_param("force");
        return render(&e, api);
    };
    match reloader.send(Reload { force: query.force }).await {
        Ok(Ok(generation)) => HttpResponse::Ok()
            .json(serde_json::json!({"status": "reloaded", "config_generation": generation})),
        Ok(Err(refused)) => {
            let code = match refused {
                Refused::Invalid(_) => "config_invalid",
                Refused::Empty(_) => "config_empty",
            };
            HttpResponse::UnprocessableEntity().json(serde_json::json!({
                "error": {"message": format!("The config was refused; the previous one keeps serving. {refused}"),
                          "type": "invalid_request_error", "param": null, "code": code}
            }))
        }
        Err(_) => render(
            &GatewayError::new(ErrorKind::Internal, "the config actor is not running"),
            api,
        ),
    }
}
