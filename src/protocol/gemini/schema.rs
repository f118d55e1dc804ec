//! JSON Schema → Gemini's OpenAPI-3.0-subset `Schema` (PROTOCOLS.md §3.4, E15).
//!
//! Allowlist approach (the envoy style): `$ref`s are inlined from
//! `$defs`/`definitions` first, then only keys Gemini knows are copied,
//! recursively. Everything else (`additionalProperties`, `$schema`, `$id`,
//! `default`, `examples`, `exclusiveMinimum`/`exclusiveMaximum`,
//! `propertyNames`, `patternProperties`, `not`, `if`/`then`/`else`, …) is
//! dropped. Rewrites:
//!
//! * `type` is upper-cased (`STRING`, `OBJECT`, …); an array-valued `type`
//!   becomes its first non-null type plus `nullable: true` when `"null"` was
//!   listed; a missing `type` is inferred from `properties` (`OBJECT`) or
//!   `items` (`ARRAY`).
//! * `anyOf: [X, {type: null}]` → `X` + `nullable`; `oneOf` → `anyOf`;
//!   `allOf` members are merged into the schema (properties and `required`
//!   united).
//! * `const: v` → `enum: [v]`. Enum values are stringified; an enum on a
//!   non-string `type` (`INTEGER`, `NUMBER`, `BOOLEAN`) is not allowed by
//!   Gemini, so it is moved into the `description` ("Allowed values: …") and
//!   the type kept, so that tool arguments keep their JSON types.
//! * `format` is kept only where Gemini documents it: `date-time`/`enum` on
//!   strings, `int32`/`int64` on integers, `float`/`double` on numbers.
//! * `required` keeps only names present in `properties`; an empty
//!   `properties` map is left out; an `ARRAY` without `items` gets
//!   `items: {type: STRING}` (Gemini requires `items`).
//! * A `$ref` that is already being expanded (a cycle), that goes deeper than
//!   [`MAX_DEPTH`], or that exceeds [`MAX_REF_EXPANSIONS`] becomes
//!   `{type: OBJECT}` (keeping its description), so cleaning always
//!   terminates and stays small.

use serde_json::{Map, Value};

/// Nesting depth (of the output) after which a sub-schema is cut off.
pub const MAX_DEPTH: usize = 48;
/// Total `$ref` expansions per schema before further refs are cut off.
pub const MAX_REF_EXPANSIONS: usize = 256;

/// Cleans a JSON Schema into the subset Gemini accepts (see the module docs).
pub fn clean_schema(schema: &Value) -> Value {
    let mut cx = Cleaner {
        root: schema,
        stack: Vec::new(),
        expansions: 0,
    };
    Value::Object(cx.clean(schema, 0))
}

/// Cleans a tool's `parameters`: the top level is an `OBJECT`, and a schema
/// without properties yields `None` (Gemini rejects an `OBJECT` with empty
/// `properties`, and a function may simply have no parameters).
pub fn clean_parameters(schema: &Value) -> Option<Value> {
    let Value::Object(mut cleaned) = clean_schema(schema) else {
        return None;
    };
    let has_properties = cleaned
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    if !has_properties {
        return None;
    }
    cleaned.insert("type".into(), Value::from("OBJECT"));
    Some(Value::Object(cleaned))
}

struct Cleaner<'a> {
    root: &'a Value,
    /// `$ref`s being expanded, innermost last (cycle detection).
    stack: Vec<&'a str>,
    expansions: usize,
}

/// Result-building state for one schema node.
#[derive(Default)]
struct Node {
    out: Map<String, Value>,
    nullable: bool,
}

impl<'a> Cleaner<'a> {
    fn clean(&mut self, node: &'a Value, depth: usize) -> Map<String, Value> {
        let mut n = Node::default();
        self.absorb(node, depth, &mut n);
        finalize(n)
    }

