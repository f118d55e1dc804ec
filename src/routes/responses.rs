//! `POST /v1/responses`, `GET /v1/responses/{id}`: the OpenAI Responses
//! API, for Codex CLI, the OpenAI Agents SDK and the Vercel AI SDK, served
//! by any configured model.
//!
//! State is the gateway's own: a `store: true` answer (the API's default)
//! is kept on the worker's [`Shelf`] under the caller's key (the replica's
//! memory, and Redis when the limits store is Redis);
//! `previous_response_id` puts the stored conversation in front of the new
//! `input` before anything goes upstream (an unknown id is a 404 and
//! nothing is sent). `GET /v1/responses` asking for a WebSocket upgrade is
//! answered 426, so clients that try that transport fall back to HTTP.

use super::call::{scan, serve_with};
use super::chat::resolve;
use super::ApiError;
use crate::auth::Caller;
use crate::config::responses::ResponsesSettings;
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::governance::redis::WorkerStore;
use crate::metrics::Endpoint;
use crate::protocol::error::{quoted, ErrorReply};
use crate::protocol::openai::responses::{Keep, ResponsesCaller, ResponsesContext};
use crate::protocol::raw::RawBody;
use crate::state::responses::{Shelf, Stored};
use crate::state::Shared;
use crate::upstream::{Call, Operation};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// The fields the route reads: routing, and the store.
struct Head {
    model: String,
    stream: bool,
    store: bool,
    previous: Option<String>,
}

fn head(obj: &RawBody) -> Result<Head, GatewayError> {
    fn field<T: for<'de> Deserialize<'de>>(
        obj: &RawBody,
        key: &'static str,
        expected: &str,
    ) -> Result<Option<T>, GatewayError> {
        match obj.get(key).filter(|v| *v != "null") {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw).map(Some).map_err(|_| {
                GatewayError::invalid(format!("`{key}` must be {expected}")).with_param(key)
            }),
        }
    }
    let model = field(obj, "model", "a string")?
        .ok_or_else(|| GatewayError::invalid("`model` is required").with_param("model"))?;
    Ok(Head {
        model,
        stream: field(obj, "stream", "a boolean")?.unwrap_or(false),
        store: field(obj, "store", "a boolean")?.unwrap_or(true),
        previous: field(obj, "previous_response_id", "a string")?,
    })
}

/// The request's `input` as a list of items (a string is one user
/// message).
fn input_items(obj: &RawBody) -> Result<Vec<Box<RawValue>>, GatewayError> {
    let wrong = || {
        GatewayError::invalid("`input` must be a string or an array of items").with_param("input")
    };
    match obj.get("input").filter(|v| *v != "null") {
        None => Ok(Vec::new()),
        Some(raw) if raw.starts_with('"') => {
            let text: String = serde_json::from_str(raw).map_err(|_| wrong())?;
            let item = serde_json::json!({"role": "user", "content": text});
            Ok(vec![
                RawValue::from_string(item.to_string()).map_err(|_| wrong())?
            ])
        }
        Some(raw) => serde_json::from_str(raw).map_err(|_| wrong()),
    }
}

/// Keeps one call's answer in the store, with its conversation.
struct Keeper {
    shelf: Shelf,
    bounds: ResponsesSettings,
    owner: Arc<str>,
    id: String,
    /// The input items of the call (earlier turns included).
    input: Vec<Box<RawValue>>,
}

impl Keep for Keeper {
    fn keep(&self, response: &[u8]) {
        #[derive(Deserialize)]
        struct Output<'a> {
            #[serde(borrow, default)]
            output: Vec<&'a RawValue>,
        }
        let Ok(out) = serde_json::from_slice::<Output>(response) else {
            return;
        };
        let items: Vec<&RawValue> = self
            .input
            .iter()
            .map(AsRef::as_ref)
            .chain(out.output)
            .collect();
        let stored = Stored {
            response: Bytes::copy_from_slice(response),
            conversation: serde_json::to_vec(&items).unwrap_or_default().into(),
        };
        self.shelf.put(&self.owner, &self.id, stored, &self.bounds);
    }
}

/// A fresh `resp_…` id: 128 random bits in hex.
fn new_id() -> Result<String, GatewayError> {
    use ring::rand::{SecureRandom, SystemRandom};
    use std::fmt::Write;
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| GatewayError::new(ErrorKind::Internal, "no randomness for a response id"))?;
    let mut id = String::with_capacity(37);
    id.push_str("resp_");
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    Ok(id)
}

