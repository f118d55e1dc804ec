//! `POST /v1/chat/completions`: OpenAI format in and out, any provider.

use super::call::serve;
use super::ApiError;
use crate::auth::Caller;
use crate::config::{ModelRoute, Snapshot};
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::metrics::Endpoint;
use crate::protocol::error::quoted;
use crate::protocol::openai::StreamOptions;
use crate::protocol::raw::RawBody;
use crate::upstream::{Call, Operation};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::sync::Arc;

/// The fields of a chat request the gateway routes on, read from the one
/// scan of the body ([`RawBody`]); the rest of the body is left to the
/// provider's dialect.
struct ChatHead {
    model: String,
    stream: bool,
    include_usage: bool,
}

/// The routing fields as serde checks them. Parsed only for a body the
/// one-scan read refused, so that the error is serde's own, word for word.
#[derive(Deserialize)]
#[allow(dead_code)] // read for its errors only
struct StrictHead {
    model: String,
    messages: Vec<IgnoredAny>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

/// The routing members, in [`ChatHead::fields`]' order.
const ROUTING: [&str; 4] = ["model", "messages", "stream", "stream_options"];

impl ChatHead {
    /// Scans the body once and reads the routing fields out of it.
    fn read(bytes: Bytes) -> Result<(Self, RawBody), GatewayError> {
        let read = RawBody::parse(bytes.clone())
            .ok()
            .and_then(|body| Some((Self::fields(&body)?, body)));
        match read {
            Some((Ok(head), body)) => Ok((head, body)),
            Some((Err(e), _)) => Err(e),
            None => Err(strict_error(&bytes)),
        }
    }

    /// The routing fields; `None` when one is missing, repeated or of the
    /// wrong type (the strict parse then says which).
    fn fields(body: &RawBody) -> Option<Result<Self, GatewayError>> {
        let mut raw: [Option<&str>; 4] = [None; 4];
        for (key, value) in body.members() {
            if let Some(i) = ROUTING.iter().position(|r| *r == key) {
                if raw[i].replace(value).is_some() {
                    return None;
                }
            }
        }
        let [model, messages, stream, options] = raw;
        let model: String = serde_json::from_str(model?).ok()?;
        let items = messages?.strip_prefix('[')?.trim_start();
        let stream = match stream {
            Some(v) => serde_json::from_str::<Option<bool>>(v).ok()?,
            None => None,
        }
        .unwrap_or(false);
        let options = match options {
            Some(v) => serde_json::from_str::<Option<StreamOptions>>(v).ok()?,
            None => None,
        };
        if items.starts_with(']') {
            return Some(Err(
                GatewayError::invalid("`messages` must not be empty").with_param("messages")
            ));
        }
        let include_usage = stream && options.and_then(|o| o.include_usage).unwrap_or(false);
        Some(Ok(Self {
            model,
            stream,
            include_usage,
        }))
    }
}

/// What is wrong with a body the one-scan read refused, in serde's words.
fn strict_error(body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<StrictHead>(body) {
        Err(e) => GatewayError::bad_body(&e),
        // Not reached: the read refuses only what serde refuses.
        Ok(_) => GatewayError::invalid("The request body could not be read."),
    }
}

/// The route of a model name (its exact entry, else the longest matching
/// pattern), if it exists and its provider is enabled; an error quotes the
/// name only shortened and sanitised.
pub fn resolve<'a>(
    snapshot: &'a Snapshot,
    model: &str,
) -> Result<&'a Arc<ModelRoute>, GatewayError> {
    match snapshot.route(model) {
        Some(route) if route.enabled() => Ok(route),
        Some(_) => Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` is not available: its provider is disabled.",
                quoted(model)
            ),
        )
        .with_code("model_not_found")
        .with_param("model")),
        None => Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` does not exist on this gateway.",
                quoted(model)
            ),
        )
        .with_code("model_not_found")
        .with_param("model")),
    }
}

/// Serves one chat completion, streamed or not.
pub async fn completions(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let anthropic_beta = header(&req, "anthropic-beta");
    let anthropic_version = header(&req, "anthropic-version");
    serve(
        &req,
        caller,
        payload,
        Endpoint::ChatCompletions,
        InboundApi::OpenAi,
        |caller, body| {
            let (head, body) = ChatHead::read(body)?;
            let route = resolve(&caller.snapshot, &head.model)?;
            let route = route.clone();
            let mut call = Call::new(Operation::Chat, InboundApi::OpenAi, body, route, head.model);
            call.stream = head.stream;
            call.include_usage = head.include_usage;
            call.anthropic_beta = anthropic_beta;
            call.anthropic_version = anthropic_version;
            Ok(call)
        },
    )
    .await
}

/// A request header's value, when it is text.
pub fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<(bool, bool), String> {
        ChatHead::read(Bytes::from(body.to_owned()))
            .map(|(h, _)| (h.stream, h.include_usage))
            .map_err(|e| e.message.to_string())
    }

    #[test]
    fn the_one_scan_reads_the_routing_fields() {
        let msgs = r#""messages":[{"role":"user","content":"hi"}]"#;
        assert_eq!(
            read(&format!(r#"{{"model":"m",{msgs}}}"#)),
            Ok((false, false))
        );
        let asked = format!(
            r#"{{"model":"m",{msgs},"stream":true,"stream_options":{{"include_usage":true}}}}"#
        );
        assert_eq!(read(&asked), Ok((true, true)));
        let nulls = format!(r#"{{"model":"m",{msgs},"stream":null,"stream_options":null}}"#);
        assert_eq!(read(&nulls), Ok((false, false)));
        let empty = read(r#"{"model":"m","messages":[ ]}"#).unwrap_err();
        assert_eq!(empty, "`messages` must not be empty");
    }

    #[test]
    fn a_refused_body_gets_serdes_own_words() {
        for body in [
            r#"{"messages":[]}"#,
            r#"{"model":"m"}"#,
            r#"{"model":1,"messages":[]}"#,
            r#"{"model":"m","messages":"x"}"#,
            r#"{"model":"m","messages":[],"stream":"yes"}"#,
            r#"{"model":"m","messages":[],"stream_options":[]}"#,
            r#"{"model":"m","model":"n","messages":[]}"#,
            r#"[1]"#,
            r#"{"model":"m","messages":["#,
        ] {
            let strict = strict_error(body.as_bytes()).message.to_string();
            assert_eq!(read(body), Err(strict), "{body}");
        }
    }
}
