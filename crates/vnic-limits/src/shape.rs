//! Domain values describing an instance: its shape name and its OCPU count.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The name of an OCI compute shape, such as `VM.Standard.E4.Flex` or `BM.Standard3.64`.
///
/// Parsing checks the form only (non-empty, ASCII letters, digits, `.`, `-`, `_`); whether
/// the shape exists is answered by [`lookup`](crate::lookup).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShapeName(String);

// === impl ShapeName ===

impl ShapeName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ShapeName {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let well_formed = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));

        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::ParseShapeName {
                value: value.chars().take(80).collect(),
            })
        }
    }
}

impl fmt::Display for ShapeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShapeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for ShapeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ShapeName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ShapeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ShapeName {
    fn schema_name() -> Cow<'static, str> {
        "ShapeName".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "OCI compute shape name, e.g. VM.Standard.E4.Flex.",
            "pattern": "^[A-Za-z0-9._-]{1,64}$",
        })
    }
}

/// An instance's OCPU count: a positive, finite number (flex shapes allow fractions).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
pub struct Ocpus(f64);

// === impl Ocpus ===

impl Ocpus {
    /// An OCPU count, rejecting zero, negative and non-finite values.
    ///
    /// # Errors
    ///
    /// [`Error::ParseOcpus`] when `value` is not a positive finite number, or is above 4096
    /// (no OCI shape comes near that).
    pub fn new(value: f64) -> Result<Self, Error> {
        if value.is_finite() && value > 0.0 && value <= 4096.0 {
            Ok(Self(value))
        } else {
            Err(Error::ParseOcpus {
                value: value.to_string(),
            })
        }
    }

    /// The count as a number.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The whole OCPUs in the count (rounded down), as the flex rules use them.
    pub fn whole(self) -> u32 {
        // The value is at most 4096, so the cast cannot truncate.
        self.0.floor() as u32
    }
}

impl fmt::Display for Ocpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Ocpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for Ocpus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Ocpus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Ocpus {
    fn schema_name() -> Cow<'static, str> {
        "Ocpus".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "number",
            "description": "OCPU count of the instance (fractions allowed on flex shapes).",
            "exclusiveMinimum": 0,
            "maximum": 4096,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_names_parse_and_round_trip() {
        let shape: ShapeName = "VM.Standard.E4.Flex".parse().unwrap();
        assert_eq!(shape.to_string(), "VM.Standard.E4.Flex");

        for bad in ["", "VM Standard", "VM.Standard/E4", &"x".repeat(65)] {
            assert!(matches!(
                bad.parse::<ShapeName>(),
                Err(Error::ParseShapeName { .. })
            ));
        }
    }

    #[test]
    fn ocpus_reject_nonsense() {
        assert_eq!(Ocpus::new(2.5).unwrap().whole(), 2);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 5000.0] {
            assert!(Ocpus::new(bad).is_err(), "{bad} accepted");
        }
        assert!(serde_json::from_str::<Ocpus>("0").is_err());
        assert_eq!(serde_json::from_str::<Ocpus>("0.5").unwrap().get(), 0.5);
    }
}
