//! A checker for JSON values against a CRD's structural schema (OpenAPI v3 subset), strict
//! where the API server would prune or refuse: unknown fields, wrong types, `minimum`,
//! `enum`, `minLength`, and `required` (whole objects only).

use serde_json::Value;

/// Whether the value is a whole object or a merge patch (where `null` deletes and
/// `required` does not apply).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Object,
    MergePatch,
}

/// Every way `value` breaks `schema`, as `path: problem` lines; empty when it conforms.
pub(crate) fn check(value: &Value, schema: &Value, mode: Mode) -> Vec<String> {
    let mut problems = Vec::new();
    walk(value, schema, mode, "", &mut problems);
    problems
}

fn walk(value: &Value, schema: &Value, mode: Mode, path: &str, problems: &mut Vec<String>) {
    if value.is_null() {
        if mode == Mode::Object && schema.get("nullable") != Some(&Value::Bool(true)) {
            problems.push(format!("{path}: null where the schema does not allow it"));
        }
        return;
    }
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
    {
        return;
    }

    let expected = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object");
    let fits = match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => false,
    };
    if !fits {
        problems.push(format!("{path}: expected {expected}, found {value}"));
        return;
    }

    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let (Some(minimum), Some(number)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && number < minimum
    {
        problems.push(format!("{path}: {number} is below the minimum {minimum}"));
    }
    if let (Some(min), Some(text)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (text.len() as u64) < min
    {
        problems.push(format!("{path}: {text:?} is shorter than {min}"));
    }

    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (key, item) in object {
                let child = format!("{path}.{key}");
                // The API server owns the object envelope; CRD schemas do not describe it.
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
                    continue;
                }
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(sub), _) => walk(item, sub, mode, &child, problems),
                    (None, Some(sub)) if sub.is_object() => walk(item, sub, mode, &child, problems),
                    _ => problems.push(format!(
                        "{child}: not in the schema (the API server prunes it)"
                    )),
                }
            }
            if mode == Mode::Object {
                for required in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let key = required.as_str().unwrap_or_default();
                    if !object.contains_key(key) {
                        problems.push(format!("{path}: required field {key} is missing"));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(item, sub, mode, &format!("{path}[{index}]"), problems);
                }
            }
        }
        _ => {}
    }
}
