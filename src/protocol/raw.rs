//! A JSON object kept as raw, borrowed member values: what pass-through
//! needs. Reading the few fields the gateway routes on and rewriting `model`
//! costs one scan of the body and no allocation per member value; every
//! other field goes upstream byte for byte.

use bytes::Bytes;
use bytestring::ByteString;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// The members of a JSON object, in order, values unparsed.
#[derive(Debug)]
pub struct RawObject<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawObject<'a> {
    /// Parses the top level of a JSON object.
    pub fn parse(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The raw value of member `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Writes the object back with `replace` members substituted (or added,
    /// in order, when absent) and every other member unchanged.
    pub fn write_with(&self, replace: &[(&str, &[u8])]) -> Vec<u8> {
        write_members(
            self.0.iter().map(|(k, v)| (&**k, v.get().as_bytes())),
            replace,
        )
    }
}

/// A JSON object body with the spans of its top-level members: checked to
/// be UTF-8 and scanned once, then read and rewritten any number of times
/// (every attempt of a call) without another pass.
#[derive(Debug, Clone)]
pub struct RawBody {
    text: ByteString,
    members: Vec<(Key, Range<usize>)>,
}

/// A member's name: a span of the body, or owned when it had escapes.
#[derive(Debug, Clone)]
enum Key {
    Span(Range<usize>),
    Owned(Box<str>),
}

impl RawBody {
    /// Scans the top level of a JSON object.
    pub fn parse(bytes: Bytes) -> Result<Self, serde_json::Error> {
        let text = match ByteString::try_from(bytes.clone()) {
            Ok(text) => text,
            // serde's words for what is wrong, and where.
            Err(_) => return Err(not_utf8(&bytes)),
        };
        let members = {
            let obj: RawObject<'_> = serde_json::from_str(&text)?;
            let base = text.as_ptr() as usize;
            let span = |s: &str| {
                let start = s.as_ptr() as usize - base;
                start..start + s.len()
            };
            obj.0
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Cow::Borrowed(k) => Key::Span(span(k)),
                        Cow::Owned(k) => Key::Owned(k.as_str().into()),
                    };
                    (key, span(v.get()))
                })
                .collect()
        };
        Ok(Self { text, members })
    }

    /// The body as it came.
    pub fn bytes(&self) -> &Bytes {
        self.text.as_bytes()
    }

    /// The raw JSON text of member `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Writes the object back with `replace` members substituted (or added,
    /// in order, when absent) and every other member unchanged.
    pub fn write_with(&self, replace: &[(&str, &[u8])]) -> Vec<u8> {
        write_members(self.members().map(|(k, v)| (k, v.as_bytes())), replace)
    }

    /// Every member, in order: its name and its raw JSON text.
    pub fn members(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        // The spans were cut at this text's `&str` pieces: on char
        // boundaries, in bounds.
        let text = |r: &Range<usize>| self.text.get(r.clone()).unwrap_or("");
        self.members.iter().map(move |(k, v)| {
            let key = match k {
                Key::Span(r) => text(r),
                Key::Owned(k) => k,
            };
            (key, text(v))
        })
    }
}

/// serde's error for `bytes`, which are not UTF-8.
fn not_utf8(bytes: &[u8]) -> serde_json::Error {
    match RawObject::parse(bytes) {
        Err(e) => e,
        Ok(_) => serde::de::Error::custom("invalid unicode code point"),
    }
}

/// The span in `json` (an object) of the value at `path`, a member of
/// nested objects, if there is one: found with one scan per level and no
/// copy, for rewriting one value of an upstream's answer in place.
pub fn span_of(json: &[u8], path: &[&str]) -> Result<Option<Range<usize>>, serde_json::Error> {
    let mut text = json;
    for key in path {
        let [Some(value)] = pick(text, [key])? else {
            return Ok(None);
        };
        text = value.get().as_bytes();
    }
    Ok(Some(span_in(json, text)))
}

/// The raw values of the members of the JSON object `json` that `keys`
/// names (the first of each name): one scan, every other member skipped
/// (checked, not kept).
pub fn pick<'a, const N: usize>(
    json: &'a [u8],
    keys: [&str; N],
) -> Result<[Option<&'a RawValue>; N], serde_json::Error> {
    struct Pick<'k, const N: usize>([&'k str; N]);
    impl<'de, const N: usize> Visitor<'de> for Pick<'_, N> {
        type Value = [Option<&'de RawValue>; N];
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut picked = [None; N];
            while let Some(key) = map.next_key::<CowStr<'de>>()? {
                match (0..N).find(|&i| picked[i].is_none() && self.0[i] == key.0) {
                    Some(i) => picked[i] = Some(map.next_value::<&'de RawValue>()?),
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(picked)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let picked = de.deserialize_map(Pick(keys))?;
    de.end()?;
    Ok(picked)
}

/// Where `part`, a slice of `json`, lies in it.
pub fn span_in(json: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - json.as_ptr() as usize;
    start..start + part.len()
}

impl RawObject<'_> {
    /// The span of member `key`'s value in `json`, the text this object
    /// was parsed from.
    pub fn span_of(&self, json: &[u8], key: &str) -> Option<Range<usize>> {
        self.get(key).map(|v| span_in(json, v.get().as_bytes()))
    }
}

/// Appends `json` with `span` replaced by `value`.
pub fn put_spliced(out: &mut impl bytes::BufMut, json: &[u8], span: Range<usize>, value: &[u8]) {
    out.put_slice(&json[..span.start]);
    out.put_slice(value);
    out.put_slice(&json[span.end..]);
}

/// Appends `json` to `out` with the value at `path` replaced by `value`
/// (raw JSON), or `json` unchanged when it has no such value; an error when
/// `json` is not an object (nothing appended).
pub fn put_with(
    out: &mut impl bytes::BufMut,
    json: &[u8],
    path: &[&str],
    value: &[u8],
) -> Result<(), serde_json::Error> {
    match span_of(json, path)? {
        Some(span) => put_spliced(out, json, span, value),
        None => out.put_slice(json),
    }
    Ok(())
}

/// A copy of the JSON object `body` with the value at `path` replaced by
/// `value` (see [`put_with`]); `None` when `body` is not a JSON object.
pub fn rewritten(body: &[u8], path: &[&str], value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + value.len());
    put_with(&mut out, body, path, value).ok()?;
    Some(out)
}

