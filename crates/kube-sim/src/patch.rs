//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902, including `test`).

use serde_json::Value;

/// Applies a JSON merge patch to `target` in place.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };

    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies a JSON patch (a list of operations) to a copy of `target`; the error says which
/// operation failed and why, and `target` is left unchanged on error.
pub(crate) fn json_patch(target: &Value, operations: &Value) -> Result<Value, String> {
    let operations = operations
        .as_array()
        .ok_or("a JSON patch must be a JSON array")?;
    let mut doc = target.clone();

    for (index, operation) in operations.iter().enumerate() {
        let field = |name: &str| operation.get(name);
        let op = field("op")
            .and_then(Value::as_str)
            .ok_or(format!("operation {index}: no op"))?;
        let path = field("path")
            .and_then(Value::as_str)
            .ok_or(format!("operation {index}: no path"))?;
        let value = || {
            field("value")
                .cloned()
                .ok_or(format!("operation {index}: no value"))
        };
        let from = || {
            field("from")
                .and_then(Value::as_str)
                .ok_or(format!("operation {index}: no from"))
        };

        let result = match op {
            "add" => value().and_then(|v| add(&mut doc, path, v)),
            "remove" => remove(&mut doc, path).map(drop),
            "replace" => value().and_then(|v| {
                remove(&mut doc, path)?;
                add(&mut doc, path, v)
            }),
            "move" => from().and_then(|from| {
                let moved = remove(&mut doc, from)?;
                add(&mut doc, path, moved)
            }),
            "copy" => from().and_then(|from| {
                let copied = doc
                    .pointer(from)
                    .cloned()
                    .ok_or(format!("path {from} not found"))?;
                add(&mut doc, path, copied)
            }),
            "test" => value().and_then(|expected| match doc.pointer(path) {
                Some(actual) if *actual == expected => Ok(()),
                Some(actual) => Err(format!("test failed: {path} is {actual}, not {expected}")),
                None => Err(format!("test failed: {path} does not exist")),
            }),
            other => Err(format!("unknown op {other:?}")),
        };
        result.map_err(|reason| format!("operation {index} ({op} {path}): {reason}"))?;
    }
    Ok(doc)
}

fn split_parent(path: &str) -> Result<(String, String), String> {
    let index = path
        .rfind('/')
        .ok_or(format!("path {path:?} does not start with /"))?;
    let last = path[index + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..index].to_owned(), last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_parent(path)?;
    let container = doc
        .pointer_mut(&parent)
        .ok_or(format!("parent of {path} not found"))?;

    match container {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("{last:?} is not an array index"))?
            };
            if index > items.len() {
                return Err(format!("index {index} is out of bounds"));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("parent of {path} is not an object or array")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_parent(path)?;
    let container = doc
        .pointer_mut(&parent)
        .ok_or(format!("parent of {path} not found"))?;

    match container {
        Value::Object(map) => map.remove(&last).ok_or(format!("{path} not found")),
        Value::Array(items) => {
            let index = last
                .parse::<usize>()
                .map_err(|_| format!("{last:?} is not an array index"))?;
            if index >= items.len() {
                return Err(format!("index {index} is out of bounds"));
            }
            Ok(items.remove(index))
        }
        _ => Err(format!("parent of {path} is not an object or array")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1]});
        merge_patch(
            &mut target,
            &json!({"a": "z", "c": {"f": null}, "l": [2], "n": {"x": 1}}),
        );
        assert_eq!(
            target,
            json!({"a": "z", "c": {"d": "e"}, "l": [2], "n": {"x": 1}})
        );
    }

    #[test]
    fn json_patch_applies_every_op_and_honours_test() {
        let target = json!({"spec": {"pool": {"10.0.0.1": {}}, "list": [1, 2]},
                            "metadata": {"finalizers": ["a/b"]}});

        let patched = json_patch(
            &target,
            &json!([
                {"op": "test", "path": "/metadata/finalizers/0", "value": "a/b"},
                {"op": "remove", "path": "/metadata/finalizers/0"},
                {"op": "add", "path": "/spec/pool/10.0.0.2", "value": {"resource": "v"}},
                {"op": "replace", "path": "/spec/list/1", "value": 3},
                {"op": "add", "path": "/spec/list/-", "value": 4},
                {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
                {"op": "move", "from": "/spec/copy", "path": "/spec/moved"}
            ]),
        )
        .unwrap();

        assert_eq!(
            patched,
            json!({"spec": {"pool": {"10.0.0.1": {}, "10.0.0.2": {"resource": "v"}},
                            "list": [1, 3, 4], "moved": [1, 3, 4]},
                   "metadata": {"finalizers": []}})
        );

        let failed = json_patch(
            &target,
            &json!([{"op": "test", "path": "/spec/list/0",
                                                   "value": 9}]),
        );
        assert_eq!(
            failed,
            Err("operation 0 (test /spec/list/0): test failed: /spec/list/0 is 1, not 9".into())
        );
    }
}
