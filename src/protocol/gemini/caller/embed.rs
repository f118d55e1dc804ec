//! Gemini's `embedContent` and `batchEmbedContents` as the caller's API,
//! through the lingua franca of embeddings (OpenAI's request and the
//! providers' vectors), for every provider with embeddings: each `content`
//! (its text parts joined) is one input; `outputDimensionality` →
//! `dimensions`; `taskType` and `title` (of the first request of a batch)
//! ride as the extension fields the Gemini provider sends on. The body's
//! shape decides its kind: `requests` is a batch, `content` one input.

use crate::protocol::gemini::types::ContentIn;
use crate::protocol::openai::embeddings::{EmbeddingInput, EmbeddingsRequest, Vector};
use crate::protocol::Error;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Most inputs one call may hold (OpenAI's limit; Gemini's is 100).
pub const MAX_INPUTS: usize = 2048;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct EmbedIn {
    content: Option<ContentIn>,
    #[serde(alias = "task_type")]
    task_type: Option<String>,
    title: Option<String>,
    #[serde(alias = "output_dimensionality")]
    output_dimensionality: Option<u32>,
    requests: Option<Vec<EmbedIn>>,
}

/// A parsed embeddings call: the request, and whether it is a batch.
#[derive(Debug)]
pub struct Embed {
    pub request: EmbeddingsRequest,
    pub batch: bool,
}

/// Parses an `embedContent` or `batchEmbedContents` body for the gateway
/// model `model`; 400s name the field at fault.
pub fn to_openai(body: &[u8], model: &str) -> Result<Embed, Error> {
    let mut body: EmbedIn = serde_json::from_slice(body).map_err(|e| Error::bad_body(&e))?;
    let (entries, batch) = match body.requests.take() {
        Some(requests) => (requests, true),
        None => (vec![body], false),
    };
    if entries.len() > MAX_INPUTS {
        return Err(Error::invalid(format!(
            "`requests` holds {} entries; at most {MAX_INPUTS} are served",
            entries.len()
        ))
        .with_param("requests"));
    }
    let mut texts = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let text: String = e
            .content
            .iter()
            .flat_map(|c| c.parts.iter().flatten())
            .filter_map(|p| p.text.as_deref())
            .collect();
        if text.is_empty() {
            let param = if batch {
                format!("requests[{i}].content")
            } else {
                "content".to_owned()
            };
            return Err(Error::invalid(format!("`{param}` must hold some text")).with_param(param));
        }
        texts.push(text);
    }
    let first = entries.first();
    let mut extra = Map::new();
    if let Some(t) = first.and_then(|e| e.task_type.clone()) {
        extra.insert("taskType".to_owned(), Value::from(t));
    }
    if let Some(t) = first.and_then(|e| e.title.clone()) {
        extra.insert("title".to_owned(), Value::from(t));
    }
    let input = match (batch, texts.len()) {
        (false, 1) => EmbeddingInput::One(texts.remove(0)),
        _ => EmbeddingInput::Many(texts),
    };
    Ok(Embed {
        request: EmbeddingsRequest {
            model: model.to_owned(),
            input,
            encoding_format: None,
            dimensions: first.and_then(|e| e.output_dimensionality),
            user: None,
            extra,
        },
        batch,
    })
}

#[derive(Serialize)]
struct Values<'a> {
    values: ValuesOut<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ValuesOut<'a> {
    Computed(&'a [f32]),
    Sent(&'a [&'a RawValue]),
}

fn values<'a>(v: &'a Vector<'_>) -> Values<'a> {
    Values {
        values: match v {
            Vector::Computed(v) => ValuesOut::Computed(v),
            Vector::Sent { text, .. } => ValuesOut::Sent(text),
        },
    }
}

/// The answer: `{"embedding": {"values"}}`, or for a batch
/// `{"embeddings": [{"values"}…]}`, numbers as the provider wrote them.
pub fn response(vectors: &[Vector<'_>], batch: bool) -> Vec<u8> {
    #[derive(Serialize)]
    struct One<'a> {
        embedding: Values<'a>,
    }
    #[derive(Serialize)]
    struct Many<'a> {
        embeddings: Vec<Values<'a>>,
    }
    let out = match (batch, vectors.first()) {
        (false, Some(v)) => serde_json::to_vec(&One {
            embedding: values(v),
        }),
        _ => serde_json::to_vec(&Many {
            embeddings: vectors.iter().map(values).collect(),
        }),
    };
    // Finite numbers and raw JSON numbers cannot fail to serialise.
    out.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_content_is_one_input_and_a_batch_many() {
        let one = to_openai(
            br#"{"model":"models/e","content":{"parts":[{"text":"Hello "},{"text":"world"}]},"taskType":"RETRIEVAL_QUERY","outputDimensionality":8}"#,
            "e",
        )
        .unwrap();
        assert!(!one.batch);
        assert_eq!(
            one.request.input,
            EmbeddingInput::One("Hello world".to_owned())
        );
        assert_eq!(one.request.dimensions, Some(8));
        assert_eq!(one.request.extra["taskType"], "RETRIEVAL_QUERY");
        let many = to_openai(
            br#"{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]}}]}"#,
            "e",
        )
        .unwrap();
        assert!(many.batch);
        assert_eq!(
            many.request.input,
            EmbeddingInput::Many(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn empty_contents_are_400s_naming_the_entry() {
        let e = to_openai(
            br#"{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{}}]}"#,
            "e",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("requests[1].content"));
        assert_eq!(
            to_openai(b"{}", "e").unwrap_err().param.as_deref(),
            Some("content")
        );
    }

    #[test]
    fn vectors_go_back_in_geminis_shape_numbers_as_sent() {
        let raw: Vec<Box<RawValue>> = ["0.10000000149", "-2"]
            .iter()
            .map(|n| RawValue::from_string((*n).to_owned()).unwrap())
            .collect();
        let sent = Vector::sent(raw.iter().map(|b| &**b).collect()).unwrap();
        let one: Value =
            serde_json::from_slice(&response(std::slice::from_ref(&sent), false)).unwrap();
        assert_eq!(one, json!({"embedding": {"values": [0.10000000149, -2]}}));
        let text = String::from_utf8(response(&[sent, Vector::Computed(vec![0.5])], true)).unwrap();
        assert_eq!(
            text,
            r#"{"embeddings":[{"values":[0.10000000149,-2]},{"values":[0.5]}]}"#
        );
    }
}
