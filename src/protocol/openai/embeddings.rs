//! OpenAI `POST /v1/embeddings` wire types and the helpers every provider
//! shares: input validation, the response encoder (float or base64), a token
//! estimate for providers that report no usage, and the mock provider's
//! deterministic vectors.
//!
//! Only the request fields the gateway reads are typed; the OpenAI-compatible
//! pass-through forwards the raw body, and converters see every other field
//! in [`EmbeddingsRequest::extra`].
//!
//! The input is parsed by a hand-written visitor rather than an untagged
//! enum so that a malformed input gives an error that names the expected
//! shapes and never quotes the caller's text (no prompt in an error message,
//! [`crate::error`]).

use crate::protocol::Error;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::{self, Deserializer, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;

/// `POST /v1/embeddings` request: the fields the gateway reads. Every other
/// field is kept in `extra` (for provider extensions such as Gemini's
/// `taskType`, and to list what a conversion dropped).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: EmbeddingInput,
    #[serde(default)]
    pub encoding_format: Option<EncodingFormat>,
    #[serde(default)]
    pub dimensions: Option<u32>,
    #[serde(default)]
    pub user: Option<String>,
    /// Every field this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingsRequest {
    /// Parses and [validates](Self::validate) a request body. Parse errors
    /// are 400s that name the field and the expected shape, never the
    /// caller's text.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let req: Self = serde_json::from_slice(body).map_err(|e| Error::bad_body(&e))?;
        req.validate()?;
        Ok(req)
    }

    /// Refuses what OpenAI refuses before any provider sees it: an empty
    /// input (string, array, or an empty entry of an array) and
    /// `dimensions: 0`. Errors are 400s with `param` `input` or `dimensions`.
    pub fn validate(&self) -> Result<(), Error> {
        self.input.validate()?;
        if self.dimensions == Some(0) {
            return Err(Error::invalid("`dimensions` must be at least 1").with_param("dimensions"));
        }
        Ok(())
    }

    /// The requested encoding; OpenAI's default is `float`.
    pub fn format(&self) -> EncodingFormat {
        self.encoding_format.unwrap_or_default()
    }
}

/// `input`: what to embed. Each string or token array is one input and gets
/// one vector.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingInput {
    /// `"text"`: one input.
    One(String),
    /// `["a", "b"]`: one input per string.
    Many(Vec<String>),
    /// `[9906, 1917]`: one input, already tokenized.
    Tokens(Vec<u32>),
    /// `[[9906], [1917, 0]]`: one input per token array.
    ManyTokens(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// The number of inputs, i.e. of vectors in the response.
    pub fn len(&self) -> usize {
        match self {
            EmbeddingInput::One(_) | EmbeddingInput::Tokens(_) => 1,
            EmbeddingInput::Many(v) => v.len(),
            EmbeddingInput::ManyTokens(v) => v.len(),
        }
    }

    /// Whether there is nothing to embed (an empty array).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The inputs as text, or `None` for token inputs.
    pub fn texts(&self) -> Option<Vec<&str>> {
        match self {
            EmbeddingInput::One(s) => Some(vec![s.as_str()]),
            EmbeddingInput::Many(v) => Some(v.iter().map(String::as_str).collect()),
            EmbeddingInput::Tokens(_) | EmbeddingInput::ManyTokens(_) => None,
        }
    }

    /// 400 (`param` `input`) for an empty string, an empty array, or an
    /// empty entry of an array, as OpenAI does.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |msg: String| Err(Error::invalid(msg).with_param("input"));
        match self {
            EmbeddingInput::One(s) if s.is_empty() => {
                invalid("`input` must not be an empty string".to_owned())
            }
            EmbeddingInput::Tokens(t) if t.is_empty() => {
                invalid("`input` must not be an empty array".to_owned())
            }
            EmbeddingInput::Many(v) if v.is_empty() => {
                invalid("`input` must not be an empty array".to_owned())
            }
            EmbeddingInput::ManyTokens(v) if v.is_empty() => {
                invalid("`input` must not be an empty array".to_owned())
            }
            EmbeddingInput::Many(v) => match v.iter().position(String::is_empty) {
                Some(i) => invalid(format!("`input[{i}]` must not be an empty string")),
                None => Ok(()),
            },
            EmbeddingInput::ManyTokens(v) => match v.iter().position(Vec::is_empty) {
                Some(i) => invalid(format!("`input[{i}]` must not be an empty array")),
                None => Ok(()),
            },
            EmbeddingInput::One(_) | EmbeddingInput::Tokens(_) => Ok(()),
        }
    }
}