    /// Merges the cleaned content of `node` into `n`: referenced and `allOf`
    /// schemas first, the node's own keys last (they win).
    fn absorb(&mut self, node: &'a Value, depth: usize, n: &mut Node) {
        let Some(obj) = node.as_object() else {
            return;
        };
        if depth > MAX_DEPTH {
            n.out.insert("type".into(), Value::from("OBJECT"));
            return;
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            self.absorb_ref(r, depth, n);
        }
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for sub in all {
                self.absorb(sub, depth, n);
            }
        }
        let mut own = Node::default();
        self.own_keys(obj, depth, &mut own);
        n.nullable |= own.nullable;
        merge(&mut n.out, own.out, true);
    }

    fn absorb_ref(&mut self, r: &'a str, depth: usize, n: &mut Node) {
        let target = resolve(self.root, r);
        let cut =
            self.stack.contains(&r) || depth >= MAX_DEPTH || self.expansions >= MAX_REF_EXPANSIONS;
        match target {
            Some(target) if !cut => {
                self.expansions += 1;
                self.stack.push(r);
                self.absorb(target, depth + 1, n);
                self.stack.pop();
            }
            // A cycle or a runaway expansion: recursive refs are objects in
            // practice; an unresolvable ref leaves an open schema.
            Some(_) => {
                n.out
                    .entry("type".to_owned())
                    .or_insert_with(|| Value::from("OBJECT"));
            }
            None => {}
        }
    }

    /// Copies the allowlisted keys of one schema object, cleaning
    /// sub-schemas, into `n` (without `$ref`/`allOf`, handled by `absorb`).
    fn own_keys(&mut self, obj: &'a Map<String, Value>, depth: usize, n: &mut Node) {
        // Variants of anyOf/oneOf: null variants become `nullable`.
        let mut variants = Vec::new();
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(list)) = obj.get(key) {
                for v in list {
                    if is_null_schema(v) {
                        n.nullable = true;
                    } else {
                        variants.push(v);
                    }
                }
            }
        }
        match variants.as_slice() {
            [] => {}
            [single] => {
                let mut inner = Node::default();
                self.absorb(single, depth, &mut inner);
                n.nullable |= inner.nullable;
                merge(&mut n.out, inner.out, false);
            }
            many => {
                let cleaned: Vec<Value> = many
                    .iter()
                    .map(|v| Value::Object(self.clean(v, depth + 1)))
                    .collect();
                n.out.insert("anyOf".into(), Value::Array(cleaned));
            }
        }

        for (key, value) in obj {
            match key.as_str() {
                "type" => match value {
                    Value::String(t) => set_type(n, t),
                    Value::Array(types) => {
                        let mut first = None;
                        for t in types.iter().filter_map(Value::as_str) {
                            if t == "null" {
                                n.nullable = true;
                            } else if first.is_none() {
                                first = Some(t);
                            }
                        }
                        if let Some(t) = first {
                            set_type(n, t);
                        }
                    }
                    _ => {}
                },
                "nullable" => n.nullable |= value.as_bool() == Some(true),
                "enum" => {
                    if let Value::Array(values) = value {
                        n.out.insert("enum".into(), Value::Array(values.clone()));
                    }
                }
                "const" => {
                    n.out
                        .insert("enum".into(), Value::Array(vec![value.clone()]));
                }
                "properties" => {
                    if let Value::Object(props) = value {
                        let cleaned: Map<String, Value> = props
                            .iter()
                            .map(|(k, v)| (k.clone(), Value::Object(self.clean(v, depth + 1))))
                            .collect();
                        n.out.insert("properties".into(), Value::Object(cleaned));
                    }
                }
                "items" => {
                    let item = match value {
                        Value::Array(tuple) => tuple.first(),
                        Value::Object(_) => Some(value),
                        _ => None,
                    };
                    if let Some(item) = item {
                        n.out
                            .insert("items".into(), Value::Object(self.clean(item, depth + 1)));
                    }
                }
                "required" | "propertyOrdering" => {
                    if let Value::Array(names) = value {
                        let names: Vec<Value> =
                            names.iter().filter(|v| v.is_string()).cloned().collect();
                        n.out.insert(key.clone(), Value::Array(names));
                    }
                }
                "description" | "title" | "pattern" | "format" if value.is_string() => {
                    n.out.insert(key.clone(), value.clone());
                }
                "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
                | "maxProperties" | "minimum" | "maximum"
                    if value.is_number() =>
                {
                    n.out.insert(key.clone(), value.clone());
                }
                "example" => {
                    n.out.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
    }
}

/// Looks up a local `$ref` (`#`, `#/$defs/X`, `#/definitions/X`, or any
/// JSON pointer into the root); remote refs resolve to nothing.
fn resolve<'v>(root: &'v Value, r: &str) -> Option<&'v Value> {
    let pointer = r.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
}

