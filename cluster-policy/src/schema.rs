//! The subset of JSON Schema that template parameters use (`type`, `properties`, `required`,
//! `additionalProperties: false`, `items`, `enum`, `minimum`, `maximum`, `default`): a
//! constraint's parameters are checked against it before any Rego sees them, and top-level
//! defaults are filled in so templates read every parameter directly.

use serde_json::{Map, Value};

/// Every way `value` breaks `schema`, as `path: problem` lines (empty: valid). Keywords outside
/// the subset are ignored, so a schema written for a full validator still loads.
pub fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, value, "parameters", &mut out);
    out
}

/// `value` with the defaults of missing top-level properties filled in.
pub fn with_defaults(schema: &Value, value: &Value) -> Value {
    let mut filled = value.as_object().cloned().unwrap_or_default();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            if let (false, Some(default)) = (filled.contains_key(name), prop.get("default")) {
                filled.insert(name.clone(), default.clone());
            }
        }
    }
    Value::Object(filled)
}

fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            out.push(format!(
                "{path}: want {}, got {}",
                types.join(" or "),
                kind(value)
            ));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            out.push(format!(
                "{path}: {value} is not one of {}",
                Value::from(allowed.clone())
            ));
        }
    }
    if let Some(n) = value.as_f64() {
        bound(schema, "minimum", n, path, out, |n, m| n >= m);
        bound(schema, "maximum", n, path, out, |n, m| n <= m);
    }
    match value {
        Value::Object(fields) => check_object(schema, fields, path, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn check_object(schema: &Value, fields: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let props = schema.get("properties").and_then(Value::as_object);
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !fields.contains_key(name) {
            out.push(format!("{path}: {name} is required"));
        }
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, field) in fields {
        match props.and_then(|p| p.get(name)) {
            Some(prop) => check(prop, field, &format!("{path}.{name}"), out),
            None if closed => out.push(format!("{path}: unknown property {name}")),
            None => {}
        }
    }
}

fn bound(
    schema: &Value,
    keyword: &str,
    n: f64,
    path: &str,
    out: &mut Vec<String>,
    ok: impl Fn(f64, f64) -> bool,
) {
    if let Some(m) = schema.get(keyword).and_then(Value::as_f64) {
        if !ok(n, m) {
            out.push(format!("{path}: {n} breaks {keyword} {m}"));
        }
    }
}

fn is_type(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "additionalProperties": false, "required": ["ports"],
            "properties": {
                "ports": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
                "mode": {"type": "string", "enum": ["strict", "lax"], "default": "strict"},
                "min_prefix": {"type": "integer", "default": 16}}})
    }

    #[test]
    fn valid_parameters_pass_and_get_their_defaults() {
        let p = json!({"ports": [22, 3389]});
        assert!(violations(&schema(), &p).is_empty());
        assert_eq!(
            with_defaults(&schema(), &p),
            json!({"ports": [22, 3389], "mode": "strict", "min_prefix": 16})
        );
        let given = json!({"ports": [], "mode": "lax"});
        assert_eq!(with_defaults(&schema(), &given)["mode"], "lax");
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let p = json!({"ports": [0, "22"], "mode": "loose", "extra": 1});
        let got = violations(&schema(), &p);
        assert_eq!(
            got,
            [
                "parameters: unknown property extra",
                "parameters.mode: \"loose\" is not one of [\"strict\",\"lax\"]",
                "parameters.ports[0]: 0 breaks minimum 1",
                "parameters.ports[1]: want integer, got string",
            ]
        );
        assert_eq!(
            violations(&schema(), &json!({})),
            ["parameters: ports is required"]
        );
        assert_eq!(
            violations(&schema(), &json!([])),
            ["parameters: want object, got array"]
        );
    }
}
