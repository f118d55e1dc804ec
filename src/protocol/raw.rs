//! A JSON object kept as raw, borrowed member values: what pass-through
//! needs. Reading the few fields the gateway routes on and rewriting `model`
//! costs one scan of the body and no allocation per member value; every
//! other field goes upstream byte for byte.

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
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

/// A JSON object body with the spans of its top-level members: scanned once,
/// then read and rewritten any number of times (every attempt of a call)
/// without another scan.
#[derive(Debug, Clone)]
pub struct RawBody {
    bytes: Bytes,
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
        let members = {
            let obj = RawObject::parse(&bytes)?;
            let base = bytes.as_ptr() as usize;
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
        Ok(Self { bytes, members })
    }

    /// The body as it came.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
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
        // The spans were cut from this body's `&str` pieces: always UTF-8.
        let text = |r: &Range<usize>| std::str::from_utf8(&self.bytes[r.clone()]).unwrap_or("");
        self.members.iter().map(move |(k, v)| {
            let key = match k {
                Key::Span(r) => text(r),
                Key::Owned(k) => k,
            };
            (key, text(v))
        })
    }
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
    fn rejects_non_objects() {
        assert!(RawObject::parse(b"[1]").is_err());
        assert!(RawObject::parse(b"{\"a\":").is_err());
    }
}
