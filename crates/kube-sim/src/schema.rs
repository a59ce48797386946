//! Structural OpenAPI v3 schemas of custom resources: pruning and validation.
//!
//! An API server prunes every field a structural schema does not define, drops `null` values of
//! fields that are not `nullable`, then validates what is left. [`Schema::prune_and_validate`]
//! does the same, in that order, and reports every violation as a [`FieldError`] with the
//! path and wording a real server uses (`spec.ipam.pre-allocate: Invalid value: -1: ...`).
//!
//! Supported keywords: `type`, `properties`, `additionalProperties` (schema or boolean),
//! `items`, `required`, `enum`, `minimum`/`maximum` (with `exclusiveMinimum`/`exclusiveMaximum`),
//! `minLength`/`maxLength`, `minItems`/`maxItems`, `minProperties`/`maxProperties`, `format`
//! (`int32`, `int64`, `cidr`, `ipv4`, `ipv6`, `date-time`, `byte`, `uuid`, `mac`; others are
//! ignored as Kubernetes ignores unknown formats), `nullable`,
//! `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-int-or-string` and
//! `x-kubernetes-embedded-resource`. `pattern`, `uniqueItems`, the `*Of` combinators and CEL
//! rules (`x-kubernetes-validations`) are not evaluated; neither Cilium CRD uses them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde_json::Value;

/// A parsed structural schema (the `openAPIV3Schema` of one CRD version).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    ty: Option<SchemaType>,
    properties: BTreeMap<String, Schema>,
    additional: Additional,
    items: Option<Box<Schema>>,
    required: Vec<String>,
    enumeration: Vec<Value>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    format: Option<String>,
    nullable: bool,
    preserve_unknown: bool,
    int_or_string: bool,
    embedded_resource: bool,
}

/// One violation found in an object, worded as the Kubernetes API server words it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `spec.ipam.pre-allocate`.
    pub field: String,
    /// Kubernetes cause type: `FieldValueInvalid`, `FieldValueRequired`,
    /// `FieldValueNotSupported`, `FieldValueTypeInvalid`, `FieldValueTooLong`, ...
    pub reason: &'static str,
    /// The message after the field path.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.detail)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemaType {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

#[derive(Debug, Clone, Default, PartialEq)]
enum Additional {
    /// `additionalProperties` absent: unknown fields are pruned.
    #[default]
    Absent,
    /// `additionalProperties: true`: any value is kept.
    Any,
    /// `additionalProperties: <schema>`: a map whose values follow the schema.
    Schema(Box<Schema>),
}