fn not_found(what: &str, id: &str, param: Option<&'static str>) -> GatewayError {
    let e = GatewayError::new(
        ErrorKind::NotFound,
        format!("{what} with id '{}' not found.", quoted(id)),
    );
    match param {
        Some(p) => e.with_param(p).with_code("previous_response_not_found"),
        None => e,
    }
}

/// The worker's shelf: this replica's memory, and Redis when the limits
/// store is Redis.
fn shelf(req: &HttpRequest, shared: &Shared) -> Shelf {
    let redis = shared
        .store
        .as_ref()
        .and_then(|_| req.app_data::<web::Data<Option<WorkerStore>>>())
        .and_then(|s| s.get_ref().as_ref())
        .and_then(WorkerStore::connection);
    Shelf {
        memory: shared.responses.clone(),
        redis,
        timeout: shared.snapshot().limits.store_timeout,
    }
}

async fn call(shelf: &Shelf, caller: &Caller, body: Bytes) -> Result<Call, GatewayError> {
    let raw = scan(body)?;
    let head = head(&raw)?;
    let route = resolve(&caller.snapshot, &head.model)?;
    let mut input = input_items(&raw)?;
    let raw = match head.previous.as_deref() {
        None => raw,
        Some(prev) => {
            let stored = shelf.get(&caller.name, prev).await.ok_or_else(|| {
                not_found("Previous response", prev, Some("previous_response_id"))
            })?;
            let mut history: Vec<Box<RawValue>> = serde_json::from_slice(&stored.conversation)
                .map_err(|_| {
                    GatewayError::new(ErrorKind::Internal, "a stored conversation is unreadable")
                })?;
            history.append(&mut input);
            input = history;
            let joined = serde_json::to_vec(&input).unwrap_or_default();
            let limit = caller.snapshot.server.max_body_bytes;
            if joined.len() + raw.bytes().len() > limit {
                return Err(GatewayError::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "The conversation (the stored one of `previous_response_id` and this input) \
                         is larger than the gateway's limit of {limit} bytes."
                    ),
                )
                .with_param("previous_response_id")
                .with_code("request_too_large"));
            }
            scan(raw.write_with(&[("input", &joined)]).into())?
        }
    };
    let id = new_id()?;
    let keep = head.store.then(|| {
        Arc::new(Keeper {
            shelf: shelf.clone(),
            bounds: caller.snapshot.responses,
            owner: caller.name.clone(),
            id: id.clone(),
            input,
        }) as Arc<dyn Keep>
    });
    let ctx = ResponsesContext {
        id,
        keep,
        ..Default::default()
    };
    let parsed = ResponsesCaller.parse_with(raw.bytes(), ctx)?;
    let mut call = Call::new(
        Operation::Chat,
        InboundApi::Responses,
        raw,
        route.clone(),
        head.model,
    )
    .with_parsed(parsed);
    call.stream = head.stream;
    call.include_usage = true;
    Ok(call)
}

/// `POST /v1/responses`.
pub async fn create(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let shelf = shelf(&req, &shared);
    serve_with(
        &req,
        caller,
        payload,
        Endpoint::Responses,
        InboundApi::Responses,
        async |c, body| call(&shelf, c, body).await,
    )
    .await
}

/// `GET /v1/responses/{id}`: a response this key stored on this replica.
pub async fn get(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    id: web::Path<String>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller?;
    match shelf(&req, &shared).get(&caller.name, &id).await {
        Some(stored) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(stored.response)),
        None => Err(ApiError(
            not_found("Response", &id, None),
            InboundApi::Responses,
        )),
    }
}

/// `GET /v1/responses`: the WebSocket transport is not served (426, so
/// clients fall back to HTTP); a plain GET is an unknown endpoint.
pub async fn websocket(req: HttpRequest) -> HttpResponse {
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("websocket"));
    if !upgrade {
        return super::not_found(req).await;
    }
    let reply = ErrorReply {
        status: 426,
        message: "This gateway serves the Responses API over HTTP (POST /v1/responses), not over WebSocket.",
        param: None,
        code: Some("websocket_not_supported"),
    };
    HttpResponse::build(StatusCode::UPGRADE_REQUIRED)
        .content_type("application/json")
        .body(InboundApi::Responses.caller().error_body(&reply))
}
