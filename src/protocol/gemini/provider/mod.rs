//! Gemini `generateContent` / `streamGenerateContent?alt=sse` (PROTOCOLS.md §3,
//! §4.4–4.14): the request encoder, the response and error decoders, and the
//! stream state machine. Bodies only: the provider actor builds the URL
//! (`{base_url}/{model_path}:generateContent`, or
//! `:streamGenerateContent?alt=sse`) and sends the key in `x-goog-api-key`.
//!
//! # Tool-call ids and thought signatures (§3.10, §4.10, E18)
//!
//! Gemini usually sends no `functionCall.id`, and Gemini 3 requires the
//! `thoughtSignature` of a function-call part to come back on that part in the
//! next request. OpenAI clients only keep the tool-call id, so the signature
//! rides inside it, without server-side state:
//!
//! ```text
//! id   = base [ "__ts_"  base64url(signature bytes) ]    signature is canonical base64
//!           | [ "__tsr_" base64url(signature string) ]   anything else, kept byte for byte
//! base = functionCall.id                 when Gemini sent one that is [A-Za-z0-9_-]{1,64} without "__"
//!      | "call_" + 24 alphanumerics      otherwise: SHA-256 of (response id, candidate, call ordinal)
//! ```
//!
//! The id therefore always matches `^[a-zA-Z0-9_-]+$` (valid for OpenAI and
//! Anthropic, E7), but with a signature it is longer than 64 characters.
//! On the way back the base is cut at the first `"__"` and the signature
//! restored on the `functionCall` part. A base that is not of the synthesized
//! `call_<24>` form is echoed as `functionCall.id` / `functionResponse.id`
//! (it is Gemini's own id, or another provider's, sent consistently on both
//! sides); synthesized ids are never sent to Gemini. Signatures on text parts
//! are dropped.

mod api;
pub mod embeddings;
pub mod request;
pub mod response;

pub mod stream;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

pub use api::GeminiProvider;
pub use request::to_gemini;
pub use response::{error_from_gemini, from_gemini};
pub use stream::GeminiToOpenAi;

/// The `models/`-prefixed model path: `"gemini-1.5-pro"` →
/// `"models/gemini-1.5-pro"`; `"models/x"` is returned unchanged.
pub fn model_path(api_model: &str) -> Cow<'_, str> {
    if api_model.starts_with("models/") {
        Cow::Borrowed(api_model)
    } else {
        Cow::Owned(format!("models/{api_model}"))
    }
}

/// A converted request: the Gemini body, the request fields that had no
/// Gemini equivalent (for a warning or a header), and what the response side
/// needs.
#[derive(Debug)]
pub struct Converted {
    /// The JSON body for `generateContent` / `streamGenerateContent`.
    pub body: Vec<u8>,
    /// Names of request fields that were dropped (`user`, `logit_bias`, …).
    pub dropped: Vec<String>,
    /// Context for [`from_gemini`] and [`GeminiToOpenAi::new`].
    pub ctx: ResponseContext,
}

/// What the response side needs from the request.
#[derive(Clone, Debug, Default)]
pub struct ResponseContext {
    /// The model the caller asked for; the response's `model` when Gemini
    /// sends no `modelVersion`.
    pub model: String,
    /// Unix seconds for `created` of a non-streaming response (the caller's
    /// side sets it: this layer reads no clock; streams take it in
    /// [`GeminiToOpenAi::new`]).
    pub created: u64,
}

/// Separator before a signature that was canonical base64 (stored as the
/// base64url of its bytes).
const SIG_TAG: &str = "ts_";
/// Separator before a signature kept as the base64url of its string.
const SIG_RAW_TAG: &str = "tsr_";

/// Builds the OpenAI tool-call id for a Gemini function call (see the module
/// docs). `seed` identifies the response (its `responseId`, or the chat id).
pub(crate) fn tool_call_id(
    seed: &str,
    candidate: u32,
    ordinal: u32,
    gemini_id: Option<&str>,
    signature: Option<&str>,
) -> String {
    let mut id = match gemini_id.filter(|g| usable_gemini_id(g)) {
        Some(g) => g.to_owned(),
        None => synthesized_call_id(seed, candidate, ordinal),
    };
    if let Some(sig) = signature.filter(|s| !s.is_empty()) {
        match STANDARD.decode(sig) {
            Ok(bytes) if STANDARD.encode(&bytes) == sig => {
                id.push_str("__");
                id.push_str(SIG_TAG);
                id.push_str(&URL_SAFE_NO_PAD.encode(bytes));
            }
            _ => {
                id.push_str("__");
                id.push_str(SIG_RAW_TAG);
                id.push_str(&URL_SAFE_NO_PAD.encode(sig.as_bytes()));
            }
        }
    }
    id
}