const INPUT_EXPECTED: &str =
    "a string, an array of strings, an array of token ids or an array of token arrays";
const MIXED_INPUT: &str =
    "`input` must be a string, an array of strings, an array of token ids or an array of token arrays, not a mix";

impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = EmbeddingInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(INPUT_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(EmbeddingInput::One(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(EmbeddingInput::One(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let capacity = seq.size_hint().unwrap_or(0).min(4096);
        let Some(first) = seq.next_element::<Item>()? else {
            return Ok(EmbeddingInput::Many(Vec::new()));
        };
        match first {
            Item::Text(s) => {
                let mut all = Vec::with_capacity(capacity);
                all.push(s);
                while let Some(item) = seq.next_element::<Item>()? {
                    match item {
                        Item::Text(s) => all.push(s),
                        _ => return Err(de::Error::custom(MIXED_INPUT)),
                    }
                }
                Ok(EmbeddingInput::Many(all))
            }
            Item::Token(t) => {
                let mut all = Vec::with_capacity(capacity);
                all.push(t);
                while let Some(item) = seq.next_element::<Item>()? {
                    match item {
                        Item::Token(t) => all.push(t),
                        _ => return Err(de::Error::custom(MIXED_INPUT)),
                    }
                }
                Ok(EmbeddingInput::Tokens(all))
            }
            Item::Tokens(t) => {
                let mut all = Vec::with_capacity(capacity);
                all.push(t);
                while let Some(item) = seq.next_element::<Item>()? {
                    match item {
                        Item::Tokens(t) => all.push(t),
                        _ => return Err(de::Error::custom(MIXED_INPUT)),
                    }
                }
                Ok(EmbeddingInput::ManyTokens(all))
            }
        }
    }
}

/// One element of an `input` array.
enum Item {
    Text(String),
    Token(u32),
    Tokens(Vec<u32>),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a token id or an array of token ids")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Item::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Item::Text(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        TokenVisitor.visit_u64(v).map(Item::Token)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        TokenVisitor.visit_i64(v).map(Item::Token)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut tokens = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(8192));
        while let Some(Token(t)) = seq.next_element()? {
            tokens.push(t);
        }
        Ok(Item::Tokens(tokens))
    }
}

/// A token id inside a token array.
struct Token(u32);

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TokenVisitor).map(Token)
    }
}

struct TokenVisitor;

impl<'de> Visitor<'de> for TokenVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token id (an integer from 0 to 4294967295)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    // Strings are refused without quoting them (the default would).
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::invalid_type(Unexpected::Other("string"), &self))
    }
}

/// `encoding_format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON arrays of numbers (OpenAI's default).
    #[default]
    Float,
    /// Standard base64 (with padding) of the vector as little-endian `f32`s;
    /// the openai-python SDK asks for this by default and decodes it.
    Base64,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    object: &'static str,
    data: Vec<EmbeddingOut<'a>>,
    model: &'a str,
    usage: UsageOut,
}

#[derive(Serialize)]
struct EmbeddingOut<'a> {
    object: &'static str,
    index: usize,
    embedding: VectorOut<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum VectorOut<'a> {
    Float(&'a [f32]),
    Sent(&'a [&'a RawValue]),
    Base64(String),
}

/// One embedding for [`openai_response`].
#[derive(Debug, Clone)]
pub enum Vector<'a> {
    /// Numbers the gateway computed (the mock provider).
    Computed(Vec<f32>),
    /// A provider's numbers: their JSON text, written back exactly as sent
    /// for `float` (a provider may send more digits than an `f32` holds), and
    /// the same numbers as `f32` for `base64`. Built by [`Vector::sent`].
    Sent {
        text: Vec<&'a RawValue>,
        values: Vec<f32>,
    },
}

impl<'a> Vector<'a> {
    /// A provider's vector, or `None` when it is empty or an entry is not a
    /// number or beyond `f32`'s range.
    pub fn sent(text: Vec<&'a RawValue>) -> Option<Self> {
        let values = text
            .iter()
            .map(|n| n.get().parse::<f32>().ok().filter(|x| x.is_finite()))
            .collect::<Option<Vec<f32>>>()?;
        (!values.is_empty()).then_some(Self::Sent { text, values })
    }