impl Schema {
    /// Parses an `openAPIV3Schema` value. Unknown keywords are ignored; a malformed keyword
    /// (e.g. `minimum: "x"`) is ignored too, as this is a stand-in and not a CRD validator.
    #[must_use]
    pub fn from_json(value: &Value) -> Self {
        let Some(map) = value.as_object() else {
            return Self::default();
        };

        let ty = match map.get("type").and_then(Value::as_str) {
            Some("object") => Some(SchemaType::Object),
            Some("array") => Some(SchemaType::Array),
            Some("string") => Some(SchemaType::String),
            Some("integer") => Some(SchemaType::Integer),
            Some("number") => Some(SchemaType::Number),
            Some("boolean") => Some(SchemaType::Boolean),
            _ => None,
        };

        let properties = map
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect()
            })
            .unwrap_or_default();

        let additional = match map.get("additionalProperties") {
            None | Some(Value::Bool(false)) => Additional::Absent,
            Some(Value::Bool(true)) => Additional::Any,
            Some(other) => Additional::Schema(Box::new(Self::from_json(other))),
        };

        let flag = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
        let count = |key: &str| map.get(key).and_then(Value::as_u64);

        Self {
            ty,
            properties,
            additional,
            items: map
                .get("items")
                .map(|items| Box::new(Self::from_json(items))),
            required: map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            enumeration: map
                .get("enum")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            minimum: map.get("minimum").and_then(Value::as_f64),
            maximum: map.get("maximum").and_then(Value::as_f64),
            exclusive_minimum: flag("exclusiveMinimum"),
            exclusive_maximum: flag("exclusiveMaximum"),
            min_length: count("minLength"),
            max_length: count("maxLength"),
            min_items: count("minItems"),
            max_items: count("maxItems"),
            min_properties: count("minProperties"),
            max_properties: count("maxProperties"),
            format: map.get("format").and_then(Value::as_str).map(str::to_owned),
            nullable: flag("nullable"),
            preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
            int_or_string: flag("x-kubernetes-int-or-string"),
            embedded_resource: flag("x-kubernetes-embedded-resource"),
        }
    }

    /// Prunes `object` in place and validates what is left; returns every violation found.
    ///
    /// `object` is a whole resource: at its root, `apiVersion`, `kind` and `metadata` are left
    /// to the API machinery (they are neither pruned nor validated here), as on a real server.
    pub fn prune_and_validate(&self, object: &mut Value) -> Vec<FieldError> {
        let mut errors = Vec::new();

        let Some(map) = object.as_object_mut() else {
            errors.push(FieldError {
                field: "<root>".to_owned(),
                reason: "FieldValueTypeInvalid",
                detail: "Invalid value: the object must be a JSON object".to_owned(),
            });
            return errors;
        };

        let root_fields = ["apiVersion", "kind", "metadata"];
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            if root_fields.contains(&key.as_str()) {
                continue;
            }
            match self.properties.get(&key) {
                Some(child) => {
                    if map.get(&key).is_some_and(Value::is_null) && !child.nullable {
                        map.remove(&key);
                        continue;
                    }
                    if let Some(value) = map.get_mut(&key) {
                        child.apply(value, &key, &mut errors);
                    }
                }
                None if self.preserve_unknown => {}
                None => {
                    map.remove(&key);
                }
            }
        }

        for key in &self.required {
            if !root_fields.contains(&key.as_str()) && !map.contains_key(key) {
                errors.push(required(key));
            }
        }
        errors
    }

    /// Prunes and validates one value at `path` (not the root).
    fn apply(&self, value: &mut Value, path: &str, errors: &mut Vec<FieldError>) {
        if value.is_null() {
            if !self.nullable {
                errors.push(type_error(path, value, self.type_name()));
            }
            return;
        }

        if self.int_or_string {
            if !(is_integer(value) || value.is_string()) {
                errors.push(type_error(path, value, "integer or string"));
                return;
            }
        } else if let Some(ty) = self.ty
            && !type_matches(ty, value)
        {
            errors.push(type_error(path, value, self.type_name()));
            return;
        }

        if !self.enumeration.is_empty() && !self.enumeration.contains(value) {
            let supported: Vec<String> = self.enumeration.iter().map(Value::to_string).collect();
            errors.push(FieldError {
                field: path.to_owned(),
                reason: "FieldValueNotSupported",
                detail: format!(
                    "Unsupported value: {value}: supported values: {}",
                    supported.join(", ")
                ),
            });
        }

        match value {
            Value::Object(map) => self.apply_object(map, path, errors),
            Value::Array(items) => self.apply_array(items, path, errors),
            Value::String(text) => self.apply_string(text, &format!("{text:?}"), path, errors),
            Value::Number(_) => self.apply_number(value, path, errors),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn apply_object(
        &self,
        map: &mut serde_json::Map<String, Value>,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let child_path = format!("{path}.{key}");
            let child = match (&self.properties.get(&key), &self.additional) {
                (Some(child), _) => Some(*child),
                (None, Additional::Schema(schema)) => Some(schema.as_ref()),
                (None, Additional::Any) => None,
                (None, Additional::Absent) => {
                    if !self.preserve_unknown && !self.embedded_resource_meta(&key) {
                        map.remove(&key);
                    }
                    None
                }
            };
            let Some(child) = child else { continue };

            if map.get(&key).is_some_and(Value::is_null) && !child.nullable {
                map.remove(&key);
                continue;
            }
            if let Some(value) = map.get_mut(&key) {
                child.apply(value, &child_path, errors);
            }
        }

        for key in &self.required {
            if !map.contains_key(key) {
                errors.push(required(&format!("{path}.{key}")));
            }
        }

        let len = map.len() as u64;
        if let Some(min) = self.min_properties.filter(|min| len < *min) {
            errors.push(invalid(
                path,
                &format!("{len}"),
                &format!("should have at least {min} properties"),
            ));
        }
        if let Some(max) = self.max_properties.filter(|max| len > *max) {
            errors.push(too_many(path, len, max));
        }
    }

    fn apply_array(&self, items: &mut [Value], path: &str, errors: &mut Vec<FieldError>) {
        let len = items.len() as u64;
        if let Some(min) = self.min_items.filter(|min| len < *min) {
            errors.push(invalid(
                path,
                &format!("{len}"),
                &format!("should have at least {min} items"),
            ));
        }
        if let Some(max) = self.max_items.filter(|max| len > *max) {
            errors.push(too_many(path, len, max));
        }

        if let Some(schema) = &self.items {
            for (index, item) in items.iter_mut().enumerate() {
                if let Value::Object(map) = item {
                    // Nulls inside list items are pruned like nulls anywhere else.
                    map.retain(|key, v| {
                        !v.is_null()
                            || schema
                                .properties
                                .get(key)
                                .is_some_and(|child| child.nullable)
                    });
                }
                schema.apply(item, &format!("{path}[{index}]"), errors);
            }
        }
    }

    fn apply_string(&self, text: &str, shown: &str, path: &str, errors: &mut Vec<FieldError>) {
        let len = text.chars().count() as u64;
        if let Some(min) = self.min_length.filter(|min| len < *min) {
            errors.push(invalid(
                path,
                shown,
                &format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(max) = self.max_length.filter(|max| len > *max) {
            errors.push(FieldError {
                field: path.to_owned(),
                reason: "FieldValueTooLong",
                detail: format!("Too long: may not be more than {max} bytes"),
            });
        }

        if let Some(format) = self.format.as_deref()
            && !string_format_ok(format, text)
        {
            errors.push(invalid(
                path,
                shown,
                &format!("{path} in body must be of type {format}: {shown}"),
            ));
        }
    }

    fn apply_number(&self, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let Some(number) = value.as_f64() else { return };
        let shown = value.to_string();

        if let Some(min) = self.minimum {
            let below = if self.exclusive_minimum {
                number <= min
            } else {
                number < min
            };
            if below {
                let relation = if self.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errors.push(invalid(
                    path,
                    &shown,
                    &format!("{path} in body should be {relation} {}", trim_float(min)),
                ));
            }
        }
        if let Some(max) = self.maximum {
            let above = if self.exclusive_maximum {
                number >= max
            } else {
                number > max
            };
            if above {
                let relation = if self.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errors.push(invalid(
                    path,
                    &shown,
                    &format!("{path} in body should be {relation} {}", trim_float(max)),
                ));
            }
        }

        let range = match self.format.as_deref() {
            Some("int32") => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
            Some("int64") => Some((i64::MIN as f64, i64::MAX as f64)),
            _ => None,
        };
        if let Some((low, high)) = range
            && (number < low || number > high)
        {
            errors.push(invalid(
                path,
                &shown,
                &format!(
                    "{path} in body must be of type {}",
                    self.format.as_deref().unwrap_or("")
                ),
            ));
        }
    }

    /// In an embedded resource, `apiVersion`, `kind` and `metadata` are always kept.
    fn embedded_resource_meta(&self, key: &str) -> bool {
        self.embedded_resource && matches!(key, "apiVersion" | "kind" | "metadata")
    }

    fn type_name(&self) -> &'static str {
        match self.ty {
            Some(SchemaType::Object) => "object",
            Some(SchemaType::Array) => "array",
            Some(SchemaType::String) => "string",
            Some(SchemaType::Integer) => "integer",
            Some(SchemaType::Number) => "number",
            Some(SchemaType::Boolean) => "boolean",
            None => "any",
        }
    }
}

fn type_matches(ty: SchemaType, value: &Value) -> bool {
    match ty {
        SchemaType::Object => value.is_object(),
        SchemaType::Array => value.is_array(),
        SchemaType::String => value.is_string(),
        SchemaType::Integer => is_integer(value),
        SchemaType::Number => value.is_number(),
        SchemaType::Boolean => value.is_boolean(),
    }
}

/// JSON integers, and floats without a fractional part (Go's decoder accepts `1.0`).
fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn string_format_ok(format: &str, text: &str) -> bool {
    match format {
        "cidr" => parse_cidr(text),
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        "date-time" => text.parse::<jiff::Timestamp>().is_ok(),
        "byte" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .is_ok()
        }
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        "mac" => {
            let parts: Vec<&str> = text.split([':', '-']).collect();
            parts.len() == 6
                && parts
                    .iter()
                    .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
        }
        _ => true,
    }
}

fn parse_cidr(text: &str) -> bool {
    let Some((addr, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match addr {
        IpAddr::V4(_) => prefix <= 32,
        IpAddr::V6(_) => prefix <= 128,
    }
}

fn trim_float(number: f64) -> String {
    if number.fract() == 0.0 {
        format!("{}", number as i64)
    } else {
        number.to_string()
    }
}

fn required(path: &str) -> FieldError {
    FieldError {
        field: path.to_owned(),
        reason: "FieldValueRequired",
        detail: "Required value".to_owned(),
    }
}

fn invalid(path: &str, shown: &str, detail: &str) -> FieldError {
    FieldError {
        field: path.to_owned(),
        reason: "FieldValueInvalid",
        detail: format!("Invalid value: {shown}: {detail}"),
    }
}

fn too_many(path: &str, len: u64, max: u64) -> FieldError {
    FieldError {
        field: path.to_owned(),
        reason: "FieldValueTooMany",
        detail: format!("Too many: {len}: must have at most {max} items"),
    }
}

fn type_error(path: &str, value: &Value, expected: &str) -> FieldError {
    let shown = match value {
        Value::Null => "\"null\"".to_owned(),
        Value::Bool(_) => "\"boolean\"".to_owned(),
        Value::Number(n) if is_integer(value) && n.is_i64() => "\"integer\"".to_owned(),
        Value::Number(_) => "\"number\"".to_owned(),
        Value::String(_) => "\"string\"".to_owned(),
        Value::Array(_) => "\"array\"".to_owned(),
        Value::Object(_) => "\"object\"".to_owned(),
    };
    FieldError {
        field: path.to_owned(),
        reason: "FieldValueTypeInvalid",
        detail: format!(
            "Invalid value: {shown}: {path} in body must be of type {expected}: {shown}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Schema {
        Schema::from_json(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "count": {"type": "integer", "minimum": 0, "maximum": 10},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "cidr": {"type": "string", "format": "cidr"},
                        "port": {"x-kubernetes-int-or-string": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "list": {"type": "array", "items": {"type": "object",
                            "properties": {"ip": {"type": "string"}}}},
                        "maybe": {"type": "string", "nullable": true}
                    }
                }
            }
        }))
    }

    #[test]
    fn prunes_unknown_fields_and_keeps_known_ones() {
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n", "labels": {"a": "b"}},
            "spec": {"name": "n", "oci": {"vnic": "x"}, "free": {"anything": 1},
                     "list": [{"ip": "1.2.3.4", "junk": true}], "labels": {"k": "v"}},
            "bogus": 1
        });

        let errors = schema().prune_and_validate(&mut object);

        assert_eq!(errors, vec![]);
        assert_eq!(
            object,
            json!({
                "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n", "labels": {"a": "b"}},
                "spec": {"name": "n", "free": {"anything": 1}, "list": [{"ip": "1.2.3.4"}],
                         "labels": {"k": "v"}}
            })
        );
    }

    #[test]
    fn drops_nulls_of_non_nullable_fields_and_keeps_nullable_ones() {
        let mut object = json!({"spec": {"name": "n", "count": null, "maybe": null}});

        let errors = schema().prune_and_validate(&mut object);

        assert_eq!(errors, vec![]);
        assert_eq!(object, json!({"spec": {"name": "n", "maybe": null}}));
    }

    #[test]
    fn reports_each_violation_with_the_servers_wording() {
        let mut object = json!({"spec": {"count": -1, "mode": "c", "cidr": "10.0.0.0/33",
                                         "port": true, "labels": {"k": 1}}});

        let errors: Vec<String> = schema()
            .prune_and_validate(&mut object)
            .iter()
            .map(ToString::to_string)
            .collect();

        assert_eq!(
            errors,
            vec![
                "spec.cidr: Invalid value: \"10.0.0.0/33\": spec.cidr in body must be of type \
                 cidr: \"10.0.0.0/33\"",
                "spec.count: Invalid value: -1: spec.count in body should be greater than or \
                 equal to 0",
                "spec.labels.k: Invalid value: \"integer\": spec.labels.k in body must be of \
                 type string: \"integer\"",
                "spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\"",
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type \
                 integer or string: \"boolean\"",
                "spec.name: Required value",
            ]
        );
    }

    #[test]
    fn accepts_int_or_string_and_integral_floats() {
        let mut object = json!({"spec": {"name": "n", "port": "http", "count": 3.0}});
        assert_eq!(schema().prune_and_validate(&mut object), vec![]);

        let mut object = json!({"spec": {"name": "n", "port": 80, "count": 11}});
        let errors = schema().prune_and_validate(&mut object);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.count");
    }
}
