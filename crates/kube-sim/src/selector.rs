//! Label and field selectors, parsed from the `labelSelector` and `fieldSelector` query
//! parameters and matched against JSON objects.
//!
//! Label selectors support every set-based form (`k`, `!k`, `k=v`, `k==v`, `k!=v`,
//! `k in (a,b)`, `k notin (a,b)`). Field selectors support `=`, `==` and `!=` on any dotted
//! path (`metadata.name`, `spec.nodeName`, `involvedObject.name`...): a real server accepts
//! only a fixed list of paths per resource and answers 400 for the others, this stand-in is
//! more lenient.

use std::collections::BTreeSet;

use serde_json::Value;

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

/// A parsed field selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<(String, bool, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Exists(String),
    Absent(String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
}

impl LabelSelector {
    /// Parses a label selector; the error text says which requirement is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();

        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_label_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    /// Whether `object`'s `metadata.labels` satisfy the selector.
    #[must_use]
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);

        self.requirements
            .iter()
            .all(|requirement| match requirement {
                LabelRequirement::Exists(key) => label(key).is_some(),
                LabelRequirement::Absent(key) => label(key).is_none(),
                LabelRequirement::In(key, values) => label(key).is_some_and(|v| values.contains(v)),
                LabelRequirement::NotIn(key, values) => {
                    !label(key).is_some_and(|v| values.contains(v))
                }
            })
    }
}

impl FieldSelector {
    /// Parses a field selector; the error text says which requirement is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();

        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (path, equal, value) = if let Some((path, value)) = part.split_once("!=") {
                (path, false, value)
            } else if let Some((path, value)) = part.split_once("==") {
                (path, true, value)
            } else if let Some((path, value)) = part.split_once('=') {
                (path, true, value)
            } else {
                return Err(format!(
                    "invalid field selector requirement {part:?}: expected k=v"
                ));
            };
            requirements.push((path.trim().to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self { requirements })
    }

    /// Whether `object` satisfies the selector; an absent field compares as `""`.
    #[must_use]
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|(path, equal, expected)| {
            let pointer = format!("/{}", path.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            (actual == *expected) == *equal
        })
    }
}

fn parse_label_requirement(part: &str) -> Result<LabelRequirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(LabelRequirement::Absent(key.trim().to_owned()));
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(LabelRequirement::NotIn(
            key.trim().to_owned(),
            set_of(value),
        ));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(LabelRequirement::In(key.trim().to_owned(), set_of(value)));
    }

    let words: Vec<&str> = part.splitn(3, char::is_whitespace).collect();
    match words.as_slice() {
        [key] => Ok(LabelRequirement::Exists((*key).to_owned())),
        [key, op, values] => {
            let values = values
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| format!("invalid label selector {part:?}: expected (a,b)"))?;
            let set = values.split(',').map(|v| v.trim().to_owned()).collect();
            match *op {
                "in" => Ok(LabelRequirement::In((*key).to_owned(), set)),
                "notin" => Ok(LabelRequirement::NotIn((*key).to_owned(), set)),
                other => Err(format!(
                    "invalid label selector {part:?}: unknown operator {other:?}"
                )),
            }
        }
        _ => Err(format!("invalid label selector requirement {part:?}")),
    }
}

fn set_of(value: &str) -> BTreeSet<String> {
    BTreeSet::from([value.trim().to_owned()])
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0_i32;
    let mut start = 0;

    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_cover_every_form() {
        let object = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app in (db, web),tier notin (back)", true),
            ("app notin (web)", false),
            ("missing!=x", true),
            ("", true),
        ];

        for (text, expected) in cases {
            let selector = LabelSelector::parse(text).unwrap();
            assert_eq!(selector.matches(&object), expected, "{text}");
        }
    }

    #[test]
    fn field_selectors_compare_dotted_paths() {
        let object = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        let cases = [
            ("metadata.name=n1", true),
            ("metadata.name!=n1", false),
            ("metadata.name==n2", false),
            ("spec.unschedulable=true", true),
            ("metadata.namespace=", true),
        ];

        for (text, expected) in cases {
            let selector = FieldSelector::parse(text).unwrap();
            assert_eq!(selector.matches(&object), expected, "{text}");
        }
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
