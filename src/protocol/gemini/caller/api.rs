//! The Gemini caller side of the seam.

use super::embed;
use super::request::{self, Converted};
use super::stream::with_model;
use super::{response, GeminiEncoder, GeminiPassThrough};
use crate::protocol::anthropic::caller::count::estimate;
use crate::protocol::error::{Error, ErrorReply};
use crate::protocol::gemini::provider::response::usage_from;
use crate::protocol::gemini::types::GenerateContentResponse;
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::{ChatResponse, StreamOptions, Usage};
use crate::protocol::seam::{Answer, CallerApi, Parsed, ParsedEmbeddings, Routed};
use crate::protocol::sse;
use crate::protocol::stream::{ClientEncoder, Translator};
use bytes::{Bytes, BytesMut};
use serde::Serialize;
use std::sync::Arc;

/// The Gemini `generateContent` caller side (google-genai, Gemini CLI).
#[derive(Debug, Clone, Copy)]
pub struct GeminiCaller;

impl CallerApi for GeminiCaller {
    /// A body alone names no model (the URL does): `model` in the body, if
    /// any, else none.
    fn parse(&self, body: &[u8]) -> Result<Parsed, Error> {
        #[derive(serde::Deserialize)]
        struct Named {
            #[serde(default)]
            model: String,
        }
        let named: Named = serde_json::from_slice(body).map_err(|e| Error::bad_body(&e))?;
        let model = named.model.strip_prefix("models/").unwrap_or(&named.model);
        self.parse_routed(
            body,
            Routed {
                model,
                stream: false,
            },
        )
    }

    fn parse_routed(&self, body: &[u8], route: Routed<'_>) -> Result<Parsed, Error> {
        let Converted {
            mut request,
            dropped,
        } = request::to_openai(request::parse(body)?, route.model)?;
        request.dropped = dropped;
        if route.stream {
            request.stream = true;
            request.stream_options = Some(StreamOptions {
                include_usage: Some(true),
                ..StreamOptions::default()
            });
        }
        Ok(Parsed {
            request,
            answer: Arc::new(GeminiAnswer {
                model: route.model.to_owned(),
            }),
        })
    }

    fn relay(&self, _include_usage: bool, model: &str) -> Box<dyn Translator> {
        Box::new(GeminiPassThrough::new(model))
    }

    fn relayed_usage(&self, body: &[u8]) -> Result<Option<Usage>, Error> {
        let resp: GenerateContentResponse =
            serde_json::from_slice(body).map_err(|_| unreadable())?;
        Ok(resp.usage_metadata.as_ref().map(usage_from))
    }

    /// `modelVersion` names the caller's model, as in converted answers.
    fn relayed(&self, body: Bytes, model: &str) -> Result<(Bytes, Option<Usage>), Error> {
        let usage = self.relayed_usage(&body)?;
        let body = with_model(&body, model).map_or(body, Bytes::from);
        Ok((body, usage))
    }

    fn error_body(&self, e: &ErrorReply<'_>) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: u16,
            message: &'a str,
            status: &'static str,
        }
        let body = Body {
            error: Inner {
                code: e.status,
                message: e.message,
                status: status_name(e.status),
            },
        };
        // Serialising plain strings cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn error_event(&self, e: &ErrorReply<'_>, out: &mut BytesMut) {
        sse::write_data(out, &self.error_body(e));
    }

    /// `embedContent` and `batchEmbedContents` bodies ([`embed`]).
    fn embeddings(
        &self,
        body: &[u8],
        route: Routed<'_>,
    ) -> Option<Result<ParsedEmbeddings, Error>> {
        Some(embed::to_openai(body, route.model).map(|e| {
            let batch = e.batch;
            ParsedEmbeddings {
                request: e.request,
                answer: Box::new(move |vectors| embed::response(vectors, batch)),
            }
        }))
    }

    /// `countTokens` answered here: the documented estimate over the
    /// request as the lingua franca (README, "count_tokens").
    fn count_estimate(&self, body: &[u8]) -> Result<Vec<u8>, Error> {
        let converted = request::to_openai(request::parse(body)?, "")?;
        let total = estimate(&converted.request);
        Ok(serde_json::json!({ "totalTokens": total })
            .to_string()
            .into_bytes())
    }
}

/// The Google RPC status name of an HTTP status (google.rpc.Code mapping).
fn status_name(status: u16) -> &'static str {
    match status {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 | 504 => "DEADLINE_EXCEEDED",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 | 529 => "UNAVAILABLE",
        s if s >= 500 => "INTERNAL",
        _ => "INVALID_ARGUMENT",
    }
}

/// How answers go back to one Gemini caller.
struct GeminiAnswer {
    /// The model the caller asked for (`modelVersion`).
    model: String,
}

impl Answer for GeminiAnswer {
    fn whole(&self, resp: &ChatResponse) -> Vec<u8> {
        response::from_openai(resp, &self.model)
    }

    fn stream(&self) -> Box<dyn ClientEncoder> {
        Box::new(GeminiEncoder::new(self.model.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn errors_have_googles_shape_and_status_names() {
        for (status, name) in [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (413, "INVALID_ARGUMENT"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (502, "UNAVAILABLE"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ] {
            let reply = ErrorReply {
                status,
                message: "m",
                param: Some("p"),
                code: Some("c"),
            };
            let v: Value = serde_json::from_slice(&GeminiCaller.error_body(&reply)).unwrap();
            assert_eq!(
                v,
                json!({"error": {"code": status, "message": "m", "status": name}})
            );
        }
    }

    #[test]
    fn the_route_names_the_model_and_the_stream() {
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"safetySettings":[]}"#;
        let parsed = GeminiCaller
            .parse_routed(
                body,
                Routed {
                    model: "gem",
                    stream: true,
                },
            )
            .unwrap();
        assert_eq!(parsed.request.model, "gem");
        assert!(parsed.request.stream && parsed.request.include_usage());
        assert_eq!(parsed.request.dropped, ["safetySettings"]);
        // A body that names its model (REST allows it) parses alone.
        let named = br#"{"model":"models/x","contents":[{"parts":[{"text":"hi"}]}]}"#;
        assert_eq!(GeminiCaller.parse(named).unwrap().request.model, "x");
    }

    #[test]
    fn token_counts_are_estimated_in_geminis_shape() {
        let body =
            br#"{"contents":[{"role":"user","parts":[{"text":"Hello there, how are you?"}]}]}"#;
        let v: Value = serde_json::from_slice(&GeminiCaller.count_estimate(body).unwrap()).unwrap();
        assert!(v["totalTokens"].as_u64().unwrap() > 4, "{v}");
        // countTokens may wrap the request.
        let wrapped = br#"{"generateContentRequest":{"contents":[{"parts":[{"text":"Hello there, how are you?"}]}]}}"#;
        let w: Value =
            serde_json::from_slice(&GeminiCaller.count_estimate(wrapped).unwrap()).unwrap();
        assert_eq!(v, w);
    }
}