fn set_type(n: &mut Node, t: &str) {
    let upper = match t.to_ascii_lowercase().as_str() {
        "string" => "STRING",
        "number" => "NUMBER",
        "integer" => "INTEGER",
        "boolean" => "BOOLEAN",
        "array" => "ARRAY",
        "object" => "OBJECT",
        "null" => {
            n.nullable = true;
            return;
        }
        _ => return,
    };
    n.out.insert("type".into(), Value::from(upper));
}

/// Merges `src` into `dst`. `properties` and `required` are united; other
/// keys from `src` replace (`overwrite`) or fill in.
fn merge(dst: &mut Map<String, Value>, src: Map<String, Value>, overwrite: bool) {
    for (k, v) in src {
        match (k.as_str(), dst.get_mut(&k), v) {
            ("properties", Some(Value::Object(d)), Value::Object(s)) => {
                for (pk, pv) in s {
                    if overwrite || !d.contains_key(&pk) {
                        d.insert(pk, pv);
                    }
                }
            }
            ("required", Some(Value::Array(d)), Value::Array(s)) => {
                for name in s {
                    if !d.contains(&name) {
                        d.push(name);
                    }
                }
            }
            (_, Some(slot), v) => {
                if overwrite {
                    *slot = v;
                }
            }
            (_, None, v) => {
                dst.insert(k, v);
            }
        }
    }
}

fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Fixes up one node after its keys were gathered (types, enums, formats,
/// `required`, `nullable`).
fn finalize(n: Node) -> Map<String, Value> {
    let Node {
        mut out,
        mut nullable,
    } = n;
    if !out.contains_key("type") {
        if out.contains_key("properties") {
            out.insert("type".into(), Value::from("OBJECT"));
        } else if out.contains_key("items") {
            out.insert("type".into(), Value::from("ARRAY"));
        }
    }
    let ty = out.get("type").and_then(Value::as_str).map(str::to_owned);

    if let Some(Value::Array(values)) = out.remove("enum") {
        nullable |= values.iter().any(Value::is_null);
        let strings: Vec<String> = values.iter().filter_map(stringify).collect();
        match ty.as_deref() {
            _ if strings.is_empty() => {}
            None | Some("STRING") => {
                out.insert("type".into(), Value::from("STRING"));
                out.insert("enum".into(), Value::from(strings));
            }
            Some(_) => {
                let allowed = format!("Allowed values: {}", strings.join(", "));
                let description = match out.get("description").and_then(Value::as_str) {
                    Some(d) if !d.is_empty() => format!("{d} ({allowed})"),
                    _ => allowed,
                };
                out.insert("description".into(), Value::from(description));
            }
        }
    }
    let ty = out.get("type").and_then(Value::as_str).map(str::to_owned);
    let ty = ty.as_deref();

    let format_ok = match (ty, out.get("format").and_then(Value::as_str)) {
        (_, None) => true,
        (Some("STRING"), Some(f)) => matches!(f, "date-time" | "enum"),
        (Some("INTEGER"), Some(f)) => matches!(f, "int32" | "int64"),
        (Some("NUMBER"), Some(f)) => matches!(f, "float" | "double"),
        _ => false,
    };
    if !format_ok {
        out.remove("format");
    }
    if ty == Some("ARRAY") && !out.contains_key("items") {
        let mut item = Map::new();
        item.insert("type".into(), Value::from("STRING"));
        out.insert("items".into(), Value::Object(item));
    }

    if out
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        out.remove("properties");
    }
    if let Some(Value::Array(required)) = out.remove("required") {
        let props = out.get("properties").and_then(Value::as_object);
        let mut kept: Vec<Value> = Vec::new();
        for name in required {
            let present = name
                .as_str()
                .is_some_and(|s| props.is_some_and(|p| p.contains_key(s)));
            if present && !kept.contains(&name) {
                kept.push(name);
            }
        }
        if !kept.is_empty() {
            out.insert("required".into(), Value::Array(kept));
        }
    }
    if nullable {
        out.insert("nullable".into(), Value::Bool(true));
    } else {
        out.remove("nullable");
    }
    out
}

/// Gemini's `Schema` → JSON Schema, for a Gemini caller's `parameters` and
/// `responseSchema` sent to other providers (the reverse of
/// [`clean_schema`]): `type` lower-cased, `nullable: true` becomes a
/// `["t", "null"]` type, `propertyOrdering` is dropped, and `properties`,
/// `items` and `anyOf` are converted recursively; every other keyword
/// (`description`, `enum`, `required`, `format`, bounds, …) is already JSON
/// Schema and kept. Deeper than [`MAX_DEPTH`] a sub-schema becomes `{}`.
pub fn to_json_schema(schema: &Value) -> Value {
    reverse(schema, 0)
}