/// `call_` + 24 alphanumerics derived from SHA-256, stable for the same
/// (seed, candidate, ordinal).
fn synthesized_call_id(seed: &str, candidate: u32, ordinal: u32) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update([0]);
    h.update(candidate.to_be_bytes());
    h.update(ordinal.to_be_bytes());
    let digest = h.finalize();
    let mut id = String::with_capacity(29);
    id.push_str("call_");
    for b in digest.iter().take(24) {
        id.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    id
}

/// A short deterministic alphanumeric token for synthesized response ids.
pub(crate) fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn usable_gemini_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.contains("__")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_synthesized(base: &str) -> bool {
    base.len() == 29
        && base.starts_with("call_")
        && base.bytes().skip(5).all(|b| b.is_ascii_alphanumeric())
}

/// An OpenAI tool-call id taken apart (see the module docs).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DecodedId<'a> {
    /// The id to send as `functionCall.id` / `functionResponse.id`, if any.
    pub gemini_id: Option<&'a str>,
    /// The thought signature to put back on the `functionCall` part.
    pub signature: Option<String>,
}

/// Splits a tool-call id into the id to echo and the signature it carries.
/// Ids the gateway did not make pass through whole; a damaged signature is
/// ignored (Gemini then reports the missing signature itself).
pub(crate) fn decode_tool_call_id(id: &str) -> DecodedId<'_> {
    let (base, signature) = match id.split_once("__") {
        Some((base, rest)) => {
            if let Some(enc) = rest.strip_prefix(SIG_TAG) {
                let sig = URL_SAFE_NO_PAD.decode(enc).ok().map(|b| STANDARD.encode(b));
                (base, sig)
            } else if let Some(enc) = rest.strip_prefix(SIG_RAW_TAG) {
                let sig = URL_SAFE_NO_PAD
                    .decode(enc)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                (base, sig)
            } else {
                (id, None)
            }
        }
        None => (id, None),
    };
    DecodedId {
        gemini_id: (!base.is_empty() && !is_synthesized(base)).then_some(base),
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_path_adds_the_models_prefix_once() {
        assert_eq!(model_path("gemini-1.5-pro"), "models/gemini-1.5-pro");
        assert_eq!(model_path("models/x"), "models/x");
        assert!(matches!(model_path("models/x"), Cow::Borrowed(_)));
    }

    fn id_charset_ok(id: &str) -> bool {
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    #[test]
    fn synthesized_ids_are_openai_shaped_and_stable() {
        let a = tool_call_id("r1", 0, 0, None, None);
        assert_eq!(a.len(), 29);
        assert!(a.starts_with("call_") && id_charset_ok(&a));
        assert_eq!(a, tool_call_id("r1", 0, 0, None, None));
        assert_ne!(a, tool_call_id("r1", 0, 1, None, None));
        assert_ne!(a, tool_call_id("r1", 1, 0, None, None));
        assert_ne!(a, tool_call_id("r2", 0, 0, None, None));
        assert_eq!(
            decode_tool_call_id(&a),
            DecodedId {
                gemini_id: None,
                signature: None
            }
        );
    }

    #[test]
    fn thought_signatures_round_trip_through_the_id_e18() {
        let cases = [
            // canonical base64 with padding and the characters base64url replaces
            "CiQBVKhc+/9x8Q==",
            "CiQBVKhc",
            // not base64 at all (as in PROTOCOLS.md §3.2): kept byte for byte
            "CiQB...",
            "sig with spaces/and=signs",
            // unpadded base64 is not canonical: raw mode keeps it exact
            "CiQBVKhc+w",
        ];
        for sig in cases {
            for gemini_id in [None, Some("fc-01_AbC")] {
                let id = tool_call_id("r1", 0, 0, gemini_id, Some(sig));
                assert!(id_charset_ok(&id), "{id}");
                let d = decode_tool_call_id(&id);
                assert_eq!(d.signature.as_deref(), Some(sig), "{id}");
                assert_eq!(d.gemini_id, gemini_id, "{id}");
            }
        }
    }

    #[test]
    fn gemini_ids_pass_through_when_safe_and_are_echoed() {
        assert_eq!(tool_call_id("r", 0, 0, Some("abc-123"), None), "abc-123");
        // unsafe characters or the separator: a synthesized id instead
        for bad in ["a.b", "a__b", "", &"x".repeat(65)] {
            let id = tool_call_id("r", 0, 0, Some(bad), None);
            assert!(is_synthesized(&id), "{bad} -> {id}");
        }
        assert_eq!(decode_tool_call_id("abc-123").gemini_id, Some("abc-123"));
        // foreign ids pass through whole, even with a double underscore
        assert_eq!(
            decode_tool_call_id("toolu_01__x").gemini_id,
            Some("toolu_01__x")
        );
    }

    #[test]
    fn a_damaged_signature_is_ignored() {
        let d = decode_tool_call_id("call_abc__ts_!!!");
        assert_eq!(d.signature, None);
        assert_eq!(d.gemini_id, Some("call_abc"));
    }

    macro_rules! fixtures {
        ($($name:literal),* $(,)?) => {
            [$(($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/", $name)).as_slice())),*]
        };
    }

    const FIXTURES: [(&str, &[u8]); 30] = fixtures!(
        "error_400_api_key_invalid.json",
        "error_400_invalid_argument.json",
        "error_404_not_found.json",
        "error_429_resource_exhausted.json",
        "error_500_internal.json",
        "error_503_array_wrapped.json",
        "openai_request_agent_history.json",
        "openai_request_json_schema.json",
        "openai_request_weather.json",
        "request_protocols_3_2.json",
        "response_json_schema.json",
        "response_max_tokens.json",
        "response_multiple_candidates.json",
        "response_parallel_tools.json",
        "response_prompt_block.json",
        "response_protocols_3_7.json",
        "response_safety_block.json",
        "response_thoughts_text.json",
        "stream_crlf.sse",
        "stream_error.sse",
        "stream_multiple_candidates.sse",
        "stream_prompt_block.sse",
        "stream_protocols_4_6.openai.sse",
        "stream_protocols_4_6.sse",
        "stream_safety_mid.sse",
        "stream_text.sse",
        "stream_thinking_tools.sse",
        "stream_truncated.sse",
        "stream_usage_final_only.sse",
        "stream_usage_gap.sse",
    );

    /// Runs every converter of this module over `bytes`; only panics matter.
    fn exercise(bytes: &[u8]) {
        use crate::protocol::sse::SseParser;
        use crate::protocol::ChunkDecoder;

        let ctx = ResponseContext {
            model: "m".to_owned(),
            created: 1,
        };
        let _ = from_gemini(bytes, &ctx);
        let _ = error_from_gemini(429, bytes, None);

        let mut parser = SseParser::new();
        let mut events = Vec::new();
        // Arbitrary bytes: an overflow only ends the events early.
        let _ = parser.feed(bytes, &mut events);
        events.extend(parser.finish().ok().flatten());
        let mut decoder = GeminiToOpenAi::new(ctx, 1);
        for ev in &events {
            if decoder.feed(ev).is_err() {
                break;
            }
        }
        let _ = decoder.finish();
        let _ = decoder.usage();
        // Each body also as a single event (the .json fixtures are events too).
        let mut decoder = GeminiToOpenAi::new(ResponseContext::default(), 1);
        let _ = decoder.feed(&crate::protocol::sse::SseEvent {
            event: None,
            data: String::from_utf8_lossy(bytes).into_owned(),
        });
        let _ = decoder.finish();

        if let Ok(req) = serde_json::from_slice::<crate::protocol::openai::ChatRequest>(bytes) {
            let _ = to_gemini(&req);
        }
        if let Ok(schema) = serde_json::from_slice::<serde_json::Value>(bytes) {
            let _ = crate::protocol::gemini::schema::clean_schema(&schema);
            let _ = crate::protocol::gemini::schema::clean_parameters(&schema);
        }
    }

    #[test]
    fn fixtures_truncated_or_corrupted_at_every_byte_never_panic() {
        for (name, bytes) in FIXTURES {
            assert!(!bytes.is_empty(), "{name}");
            let mut buf = bytes.to_vec();
            for i in 0..=bytes.len() {
                exercise(&bytes[..i]);
                if i < bytes.len() {
                    for mask in [0xFF_u8, 0x20] {
                        buf[i] ^= mask;
                        exercise(&buf);
                        buf[i] ^= mask;
                    }
                }
            }
        }
    }

    #[test]
    fn fixture_requests_convert() {
        for (name, bytes) in FIXTURES {
            if name.starts_with("openai_request_") {
                let req = serde_json::from_slice(bytes).unwrap();
                assert!(to_gemini(&req).is_ok(), "{name}");
            }
        }
    }

    #[test]
    fn response_side_state_can_move_between_threads() {
        fn send_static<T: Send + 'static>() {}
        send_static::<ResponseContext>();
        send_static::<GeminiToOpenAi>();
        send_static::<Converted>();
    }
}
