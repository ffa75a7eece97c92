//! A checker for the part of OpenAPI 3.0's schema language that
//! `src/http/openapi.json` uses (`$ref`, `allOf`, `oneOf`, `type`, `nullable`,
//! `required`, `properties`, `additionalProperties`, `items`, `enum`, `minimum`), so
//! an in-process test can hold a real answer against its documented schema without
//! a JSON Schema crate.

use serde_json::Value;

/// The node `$ref` points at (`#/components/...`), or `node` itself.
pub fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(pointer) => {
            let target = doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {pointer}"));
            resolve(doc, target)
        }
        None => node,
    }
}

/// Every way `value` breaks `schema`, each as `<where>: <what>`; empty when it fits.
pub fn violations(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut found = Vec::new();
    if value.is_null() && schema["nullable"] == true {
        return found;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            found.extend(violations(doc, part, value, at));
        }
    }
    if let Some(any) = schema["oneOf"].as_array() {
        let fits = any
            .iter()
            .filter(|s| violations(doc, s, value, at).is_empty())
            .count();
        if fits != 1 {
            found.push(format!("{at}: fits {fits} of the oneOf schemas, not one"));
        }
    }
    if let Some(kind) = schema["type"].as_str() {
        if !has_type(value, kind) {
            found.push(format!("{at}: {value} is not of type {kind}"));
            return found;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            found.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if n < min {
            found.push(format!("{at}: {n} is below the minimum {min}"));
        }
    }
    if let Some(items) = schema.get("items") {
        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
            found.extend(violations(doc, items, item, &format!("{at}[{i}]")));
        }
    }
    if let Some(object) = value.as_object() {
        found.extend(object_violations(doc, schema, object, at));
    }
    found
}

fn object_violations(
    doc: &Value,
    schema: &Value,
    object: &serde_json::Map<String, Value>,
    at: &str,
) -> Vec<String> {
    let mut found = Vec::new();
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        if !object.contains_key(name) {
            found.push(format!("{at}: the required field `{name}` is missing"));
        }
    }
    for (name, field) in object {
        let at = format!("{at}.{name}");
        match (
            schema["properties"].get(name),
            &schema["additionalProperties"],
        ) {
            (Some(property), _) => found.extend(violations(doc, property, field, &at)),
            (None, Value::Bool(false)) => found.push(format!("{at}: not a documented field")),
            (None, extra @ Value::Object(_)) => found.extend(violations(doc, extra, field, &at)),
            (None, _) => {}
        }
    }
    found
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        other => panic!("the checker does not know type {other}"),
    }
}
