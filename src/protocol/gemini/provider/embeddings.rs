//! OpenAI embeddings ⇄ Gemini `batchEmbedContents`. Bodies only: the provider
//! actor posts to `{base_url}/{model_path}:batchEmbedContents` with the key in
//! `x-goog-api-key`; error bodies (any non-2xx) go through
//! [`super::error_from_gemini`] like those of `generateContent`.
//!
//! Request: one `EmbedContentRequest` per input, each naming the model and
//! holding the text as a single `content.parts[].text`. `dimensions` becomes
//! `outputDimensionality`. Two Gemini extensions are read from the request's
//! extra fields and set on every entry: `taskType` (or `task_type`, e.g.
//! `RETRIEVAL_DOCUMENT`) and `title`; openai-python sends them with
//! `extra_body`.
//!
//! Refused (400, `param` `input`): token-array inputs, since Gemini takes
//! text only. Dropped and listed: `user` and every other unknown field.
//! `encoding_format` is applied by the gateway on the way back
//! ([`crate::protocol::openai::embeddings::openai_response`]).
//!
//! Not invented: Gemini returns no usage for embeddings (the gateway uses
//! [`crate::protocol::openai::embeddings::estimate_tokens`]), and vectors are passed
//! on as Gemini sends them: Gemini normalises only its full-size vectors, so
//! with `dimensions` they may not be unit length, unlike OpenAI's. Their
//! numbers reach the caller as Gemini wrote them (`float`), or as `f32`
//! (`base64`, which OpenAI defines as little-endian `f32`).
//! `batchEmbedContents` takes at most 100 inputs per call; a larger batch is
//! Gemini's own 400.

use super::model_path;
use super::response::error_from_value;
use crate::protocol::openai::embeddings::{EmbeddingInput, EmbeddingsRequest, Vector};
use crate::protocol::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Extension fields read from the request's `extra` (not listed as dropped).
const TASK_TYPE_KEYS: [&str; 2] = ["taskType", "task_type"];
const TITLE_KEY: &str = "title";

#[derive(Serialize)]
struct BatchRequest<'a> {
    requests: Vec<EmbedRequest<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbedRequest<'a> {
    model: &'a str,
    content: ContentOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct ContentOut<'a> {
    parts: [TextPart<'a>; 1],
}

#[derive(Serialize)]
struct TextPart<'a> {
    text: &'a str,
}

/// Converts an OpenAI embeddings request into a `batchEmbedContents` body for
/// `api_model` (with or without the `models/` prefix). Returns the body and
/// the names of the request fields that were dropped.
///
/// Errors are 400s: the request's own [validation](EmbeddingsRequest::validate),
/// token-array input (`param` `input`), and a `taskType` or `title` that is
/// not a string (`param` names the field).
pub fn to_gemini(
    req: &EmbeddingsRequest,
    api_model: &str,
) -> Result<(Vec<u8>, Vec<String>), Error> {
    req.validate()?;
    let texts: Vec<&str> = match &req.input {
        EmbeddingInput::One(s) => vec![s.as_str()],
        EmbeddingInput::Many(v) => v.iter().map(String::as_str).collect(),
        EmbeddingInput::Tokens(_) | EmbeddingInput::ManyTokens(_) => {
            return Err(Error::invalid(
                "Token-array `input` is not supported for this model: Gemini embeds text only",
            )
            .with_param("input"))
        }
    };
    let mut task_type = None;
    for key in TASK_TYPE_KEYS {
        if let Some(v) = extension_str(req, key)? {
            task_type = Some(v);
            break;
        }
    }
    let title = extension_str(req, TITLE_KEY)?;

    let mut dropped = Vec::new();
    if req.user.is_some() {
        dropped.push("user".to_owned());
    }
    dropped.extend(
        req.extra
            .keys()
            .filter(|k| !TASK_TYPE_KEYS.contains(&k.as_str()) && k.as_str() != TITLE_KEY)
            .cloned(),
    );

    let model = model_path(api_model);
    let body = BatchRequest {
        requests: texts
            .into_iter()
            .map(|text| EmbedRequest {
                model: &model,
                content: ContentOut {
                    parts: [TextPart { text }],
                },
                task_type,
                title,
                output_dimensionality: req.dimensions,
            })
            .collect(),
    };
    let body = serde_json::to_vec(&body).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "The embeddings request could not be encoded",
        )
    })?;
    Ok((body, dropped))
}