/// Whether the JSON text `json` has a member named `key` at any depth
/// ([`keys_in`]).
pub fn has_key(json: &[u8], key: &str) -> bool {
    keys_in(json, &[key]) != 0
}

/// Which of `keys` (at most 32) the JSON text `json` has as a member name
/// at any depth, bit `i` for `keys[i]`: one vectorised pass over its
/// quotes, no parse. A key's quotes are not inside a string (there a quote
/// is escaped), so the real key follows `{` or `,` and is followed by `:`.
pub fn keys_in(json: &[u8], keys: &[&str]) -> u32 {
    let keys = &keys[..keys.len().min(32)];
    let mut found = 0u32;
    for open in memchr::memchr_iter(b'"', json) {
        let rest = &json[open + 1..];
        let Some(first) = rest.first() else { break };
        for (i, key) in keys.iter().enumerate() {
            let key = key.as_bytes();
            if key.first() != Some(first)
                || found & (1 << i) != 0
                || !rest.starts_with(key)
                || rest.get(key.len()) != Some(&b'"')
            {
                continue;
            }
            let before = json[..open].iter().rev().find(|b| !b.is_ascii_whitespace());
            let after = rest[key.len() + 1..]
                .iter()
                .find(|b| !b.is_ascii_whitespace());
            if matches!(before, Some(b'{' | b',')) && after == Some(&b':') {
                found |= 1 << i;
            }
        }
    }
    found
}

