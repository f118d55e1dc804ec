//! Gemini's API under `/v1beta` (the google-genai SDKs, Gemini CLI), served
//! by any configured model: `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent` (`?alt=sse`: SSE; without it: one JSON array),
//! `:countTokens`, `:embedContent`, `:batchEmbedContents`; `GET
//! /v1beta/models` and `/v1beta/models/{model}`. The
//! same under `/v1/models/` (Gemini's `v1`, google-genai 3's default;
//! `GET /v1/models` answers in Gemini's shape when `x-goog-api-key` is sent).
//! `{model}` is the gateway's model name; one `/` in it is served as well
//! (`openai/gpt-4o`, or a second `models/`). Plain segments, so that the
//! HTTP metrics label each route by its template.

use super::call::{scan, serve};
use super::chat::resolve;
use super::ApiError;
use crate::auth::Caller;
use crate::config::ModelRoute;
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::metrics::Endpoint;
use crate::protocol::error::quoted;
use crate::protocol::gemini::caller::{models, JsonArray};
use crate::upstream::{Call, Operation};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What a `POST /v1beta/models/…` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Generate,
    Stream,
    CountTokens,
    Embed,
    BatchEmbed,
}

/// `{model}:{method}` → the model and the method; an unknown method is a
/// 404 in Gemini's shape.
fn target(path: &str) -> Result<(&str, Method), GatewayError> {
    let (model, method) = path.rsplit_once(':').unwrap_or((path, ""));
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream,
        "countTokens" => Method::CountTokens,
        "embedContent" => Method::Embed,
        "batchEmbedContents" => Method::BatchEmbed,
        _ => {
            return Err(GatewayError::new(
                ErrorKind::NotFound,
                format!(
                    "Unknown method `{}`: the gateway serves generateContent, streamGenerateContent, countTokens, embedContent and batchEmbedContents.",
                    quoted(method)
                ),
            )
            .with_code("unknown_url"))
        }
    };
    Ok((model_name(model), method))
}

/// A model name without the `models/` prefix.
fn model_name(name: &str) -> &str {
    name.strip_prefix("models/").unwrap_or(name)
}

/// Whether the caller asked for the SSE form (`alt=sse`).
fn wants_sse(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|pair| pair.eq_ignore_ascii_case("alt=sse"))
}

/// The model path of a request: `{target}`, or `{owner}/{target}`.
fn joined(req: &HttpRequest) -> String {
    let info = req.match_info();
    let target = info.get("target").unwrap_or_default();
    match info.get("owner") {
        Some(owner) => format!("{owner}/{target}"),
        None => target.to_owned(),
    }
}

/// `POST /v1beta/models/{model}:{method}`.
pub async fn post(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let path = joined(&req);
    let (model, method) = match target(&path) {
        Ok(t) => t,
        Err(e) => return super::render(&e, InboundApi::Gemini),
    };
    let (endpoint, operation) = match method {
        Method::Generate => (Endpoint::GenerateContent, Operation::Chat),
        Method::Stream => (Endpoint::StreamGenerateContent, Operation::Chat),
        Method::CountTokens => (Endpoint::GeminiCountTokens, Operation::CountTokens),
        Method::Embed => (Endpoint::EmbedContent, Operation::Embeddings),
        Method::BatchEmbed => (Endpoint::BatchEmbedContents, Operation::Embeddings),
    };
    let stream = method == Method::Stream;
    let resp = serve(
        &req,
        caller,
        payload,
        endpoint,
        InboundApi::Gemini,
        |c, body| {
            let route = resolve(&c.snapshot, model)?;
            let route = route.clone();
            let mut call = Call::new(operation, InboundApi::Gemini, scan(body)?, route, model);
            call.stream = stream;
            call.include_usage = true;
            Ok(call)
        },
    )
    .await;
    if stream && !wants_sse(&req) && resp.status() == StatusCode::OK {
        as_json_array(resp)
    } else {
        resp
    }
}

/// A streamed answer in the JSON-array form.
fn as_json_array(resp: HttpResponse) -> HttpResponse {
    resp.map_body(|head, body| {
        head.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        BoxBody::new(ArrayBody {
            inner: body,
            framing: JsonArray::default(),
            ended: false,
        })
    })
}

/// The SSE body re-framed as it streams ([`JsonArray`]).
struct ArrayBody {
    inner: BoxBody,
    framing: JsonArray,
    ended: bool,
}

impl MessageBody for ArrayBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let mut out = BytesMut::new();
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(sse))) => this.framing.frame(&sse, &mut out),
                Poll::Ready(None) => {
                    this.ended = true;
                    this.framing.finish(&mut out);
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(out.freeze())));
            }
        }
    }
}

/// The models the caller may use, enabled ones only.
fn usable(caller: &Caller) -> impl Iterator<Item = &Arc<ModelRoute>> {
    caller
        .snapshot
        .models
        .values()
        .filter(|m| m.enabled() && caller.limits.policy().allows(&m.name))
}

/// `GET /v1beta/models`: every model the key may use, in one page.
pub async fn list(caller: Result<Caller, ApiError>) -> Result<HttpResponse, ApiError> {
    Ok(listing(&caller?))
}

/// The models list in Gemini's shape.
pub fn listing(caller: &Caller) -> HttpResponse {
    let models: Vec<_> = usable(caller)
        .map(|m| models::entry(&m.name, m.default_max_tokens))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "models": models }))
}

/// `GET /v1beta/models/{model}`: one model the key may use, else 404;
/// under `/v1/models/` without Gemini's key header in OpenAI's shape.
pub async fn get(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller?;
    let path = joined(&req);
    let name = model_name(&path);
    let api = ApiError::api_of(&req);
    let found = usable(&caller).find(|m| &*m.name == name).map(|m| {
        if api == InboundApi::Gemini {
            models::entry(&m.name, m.default_max_tokens)
        } else {
            // OpenAI's `GET /v1/models/{model}` (no Gemini key header).
            serde_json::json!({"id": &*m.name, "object": "model", "created": 0,
                               "owned_by": &**m.owner()})
        }
    });
    match found {
        Some(entry) => Ok(HttpResponse::Ok().json(entry)),
        None => Err(ApiError(
            GatewayError::new(
                ErrorKind::ModelNotFound,
                format!(
                    "The model `{}` does not exist on this gateway.",
                    quoted(name)
                ),
            )
            .with_code("model_not_found"),
            api,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_the_model_and_the_method() {
        assert_eq!(
            target("gem:generateContent").unwrap(),
            ("gem", Method::Generate)
        );
        assert_eq!(
            target("models/gem:streamGenerateContent").unwrap(),
            ("gem", Method::Stream)
        );
        assert_eq!(
            target("a:b:countTokens").unwrap(),
            ("a:b", Method::CountTokens)
        );
        for bad in ["gem", "gem:predict", "gem:"] {
            assert_eq!(target(bad).unwrap_err().kind, ErrorKind::NotFound, "{bad}");
        }
    }
}