fn reverse(schema: &Value, depth: usize) -> Value {
    let Value::Object(map) = schema else {
        return Value::Object(Map::new());
    };
    if depth > MAX_DEPTH {
        return Value::Object(Map::new());
    }
    let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let converted = match key.as_str() {
            "nullable" | "propertyOrdering" => continue,
            "type" => match value.as_str() {
                Some(t) if t.eq_ignore_ascii_case("TYPE_UNSPECIFIED") => continue,
                Some(t) if nullable => Value::from(vec![t.to_ascii_lowercase(), "null".to_owned()]),
                Some(t) => Value::from(t.to_ascii_lowercase()),
                None => value.clone(),
            },
            "properties" => match value {
                Value::Object(props) => Value::Object(
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), reverse(v, depth + 1)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" => reverse(value, depth + 1),
            "anyOf" => match value {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|v| reverse(v, depth + 1)).collect())
                }
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keywords_gemini_rejects_are_removed_e15() {
        let cases = [
            (
                "additionalProperties, $schema and default dropped",
                json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                       "additionalProperties": false,
                       "properties": {"a": {"type": "string", "default": "x"}}}),
                json!({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}),
            ),
            (
                "exclusive bounds and propertyNames dropped, plain bounds kept",
                json!({"type": "object", "propertyNames": {"pattern": "^a"},
                       "properties": {"n": {"type": "number", "exclusiveMinimum": 0,
                                            "exclusiveMaximum": 5, "minimum": 1, "maximum": 4}}}),
                json!({"type": "OBJECT", "properties": {"n": {"type": "NUMBER", "minimum": 1, "maximum": 4}}}),
            ),
            (
                "const becomes a one-value enum",
                json!({"type": "string", "const": "fixed"}),
                json!({"type": "STRING", "enum": ["fixed"]}),
            ),
            (
                "array-valued type becomes single type + nullable",
                json!({"type": ["string", "null"], "description": "d"}),
                json!({"type": "STRING", "nullable": true, "description": "d"}),
            ),
            (
                "anyOf [X, null] becomes X + nullable",
                json!({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "description": "n"}),
                json!({"type": "INTEGER", "minimum": 0, "nullable": true, "description": "n"}),
            ),
            (
                "oneOf becomes anyOf",
                json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
                json!({"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}),
            ),
            (
                "single-element allOf is merged",
                json!({"allOf": [{"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]}],
                       "description": "wrapped"}),
                json!({"type": "OBJECT", "properties": {"a": {"type": "BOOLEAN"}}, "required": ["a"],
                       "description": "wrapped"}),
            ),
            (
                "unknown string formats dropped, known kept",
                json!({"type": "object", "properties": {
                    "u": {"type": "string", "format": "uri"},
                    "t": {"type": "string", "format": "date-time"},
                    "i": {"type": "integer", "format": "int64"},
                    "f": {"type": "number", "format": "uuid"}}}),
                json!({"type": "OBJECT", "properties": {
                    "u": {"type": "STRING"},
                    "t": {"type": "STRING", "format": "date-time"},
                    "i": {"type": "INTEGER", "format": "int64"},
                    "f": {"type": "NUMBER"}}}),
            ),
            (
                "enum values stringified, null makes it nullable",
                json!({"enum": ["a", 1, true, null]}),
                json!({"type": "STRING", "enum": ["a", "1", "true"], "nullable": true}),
            ),
            (
                "enum on a non-string type moves into the description",
                json!({"type": "integer", "enum": [1, 2], "description": "level"}),
                json!({"type": "INTEGER", "description": "level (Allowed values: 1, 2)"}),
            ),
            (
                "required keeps only declared properties",
                json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost", "a"]}),
                json!({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]}),
            ),
            (
                "array without items gets string items; tuple items take the first",
                json!({"type": "object", "properties": {
                    "free": {"type": "array"},
                    "tuple": {"type": "array", "items": [{"type": "number"}, {"type": "string"}]}}}),
                json!({"type": "OBJECT", "properties": {
                    "free": {"type": "ARRAY", "items": {"type": "STRING"}},
                    "tuple": {"type": "ARRAY", "items": {"type": "NUMBER"}}}}),
            ),
            (
                "type inferred from properties and items",
                json!({"properties": {"l": {"items": {"type": "string"}}}}),
                json!({"type": "OBJECT", "properties": {"l": {"type": "ARRAY", "items": {"type": "STRING"}}}}),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(clean_schema(&input), want, "{name}");
        }
    }

    #[test]
    fn refs_are_inlined_from_defs_and_definitions_e15() {
        let schema = json!({
            "type": "object",
            "properties": {
                "home": {"$ref": "#/$defs/Address", "description": "where they live"},
                "work": {"$ref": "#/definitions/Address"}
            },
            "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}},
                                  "required": ["city"], "additionalProperties": false}},
            "definitions": {"Address": {"type": "object", "properties": {"zip": {"type": "string"}}}}
        });
        assert_eq!(
            clean_schema(&schema),
            json!({"type": "OBJECT", "properties": {
                "home": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}},
                         "required": ["city"], "description": "where they live"},
                "work": {"type": "OBJECT", "properties": {"zip": {"type": "STRING"}}}
            }})
        );
    }

    #[test]
    fn self_referential_ref_terminates_e15() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}
            }}}
        });
        assert_eq!(
            clean_schema(&schema),
            json!({"type": "OBJECT", "properties": {
                "name": {"type": "STRING"},
                "children": {"type": "ARRAY", "items": {"type": "OBJECT"}},
                "parent": {"type": "OBJECT", "nullable": true}
            }})
        );
        // The root referring to itself is expanded once, then cut.
        let root = json!({"type": "object", "properties": {"me": {"$ref": "#"}}});
        assert_eq!(
            clean_schema(&root),
            json!({"type": "OBJECT", "properties": {"me": {"type": "OBJECT", "properties": {
                "me": {"type": "OBJECT"}}}}})
        );
    }

    #[test]
    fn exponential_ref_fan_out_is_bounded_e15() {
        // Each level refers to the next ten times: 10^12 nodes if expanded.
        let mut defs = serde_json::Map::new();
        for level in 0..12 {
            let next = json!({"$ref": format!("#/$defs/L{}", level + 1)});
            let props: serde_json::Map<String, Value> =
                (0..10).map(|i| (format!("p{i}"), next.clone())).collect();
            defs.insert(
                format!("L{level}"),
                json!({"type": "object", "properties": props}),
            );
        }
        defs.insert("L12".into(), json!({"type": "string"}));
        let schema = json!({"$ref": "#/$defs/L0", "$defs": defs});
        let cleaned = clean_schema(&schema);
        assert!(cleaned.to_string().len() < 200_000);
    }

    #[test]
    fn parameters_without_properties_are_left_out() {
        assert_eq!(
            clean_parameters(&json!({"type": "object", "properties": {}})),
            None
        );
        assert_eq!(clean_parameters(&json!({})), None);
        assert_eq!(
            clean_parameters(&json!({"properties": {"a": {"type": "string"}}})),
            Some(json!({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}))
        );
    }

    #[test]
    fn non_object_schemas_do_not_panic() {
        for v in [
            json!(true),
            json!(null),
            json!([1, 2]),
            json!("x"),
            json!({"$ref": 5}),
        ] {
            let _ = clean_schema(&v);
            let _ = clean_parameters(&v);
        }
        assert_eq!(
            clean_schema(&json!({"$ref": "https://example.com/s.json"})),
            json!({})
        );
    }

    #[test]
    fn gemini_schemas_become_json_schema() {
        let gemini = json!({"type": "OBJECT", "propertyOrdering": ["city", "days"],
            "properties": {"city": {"type": "STRING", "description": "City", "nullable": true},
                           "days": {"type": "ARRAY", "items": {"type": "INTEGER", "format": "int32"}},
                           "unit": {"anyOf": [{"type": "STRING", "enum": ["c", "f"]}]}},
            "required": ["city"]});
        assert_eq!(
            to_json_schema(&gemini),
            json!({"type": "object",
                "properties": {"city": {"type": ["string", "null"], "description": "City"},
                               "days": {"type": "array", "items": {"type": "integer", "format": "int32"}},
                               "unit": {"anyOf": [{"type": "string", "enum": ["c", "f"]}]}},
                "required": ["city"]})
        );
        // Round trip through the forward cleaning keeps the meaning.
        assert_eq!(
            clean_schema(&to_json_schema(&gemini))["properties"]["city"]["type"],
            "STRING"
        );
        assert_eq!(to_json_schema(&json!("junk")), json!({}));
    }
}
