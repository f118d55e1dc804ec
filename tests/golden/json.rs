//! JSON that keeps object keys in the order they were written, so that a
//! snapshot shows a body as the gateway sent it (`serde_json::Value` sorts
//! keys, and turning on `preserve_order` would change the gateway's own
//! build).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// A JSON value with ordered object entries.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses JSON text; `None` when it is not JSON.
    pub fn parse(bytes: &[u8]) -> Option<Json> {
        serde_json::from_slice(bytes).ok()
    }

    /// Pretty-printed, keys in their order.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("JSON serialises")
    }

    /// Compact, keys in their order.
    pub fn compact(&self) -> String {
        serde_json::to_string(self).expect("JSON serialises")
    }

    /// Sets `key` of an object, in place when present, else first.
    pub fn set(&mut self, key: &str, value: Json) {
        let Json::Object(entries) = self else {
            panic!("not a JSON object: {}", self.compact())
        };
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => entries.insert(0, (key.to_owned(), value)),
        }
    }

    /// Removes `key` of an object and returns its value.
    pub fn take(&mut self, key: &str) -> Option<Json> {
        let Json::Object(entries) = self else {
            return None;
        };
        let at = entries.iter().position(|(k, _)| k == key)?;
        Some(entries.remove(at).1)
    }

    /// Every string value, depth first.
    pub fn strings(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_strings(&mut out);
        out
    }

    fn collect_strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Json::String(s) => out.push(s),
            Json::Array(items) => items.iter().for_each(|v| v.collect_strings(out)),
            Json::Object(entries) => entries.iter().for_each(|(_, v)| v.collect_strings(out)),
            _ => {}
        }
    }

    /// Calls `f` on every value depth first, with the key it sits under
    /// (`None` for array items and the root).
    pub fn walk_mut(&mut self, f: &mut impl FnMut(Option<&str>, &mut Json)) {
        self.walk_under(None, f);
    }

    fn walk_under(&mut self, key: Option<&str>, f: &mut impl FnMut(Option<&str>, &mut Json)) {
        f(key, self);
        match self {
            Json::Array(items) => items.iter_mut().for_each(|v| v.walk_under(None, f)),
            Json::Object(entries) => entries
                .iter_mut()
                .for_each(|(k, v)| v.walk_under(Some(k), f)),
            _ => {}
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}