/// Writes `{members…, replace…}`: members named in `replace` are left out
/// where they stood, the replacements come last, in order.
fn write_members<'m>(
    members: impl Iterator<Item = (&'m str, &'m [u8])> + Clone,
    replace: &[(&str, &[u8])],
) -> Vec<u8> {
    let size = members
        .clone()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum::<usize>()
        + replace
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
        + 2;
    let mut out = Vec::with_capacity(size);
    out.push(b'{');
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        // A key is a plain string: serialising it into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        out.extend_from_slice(value);
    };
    for (k, v) in members {
        if !replace.iter().any(|(rk, _)| *rk == k) {
            member(&mut out, k, v);
        }
    }
    for (k, v) in replace {
        member(&mut out, k, v);
    }
    out.push(b'}');
    out
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    members.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A string that borrows when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// `text` as a JSON string value (quoted, escaped), to splice into raw
/// JSON.
pub fn json_string(text: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_named_members() {
        let body = br#"{"model":"gpt","messages":[{"role":"user","content":"hi"}],"x\"y":{"a":1}}"#;
        let obj = RawObject::parse(body).unwrap();
        assert_eq!(
            obj.get("messages").unwrap().get(),
            r#"[{"role":"user","content":"hi"}]"#
        );
        let out = obj.write_with(&[("model", br#""gpt-4o""#), ("stream_options", b"{}")]);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"messages":[{"role":"user","content":"hi"}],"x\"y":{"a":1},"model":"gpt-4o","stream_options":{}}"#
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_in_serdes_words_and_place() {
        let body = Bytes::from_static(b"{\"model\":\"gpt\",\"x\":\"\xff\"}");
        let e = RawBody::parse(body).unwrap_err().to_string();
        assert!(e.starts_with("invalid unicode code point"), "{e}");
        assert!(e.ends_with("line 1 column 21"), "{e}");
    }

    #[test]
    fn a_raw_body_reads_and_rewrites_like_the_object_it_was_scanned_from() {
        let text = br#"{"model":"gpt","a\u0062":[1, 2],"stream":true}"#;
        let body = RawBody::parse(Bytes::from_static(text)).unwrap();
        assert_eq!(body.get("ab"), Some("[1, 2]"));
        assert_eq!(body.get("stream"), Some("true"));
        let expected = RawObject::parse(text)
            .unwrap()
            .write_with(&[("model", br#""x""#)]);
        assert_eq!(body.write_with(&[("model", br#""x""#)]), expected);
        assert_eq!(
            std::str::from_utf8(&expected).unwrap(),
            r#"{"ab":[1, 2],"stream":true,"model":"x"}"#
        );
    }

    #[test]
    fn one_nested_value_is_replaced_in_place_and_the_rest_kept_byte_for_byte() {
        let json = r#"{"type":"message_start","message":{"id":"m", "model" : "up-1","usage":{}},"model":"x"}"#;
        let mut out = Vec::new();
        put_with(
            &mut out,
            json.as_bytes(),
            &["message", "model"],
            br#""asked""#,
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"type":"message_start","message":{"id":"m", "model" : "asked","usage":{}},"model":"x"}"#
        );
        let mut same = Vec::new();
        put_with(&mut same, json.as_bytes(), &["message", "nothing"], b"1").unwrap();
        assert_eq!(same, json.as_bytes());
        // A string that only looks like the member is not touched.
        let tricky = r#"{"choices":[{"delta":{"content":"\"model\":\"a\""}}],"model":"up"}"#;
        let mut out = Vec::new();
        put_with(&mut out, tricky.as_bytes(), &["model"], br#""m""#).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"choices":[{"delta":{"content":"\"model\":\"a\""}}],"model":"m"}"#
        );
        assert!(put_with(&mut Vec::new(), b"[1]", &["model"], b"1").is_err());
    }

    #[test]
    fn a_key_is_found_at_any_depth_but_not_inside_strings() {
        let key = "cache_control";
        assert!(has_key(
            br#"{"a":[{"text":"x","cache_control":{"type":"ephemeral"}}]}"#,
            key
        ));
        assert!(has_key(b"{\"a\":1,\n  \"cache_control\" : {}}", key));
        assert!(has_key(br#"{"t":"a\\","cache_control":1}"#, key));
        assert!(!has_key(br#"{"text":"say \"cache_control\": no"}"#, key));
        assert!(!has_key(br#"{"text":"cache_control"}"#, key));
        assert!(!has_key(br#"{"my_cache_control":1}"#, key));
        assert!(!has_key(b"", key));
        let both = br#"{"messages":[{"role":"assistant","thinking_blocks":[]}],"tools":[{"cache_control":{}}]}"#;
        assert_eq!(
            keys_in(
                both,
                &["cache_control", "reasoning_content", "thinking_blocks"]
            ),
            0b101
        );
    }

    #[test]
    fn rejects_non_objects() {
        assert!(RawObject::parse(b"[1]").is_err());
        assert!(RawObject::parse(b"{\"a\":").is_err());
    }
}