/// A string extension field of the request, if present (`null` counts as
/// absent); any other type is a 400 naming the field.
fn extension_str<'a>(
    req: &'a EmbeddingsRequest,
    key: &'static str,
) -> Result<Option<&'a str>, Error> {
    match req.extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(Error::invalid(format!("`{key}` must be a string")).with_param(key)),
    }
}

#[derive(Deserialize)]
struct BatchResponse<'a> {
    #[serde(default, borrow)]
    embeddings: Option<Vec<ContentEmbedding<'a>>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ContentEmbedding<'a> {
    #[serde(default, borrow)]
    values: Option<Vec<&'a RawValue>>,
}

/// Converts a `batchEmbedContents` response into one vector per input, in
/// input order, borrowing Gemini's number texts so that they reach the
/// caller exactly as sent. `expected` is the number of inputs sent.
///
/// `BadUpstreamResponse` when the body cannot be read, holds no
/// `embeddings`, holds a different number of them than `expected`, or an
/// embedding without values or with one that is not a finite `f32`
/// ([`Vector::sent`]). A 200 body holding an `error` object is that error.
pub fn from_gemini(body: &[u8], expected: usize) -> Result<Vec<Vector<'_>>, Error> {
    let resp: BatchResponse = serde_json::from_slice(body)
        .map_err(|_| bad("Gemini returned an embeddings body that could not be read".into()))?;
    if let Some(error) = resp.error {
        return Err(error_from_value(502, error, None));
    }
    let embeddings = resp
        .embeddings
        .ok_or_else(|| bad("Gemini returned an embeddings body without `embeddings`".into()))?;
    if embeddings.len() != expected {
        return Err(bad(format!(
            "Gemini returned {} embeddings for {expected} inputs",
            embeddings.len()
        )));
    }
    embeddings
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            e.values.and_then(Vector::sent).ok_or_else(|| {
                bad(format!(
                    "Gemini returned an empty or invalid embedding at index {i}"
                ))
            })
        })
        .collect()
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::BadUpstreamResponse, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::gemini::provider::error_from_gemini;
    use serde_json::json;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/embeddings/",
                $name
            ))
        };
    }

    fn convert(body: &str, api_model: &str) -> Result<(Value, Vec<String>), Error> {
        let req = EmbeddingsRequest::parse(body.as_bytes())?;
        let (out, dropped) = to_gemini(&req, api_model)?;
        Ok((serde_json::from_slice(&out).unwrap(), dropped))
    }

    #[test]
    fn a_single_string_becomes_one_request() {
        let (body, dropped) = convert(
            fixture!("openai_request_single.json"),
            "gemini-embedding-001",
        )
        .unwrap();
        assert_eq!(
            body,
            json!({"requests": [{
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "The food was delicious and the waiter was very friendly."}]}
            }]})
        );
        assert!(dropped.is_empty(), "{dropped:?}");
    }

    #[test]
    fn a_batch_becomes_one_request_per_input_in_order() {
        let (body, _) = convert(
            fixture!("openai_request_batch.json"),
            "models/gemini-embedding-001",
        )
        .unwrap();
        let texts: Vec<&str> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["model"], "models/gemini-embedding-001");
                r["content"]["parts"][0]["text"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            texts,
            [
                "How do I reset my password?",
                "Passwords can be reset from the account settings page.",
                "Our office is closed on public holidays."
            ]
        );
    }

    #[test]
    fn dimensions_become_output_dimensionality_and_user_is_dropped() {
        let (body, dropped) = convert(
            fixture!("openai_request_dimensions.json"),
            "gemini-embedding-001",
        )
        .unwrap();
        assert_eq!(body["requests"][0]["outputDimensionality"], json!(8));
        assert_eq!(dropped, ["user"]);
    }

    #[test]
    fn task_type_and_title_pass_through_to_every_entry() {
        let (body, dropped) = convert(
            fixture!("openai_request_task_type.json"),
            "gemini-embedding-001",
        )
        .unwrap();
        let want: Value = serde_json::from_str(fixture!("gemini_batch_request.json")).unwrap();
        assert_eq!(body, want);
        assert!(dropped.is_empty(), "{dropped:?}");

        let (body, dropped) = convert(
            r#"{"model":"m","input":"q","task_type":"RETRIEVAL_QUERY","metadata":{"a":1}}"#,
            "e",
        )
        .unwrap();
        assert_eq!(body["requests"][0]["taskType"], "RETRIEVAL_QUERY");
        assert_eq!(dropped, ["metadata"]);
    }

    #[test]
    fn a_non_string_extension_is_400_naming_it() {
        for (body, param) in [
            (r#"{"model":"m","input":"q","taskType":3}"#, "taskType"),
            (r#"{"model":"m","input":"q","title":["t"]}"#, "title"),
        ] {
            let e = convert(body, "e").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            assert_eq!(e.param.as_deref(), Some(param));
        }
    }

    #[test]
    fn token_inputs_are_refused_with_param_input() {
        for body in [
            fixture!("openai_request_tokens.json"),
            fixture!("openai_request_token_array.json"),
        ] {
            let e = convert(body, "gemini-embedding-001").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            assert_eq!(e.param.as_deref(), Some("input"));
        }
    }

    #[test]
    fn invalid_requests_are_refused_before_conversion() {
        let req = EmbeddingsRequest {
            model: "m".to_owned(),
            input: EmbeddingInput::Many(vec!["a".to_owned(), String::new()]),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Default::default(),
        };
        let e = to_gemini(&req, "e").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
    }

    #[test]
    fn the_batch_response_converts_in_order() {
        let body = fixture!("gemini_batch_response.json").as_bytes();
        let vectors = from_gemini(body, 3).unwrap();
        assert_eq!(vectors.len(), 3);
        assert!(vectors.iter().all(|v| v.values().len() == 8));
        assert_eq!(vectors[0].values()[0], 0.020_591_874);
        assert_eq!(vectors[2].values()[7], -0.013_226_06);
        let Vector::Sent { text, .. } = &vectors[2] else {
            panic!("Gemini's numbers are kept as sent");
        };
        assert_eq!(text[7].get(), "-0.01322606");
    }

    #[test]
    fn a_count_mismatch_is_a_bad_upstream_response() {
        let body = fixture!("gemini_batch_response.json").as_bytes();
        for expected in [0, 2, 4] {
            let e = from_gemini(body, expected).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadUpstreamResponse, "{expected}");
        }
    }

    #[test]
    fn unreadable_or_incomplete_bodies_are_bad_upstream_responses() {
        for body in [
            "",
            "not json",
            "{}",
            r#"{"embeddings":null}"#,
            r#"{"embeddings":[{}]}"#,
            r#"{"embeddings":[{"values":[]}]}"#,
            r#"{"embeddings":[{"values":["0.1"]}]}"#,
            r#"{"embeddings":[{"values":[1e300]}]}"#,
            r#"{"embeddings":{"values":[0.1]}}"#,
        ] {
            let e = from_gemini(body.as_bytes(), 1).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadUpstreamResponse, "{body}");
        }
    }

    #[test]
    fn an_error_object_in_a_200_body_is_that_error() {
        let e = from_gemini(fixture!("gemini_error_400.json").as_bytes(), 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Upstream(400));
        assert_eq!(e.code.as_deref(), Some("INVALID_ARGUMENT"));
    }

    #[test]
    fn error_bodies_map_like_generate_content_errors() {
        let e = error_from_gemini(400, fixture!("gemini_error_400.json").as_bytes(), None);
        assert_eq!(e.kind, ErrorKind::Upstream(400));
        assert_eq!(
            e.message,
            "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n"
        );
        let e = error_from_gemini(404, fixture!("gemini_error_404.json").as_bytes(), None);
        assert_eq!(e.kind, ErrorKind::Upstream(404));
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
    }
}