    /// The numbers as `f32`.
    pub fn values(&self) -> &[f32] {
        match self {
            Self::Computed(v) | Self::Sent { values: v, .. } => v,
        }
    }
}

#[derive(Serialize)]
struct UsageOut {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// Builds an OpenAI embeddings response body: `{"object":"list","data":[{"object":"embedding","index":i,"embedding":…}],"model","usage"}`,
/// vectors in input order, each a float array (a provider's numbers as it
/// wrote them) or (for [`EncodingFormat::Base64`]) the standard base64 of its
/// little-endian `f32` bytes. `total_tokens` equals `prompt_tokens`.
pub fn openai_response(
    model: &str,
    vectors: &[Vector<'_>],
    format: EncodingFormat,
    prompt_tokens: u64,
) -> Vec<u8> {
    let data = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| EmbeddingOut {
            object: "embedding",
            index,
            embedding: match (format, v) {
                (EncodingFormat::Float, Vector::Computed(v)) => VectorOut::Float(v),
                (EncodingFormat::Float, Vector::Sent { text, .. }) => VectorOut::Sent(text),
                (EncodingFormat::Base64, v) => VectorOut::Base64(base64_f32(v.values())),
            },
        })
        .collect();
    let body = ResponseOut {
        object: "list",
        data,
        model,
        usage: UsageOut {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    };
    // Plain strings and finite floats cannot fail to serialise (non-finite
    // ones become `null`).
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Standard base64 (padded) of the little-endian `f32` bytes, as OpenAI
/// sends for `encoding_format: "base64"`.
pub fn base64_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// Estimated prompt tokens for providers that report none: per string input
/// `ceil(chars / 4)` (Unicode scalar values; OpenAI's rule of thumb for
/// English), per token input its length. Summed over the inputs.
pub fn estimate_tokens(input: &EmbeddingInput) -> u64 {
    fn text(s: &str) -> u64 {
        u64::try_from(s.chars().count().div_ceil(4)).unwrap_or(u64::MAX)
    }
    fn tokens(t: &[u32]) -> u64 {
        u64::try_from(t.len()).unwrap_or(u64::MAX)
    }
    match input {
        EmbeddingInput::One(s) => text(s),
        EmbeddingInput::Many(v) => v.iter().map(|s| text(s)).fold(0, u64::saturating_add),
        EmbeddingInput::Tokens(t) => tokens(t),
        EmbeddingInput::ManyTokens(v) => v.iter().map(|t| tokens(t)).fold(0, u64::saturating_add),
    }
}

/// Length of a mock vector when the request names no `dimensions`.
pub const MOCK_DEFAULT_DIMENSIONS: u32 = 16;
/// Upper bound on a mock vector's length: a larger `dimensions` is clamped,
/// so a request cannot make the mock allocate without limit.
pub const MOCK_MAX_DIMENSIONS: u32 = 4096;

/// Deterministic unit-length vectors for the mock provider, one per input:
/// the same input always gives the same vector, different inputs different
/// ones. Entries come from SHA-256 in counter mode over the input (text and
/// token inputs are hashed under different tags, so `"1"` and `[1]`
/// differ), mapped to `[-1, 1]` and normalised. The length is `dimensions`
/// ([`MOCK_DEFAULT_DIMENSIONS`] when absent, at most
/// [`MOCK_MAX_DIMENSIONS`], at least 1).
pub fn mock_vectors(input: &EmbeddingInput, dimensions: Option<u32>) -> Vec<Vec<f32>> {
    let dims = dimensions
        .unwrap_or(MOCK_DEFAULT_DIMENSIONS)
        .clamp(1, MOCK_MAX_DIMENSIONS);
    let dims = usize::try_from(dims).unwrap_or(16);
    let token_bytes = |t: &[u32]| t.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    match input {
        EmbeddingInput::One(s) => vec![mock_vector(b"text", s.as_bytes(), dims)],
        EmbeddingInput::Many(v) => v
            .iter()
            .map(|s| mock_vector(b"text", s.as_bytes(), dims))
            .collect(),
        EmbeddingInput::Tokens(t) => vec![mock_vector(b"tokens", &token_bytes(t), dims)],
        EmbeddingInput::ManyTokens(v) => v
            .iter()
            .map(|t| mock_vector(b"tokens", &token_bytes(t), dims))
            .collect(),
    }
}

fn mock_vector(tag: &[u8], data: &[u8], dims: usize) -> Vec<f32> {
    let seed = Sha256::new()
        .chain_update(tag)
        .chain_update([0])
        .chain_update(data);
    let mut raw: Vec<f64> = Vec::with_capacity(dims);
    let mut block: u32 = 0;
    while raw.len() < dims {
        let digest = seed.clone().chain_update(block.to_le_bytes()).finalize();
        for pair in digest.chunks_exact(2) {
            if raw.len() == dims {
                break;
            }
            if let [hi, lo] = pair {
                let x = u16::from_be_bytes([*hi, *lo]);
                raw.push(f64::from(x) / 32_767.5 - 1.0);
            }
        }
        block = block.wrapping_add(1);
    }
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        // Only if every entry were exactly 0, which the mapping above
        // cannot produce; keep the unit-length promise anyway.
        let mut v = vec![0.0; dims];
        if let Some(first) = v.first_mut() {
            *first = 1.0;
        }
        return v;
    }
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// An OpenAI `/embeddings` body for a request that came in another caller
/// API (Gemini's): `model` the provider's, numbers asked as `float`, and
/// `dimensions`; the request's extension fields (`taskType`, `title`) are
/// not OpenAI's and are returned as dropped.
pub fn openai_request(req: &EmbeddingsRequest, api_model: &str) -> (Vec<u8>, Vec<String>) {
    let input = match &req.input {
        EmbeddingInput::One(s) => serde_json::json!(s),
        EmbeddingInput::Many(v) => serde_json::json!(v),
        EmbeddingInput::Tokens(t) => serde_json::json!(t),
        EmbeddingInput::ManyTokens(v) => serde_json::json!(v),
    };
    let mut body =
        serde_json::json!({"model": api_model, "input": input, "encoding_format": "float"});
    if let Some(d) = req.dimensions {
        body["dimensions"] = Value::from(d);
    }
    let dropped = req.extra.keys().cloned().collect();
    (serde_json::to_vec(&body).unwrap_or_default(), dropped)
}

/// An OpenAI embeddings answer as one vector per input, in `index` order,
/// the numbers borrowed as the provider wrote them. `BadUpstreamResponse`
/// when it cannot be read, holds another number of vectors than `expected`,
/// or a vector that is empty or not finite numbers.
pub fn openai_vectors(body: &[u8], expected: usize) -> Result<Vec<Vector<'_>>, Error> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        data: Vec<Item<'a>>,
    }
    #[derive(Deserialize)]
    struct Item<'a> {
        #[serde(default)]
        index: usize,
        #[serde(borrow)]
        embedding: Vec<&'a RawValue>,
    }
    let bad = |m: &'static str| Error::new(crate::protocol::ErrorKind::BadUpstreamResponse, m);
    let mut answer: Answer<'_> = serde_json::from_slice(body)
        .map_err(|_| bad("the upstream's embeddings answer could not be read"))?;
    if answer.data.len() != expected {
        return Err(bad(
            "the upstream returned another number of embeddings than inputs",
        ));
    }
    answer.data.sort_by_key(|item| item.index);
    answer
        .data
        .into_iter()
        .map(|item| {
            Vector::sent(item.embedding)
                .ok_or_else(|| bad("the upstream returned an invalid embedding"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorKind;
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

    fn parse(body: &str) -> Result<EmbeddingsRequest, Error> {
        EmbeddingsRequest::parse(body.as_bytes())
    }

    #[test]
    fn every_input_shape_parses() {
        let cases: [(&str, EmbeddingInput); 6] = [
            (
                fixture!("openai_request_single.json"),
                EmbeddingInput::One(
                    "The food was delicious and the waiter was very friendly.".to_owned(),
                ),
            ),
            (
                fixture!("openai_request_batch.json"),
                EmbeddingInput::Many(vec![
                    "How do I reset my password?".to_owned(),
                    "Passwords can be reset from the account settings page.".to_owned(),
                    "Our office is closed on public holidays.".to_owned(),
                ]),
            ),
            (
                fixture!("openai_request_token_array.json"),
                EmbeddingInput::Tokens(vec![791, 3691, 574, 18406, 323, 279, 68368, 574]),
            ),
            (
                fixture!("openai_request_tokens.json"),
                EmbeddingInput::ManyTokens(vec![vec![9906, 1917], vec![15339, 1070, 0]]),
            ),
            (
                r#"{"model":"m","input":["solo"]}"#,
                EmbeddingInput::Many(vec!["solo".to_owned()]),
            ),
            (
                r#"{"model":"m","input":[4294967295]}"#,
                EmbeddingInput::Tokens(vec![u32::MAX]),
            ),
        ];
        for (body, want) in cases {
            let req = parse(body).unwrap();
            assert_eq!(req.input, want, "{body}");
        }
    }

    #[test]
    fn known_fields_are_read_and_the_rest_kept_in_extra() {
        let req = parse(fixture!("openai_request_dimensions.json")).unwrap();
        assert_eq!(req.model, "text-embedding-3-small");
        assert_eq!(req.dimensions, Some(8));
        assert_eq!(req.user.as_deref(), Some("user-1234"));
        assert_eq!(req.format(), EncodingFormat::Float);
        assert!(req.extra.is_empty(), "{:?}", req.extra);

        let req = parse(fixture!("openai_request_task_type.json")).unwrap();
        assert_eq!(req.format(), EncodingFormat::Base64);
        assert_eq!(req.extra["taskType"], json!("RETRIEVAL_DOCUMENT"));
        assert_eq!(req.extra["title"], json!("Account help"));

        let req = parse(r#"{"model":"m","input":"x","encoding_format":null}"#).unwrap();
        assert_eq!(req.format(), EncodingFormat::Float);
    }

    #[test]
    fn empty_inputs_are_400_naming_input() {
        let cases = [
            (
                r#"{"model":"m","input":""}"#,
                "`input` must not be an empty string",
            ),
            (
                r#"{"model":"m","input":[]}"#,
                "`input` must not be an empty array",
            ),
            (
                r#"{"model":"m","input":["a",""]}"#,
                "`input[1]` must not be an empty string",
            ),
            (
                r#"{"model":"m","input":[[1],[]]}"#,
                "`input[1]` must not be an empty array",
            ),
            (
                r#"{"model":"m","input":[[]]}"#,
                "`input[0]` must not be an empty array",
            ),
        ];
        for (body, message) in cases {
            let e = parse(body).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{body}");
            assert_eq!(e.param.as_deref(), Some("input"), "{body}");
            assert_eq!(e.message, message, "{body}");
        }
    }

    #[test]
    fn zero_dimensions_are_400() {
        let e = parse(r#"{"model":"m","input":"x","dimensions":0}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("dimensions"));
    }

    #[test]
    fn malformed_inputs_are_400_without_quoting_the_text() {
        let cases = [
            r#"{"model":"m","input":["secret prompt",1]}"#,
            r#"{"model":"m","input":[1,"secret prompt"]}"#,
            r#"{"model":"m","input":[[1,"secret prompt"]]}"#,
            r#"{"model":"m","input":[[1],"secret prompt"]}"#,
            r#"{"model":"m","input":{"text":"secret prompt"}}"#,
            r#"{"model":"m","input":[-1]}"#,
            r#"{"model":"m","input":[4294967296]}"#,
            r#"{"model":"m","input":[1.5]}"#,
            r#"{"model":"m","input":null}"#,
            r#"{"model":"m"}"#,
            r#"{"model":"m","input":"x","encoding_format":"binary"}"#,
        ];
        for body in cases {
            let e = parse(body).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{body}");
            assert!(!e.message.contains("secret"), "{body}: {}", e.message);
        }
    }

    #[test]
    fn base64_is_little_endian_f32_standard_padded() {
        assert_eq!(base64_f32(&[1.0, -2.0]), "AACAPwAAAMA=");
        assert_eq!(base64_f32(&[]), "");
        let body = openai_response(
            "m",
            &[Vector::Computed(vec![1.0, -2.0])],
            EncodingFormat::Base64,
            3,
        );
        let got: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got["data"][0]["embedding"], json!("AACAPwAAAMA="));
    }

    #[test]
    fn a_providers_numbers_are_written_as_sent_and_as_f32_in_base64() {
        let text: Vec<Box<RawValue>> =
            serde_json::from_str("[-0.4013671875, 0.30000000000000004, 1e-7, 5]").unwrap();
        let v = Vector::sent(text.iter().map(AsRef::as_ref).collect()).unwrap();
        assert_eq!(v.values(), [-0.401_367_2, 0.3, 1e-7, 5.0]);
        let body = openai_response("m", std::slice::from_ref(&v), EncodingFormat::Float, 1);
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.contains(r#""embedding":[-0.4013671875,0.30000000000000004,1e-7,5]"#),
            "{body}"
        );
        let body = openai_response("m", &[v], EncodingFormat::Base64, 1);
        let got: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            got["data"][0]["embedding"],
            json!(base64_f32(&[-0.401_367_2, 0.3, 1e-7, 5.0]))
        );
    }

    #[test]
    fn a_sent_vector_must_be_non_empty_finite_f32_numbers() {
        for bad in ["[]", r#"["0.1"]"#, "[null]", "[1e300]", "[[0.1]]", "[true]"] {
            let text: Vec<Box<RawValue>> = serde_json::from_str(bad).unwrap();
            let vector = Vector::sent(text.iter().map(AsRef::as_ref).collect());
            assert!(vector.is_none(), "{bad}");
        }
    }

    fn floats(v: &Value) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    #[test]
    fn response_matches_the_recorded_openai_shape() {
        let recorded: Value = serde_json::from_str(fixture!("openai_response.json")).unwrap();
        let vectors: Vec<Vector> = recorded["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| Vector::Computed(floats(&d["embedding"])))
            .collect();
        let body = openai_response(
            "text-embedding-3-small",
            &vectors,
            EncodingFormat::Float,
            23,
        );
        let mut got: Value = serde_json::from_slice(&body).unwrap();
        let mut want = recorded.clone();
        // Compare the numbers as f32 (the text of a float may differ), the rest exactly.
        for (g, w) in got["data"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .zip(want["data"].as_array_mut().unwrap())
        {
            assert_eq!(floats(&g["embedding"]), floats(&w["embedding"]));
            g["embedding"] = Value::Null;
            w["embedding"] = Value::Null;
        }
        assert_eq!(got, want);

        let recorded: Value =
            serde_json::from_str(fixture!("openai_response_base64.json")).unwrap();
        let body = openai_response(
            "text-embedding-3-small",
            &vectors,
            EncodingFormat::Base64,
            23,
        );
        let got: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got, recorded);
    }

    #[test]
    fn token_estimate_is_a_quarter_of_the_characters_or_the_token_count() {
        let cases = [
            (EmbeddingInput::One("abcd".to_owned()), 1),
            (EmbeddingInput::One("abcde".to_owned()), 2),
            (EmbeddingInput::One("é€😀x".to_owned()), 1),
            (
                EmbeddingInput::Many(vec!["a".to_owned(), "123456789".to_owned()]),
                4,
            ),
            (EmbeddingInput::Tokens(vec![1, 2, 3]), 3),
            (EmbeddingInput::ManyTokens(vec![vec![1], vec![2, 3]]), 3),
        ];
        for (input, want) in cases {
            assert_eq!(estimate_tokens(&input), want, "{input:?}");
        }
    }

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn mock_vectors_are_deterministic_distinct_and_unit_length() {
        let input = EmbeddingInput::Many(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]);
        let v = mock_vectors(&input, None);
        assert_eq!(v.len(), 3);
        assert_eq!(v, mock_vectors(&input, None));
        assert_eq!(v[0], v[2]);
        assert_ne!(v[0], v[1]);
        assert_eq!(
            v[0],
            mock_vectors(&EmbeddingInput::One("a".to_owned()), None)[0]
        );
        // text and tokens are hashed apart
        assert_ne!(
            mock_vectors(&EmbeddingInput::One("1".to_owned()), None),
            mock_vectors(&EmbeddingInput::Tokens(vec![1]), None)
        );
        for vector in &v {
            assert_eq!(vector.len(), MOCK_DEFAULT_DIMENSIONS as usize);
            assert!((norm(vector) - 1.0).abs() < 1e-5, "{}", norm(vector));
        }
    }

    #[test]
    fn mock_vectors_honour_dimensions_within_bounds() {
        let input = EmbeddingInput::ManyTokens(vec![vec![1, 2], vec![3]]);
        for (asked, want) in [
            (Some(1), 1),
            (Some(8), 8),
            (Some(17), 17),
            (Some(1536), 1536),
            (Some(0), 1),
            (Some(u32::MAX), MOCK_MAX_DIMENSIONS as usize),
        ] {
            let v = mock_vectors(&input, asked);
            assert_eq!(v.len(), 2);
            for vector in &v {
                assert_eq!(vector.len(), want, "{asked:?}");
                assert!((norm(vector) - 1.0).abs() < 1e-5, "{asked:?}");
            }
        }
    }

    const FIXTURES: [(&str, &str); 11] = [
        (
            "openai_request_single.json",
            fixture!("openai_request_single.json"),
        ),
        (
            "openai_request_batch.json",
            fixture!("openai_request_batch.json"),
        ),
        (
            "openai_request_dimensions.json",
            fixture!("openai_request_dimensions.json"),
        ),
        (
            "openai_request_task_type.json",
            fixture!("openai_request_task_type.json"),
        ),
        (
            "openai_request_token_array.json",
            fixture!("openai_request_token_array.json"),
        ),
        (
            "openai_request_tokens.json",
            fixture!("openai_request_tokens.json"),
        ),
        ("openai_response.json", fixture!("openai_response.json")),
        (
            "openai_response_base64.json",
            fixture!("openai_response_base64.json"),
        ),
        (
            "gemini_batch_response.json",
            fixture!("gemini_batch_response.json"),
        ),
        ("gemini_error_400.json", fixture!("gemini_error_400.json")),
        ("gemini_error_404.json", fixture!("gemini_error_404.json")),
    ];

    /// Runs every function of both embeddings modules over `bytes`; only
    /// panics matter.
    fn exercise(bytes: &[u8]) {
        use crate::protocol::gemini::provider as gemini;
        if let Ok(req) = serde_json::from_slice::<EmbeddingsRequest>(bytes) {
            let _ = req.validate();
            let _ = estimate_tokens(&req.input);
            let vectors: Vec<Vector> = mock_vectors(&req.input, req.dimensions.map(|d| d.min(64)))
                .into_iter()
                .map(Vector::Computed)
                .collect();
            let _ = openai_response(&req.model, &vectors, req.format(), 1);
            let _ = gemini::embeddings::to_gemini(&req, "gemini-embedding-001");
        }
        for expected in [0, 1, 2, 3] {
            if let Ok(vectors) = gemini::embeddings::from_gemini(bytes, expected) {
                for format in [EncodingFormat::Float, EncodingFormat::Base64] {
                    let _ = openai_response("m", &vectors, format, 1);
                }
            }
        }
        let _ = gemini::error_from_gemini(400, bytes, None);
    }

    #[test]
    fn fixtures_truncated_or_corrupted_at_every_byte_never_panic() {
        for (name, text) in FIXTURES {
            let bytes = text.as_bytes();
            assert!(!bytes.is_empty(), "{name}");
            let mut buf = bytes.to_vec();
            for i in 0..=bytes.len() {
                exercise(&bytes[..i]);
                if i < bytes.len() {
                    for mask in [0xFF_u8, 0x20, 0x01] {
                        buf[i] ^= mask;
                        exercise(&buf);
                        buf[i] ^= mask;
                    }
                }
            }
        }
    }

    #[test]
    fn fixture_requests_parse_and_validate() {
        for (name, text) in FIXTURES {
            if name.starts_with("openai_request_") {
                assert!(parse(text).is_ok(), "{name}");
            }
        }
    }

    #[test]
    fn another_apis_request_goes_to_openai_as_float_and_comes_back_in_index_order() {
        let req = EmbeddingsRequest {
            model: "e".to_owned(),
            input: EmbeddingInput::Many(vec!["a".to_owned(), "b".to_owned()]),
            encoding_format: None,
            dimensions: Some(8),
            user: None,
            extra: serde_json::from_str(r#"{"taskType":"RETRIEVAL_QUERY"}"#).unwrap(),
        };
        let (body, dropped) = openai_request(&req, "text-embedding-3-small");
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            serde_json::json!({"model": "text-embedding-3-small", "input": ["a", "b"],
                               "encoding_format": "float", "dimensions": 8})
        );
        assert_eq!(dropped, ["taskType"]);
        let answer =
            br#"{"data":[{"index":1,"embedding":[0.5]},{"index":0,"embedding":[0.25,1e-3]}]}"#;
        let vectors = openai_vectors(answer, 2).unwrap();
        assert_eq!(vectors[0].values(), [0.25, 0.001]);
        assert_eq!(vectors[1].values(), [0.5]);
        assert!(openai_vectors(answer, 3).is_err());
        assert!(openai_vectors(br#"{"data":[{"embedding":[]}]}"#, 1).is_err());
        assert!(openai_vectors(b"nope", 1).is_err());
    }
}
