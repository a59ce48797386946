//! Domain newtypes: OCIDs, node names, availability domains and IPv4 CIDR blocks.
//!
//! Each parses from text with `FromStr` (and through serde), rejects malformed values with an
//! error naming them, and displays back to the same text. Text values are shared (`Arc<str>`),
//! so the many copies a plan makes of node names and OCIDs cost no allocation.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Implements `Display`, `Debug`, `AsRef<str>`, serde and `JsonSchema` for a string newtype
/// whose `FromStr` does the checking.
macro_rules! text_newtype {
    ($name:ident, $schema_name:expr, $description:expr, $pattern:expr) => {
        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                $schema_name.into()
            }

            fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "description": $description,
                    "pattern": $pattern,
                })
            }
        }
    };
}

/// Declares an OCID newtype whose resource type is fixed.
macro_rules! ocid {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $pattern:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl FromStr for $name {
            type Err = Error;

            fn from_str(value: &str) -> Result<Self, Error> {
                if is_ocid(value, $kind) {
                    Ok(Self(Arc::from(value)))
                } else {
                    Err(Error::ParseOcid { kind: $kind, value: excerpt(value) })
                }
            }
        }

        text_newtype!($name, stringify!($name), concat!("OCID of an OCI resource of type `", $kind, "`."), $pattern);
    };
}

ocid!(
    /// The OCID of a VNIC (`ocid1.vnic.<realm>.<region>.<unique>`).
    VnicId,
    "vnic",
    "^ocid1\\.vnic\\.[A-Za-z0-9._:-]+$"
);

ocid!(
    /// The OCID of a subnet (`ocid1.subnet.<realm>.<region>.<unique>`).
    SubnetId,
    "subnet",
    "^ocid1\\.subnet\\.[A-Za-z0-9._:-]+$"
);

ocid!(
    /// The OCID of a compute instance (`ocid1.instance.<realm>.<region>.<unique>`).
    InstanceId,
    "instance",
    "^ocid1\\.instance\\.[A-Za-z0-9._:-]+$"
);

/// A Kubernetes node name (a DNS subdomain: lowercase letters, digits, `-` and `.`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(Arc<str>);

impl FromStr for NodeName {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let well_formed = !value.is_empty()
            && value.len() <= 253
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
            && value
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && value
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());

        if well_formed {
            Ok(Self(Arc::from(value)))
        } else {
            Err(Error::ParseNodeName {
                value: excerpt(value),
            })
        }
    }
}

text_newtype!(
    NodeName,
    "NodeName",
    "Kubernetes node name (DNS subdomain).",
    "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
);

/// An availability domain name, such as `Uocm:PHX-AD-1`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AvailabilityDomain(Arc<str>);

impl FromStr for AvailabilityDomain {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let well_formed = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-_.".contains(&b));

        if well_formed {
            Ok(Self(Arc::from(value)))
        } else {
            Err(Error::ParseAvailabilityDomain {
                value: excerpt(value),
            })
        }
    }
}

text_newtype!(
    AvailabilityDomain,
    "AvailabilityDomain",
    "Availability domain name, e.g. Uocm:PHX-AD-1.",
    "^[A-Za-z0-9:._-]{1,64}$"
);

/// An IPv4 CIDR block whose host bits are zero, such as `10.0.16.0/20`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

// === impl Ipv4Cidr ===

impl Ipv4Cidr {
    /// The block `network/prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::ParseCidr`] when `prefix` is above 32 or `network` has host bits set.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Self, Error> {
        let cidr = Self {
            network,
            prefix: prefix.min(32),
        };
        if prefix > 32 || cidr.mask() & u32::from(network) != u32::from(network) {
            return Err(Error::ParseCidr {
                value: format!("{network}/{prefix}"),
            });
        }
        Ok(cidr)
    }

    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// How many addresses the block spans.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Addresses OCI can hand out in a subnet of this block: the size minus the 3 OCI
    /// reserves (network address, the gateway at the first host, broadcast).
    pub fn usable(self) -> u64 {
        self.size().saturating_sub(3)
    }

    /// Whether `ip` lies inside the block.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// Whether `ip` is one of the 3 addresses OCI reserves in a subnet of this block.
    pub fn is_reserved(self, ip: Ipv4Addr) -> bool {
        let offset = u64::from(u32::from(ip).wrapping_sub(u32::from(self.network)));
        self.contains(ip) && (offset <= 1 || offset == self.size() - 1)
    }

    /// The address `offset` places after the network address, if it is inside the block.
    pub fn nth(self, offset: u64) -> Option<Ipv4Addr> {
        if offset >= self.size() {
            return None;
        }
        let value = u64::from(u32::from(self.network)) + offset;
        u32::try_from(value).ok().map(Ipv4Addr::from)
    }

    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let fail = || Error::ParseCidr {
            value: excerpt(value),
        };

        let (address, prefix) = value.split_once('/').ok_or_else(fail)?;
        let network: Ipv4Addr = address.parse().map_err(|_| fail())?;
        let prefix: u8 = prefix.parse().map_err(|_| fail())?;
        Self::new(network, prefix).map_err(|_| fail())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl fmt::Debug for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Ipv4Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Ipv4Cidr {
    fn schema_name() -> Cow<'static, str> {
        "Ipv4Cidr".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "IPv4 CIDR block with zero host bits, e.g. 10.0.16.0/20.",
            "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
        })
    }
}

/// Whether `text` is an OCID of resource type `kind`: `ocid1.<kind>.<realm>.[region].<id>`,
/// made of ASCII letters, digits, `.`, `-`, `_` and `:`.
fn is_ocid(text: &str, kind: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("ocid1.")
        .and_then(|r| r.strip_prefix(kind))
    else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('.') else {
        return false;
    };

    text.len() <= 255
        && rest.split('.').count() >= 3
        && rest
            .split('.')
            .next_back()
            .is_some_and(|unique| !unique.is_empty())
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

/// At most 80 characters of a rejected value, for error messages.
fn excerpt(value: &str) -> String {
    value.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocids_check_their_resource_type() {
        let vnic: VnicId = "ocid1.vnic.oc1.phx.abyhqljr2xuoa".parse().unwrap();
        assert_eq!(vnic.to_string(), "ocid1.vnic.oc1.phx.abyhqljr2xuoa");
        assert!(
            "ocid1.vnic.oc1..aaaa".parse::<VnicId>().is_ok(),
            "empty region is allowed"
        );

        for bad in [
            "ocid1.subnet.oc1.phx.abc",
            "ocid1.vnic.oc1.phx.",
            "ocid1.vnic.oc1",
            "ocid1.vnicx.oc1.phx.abc",
            "vnic-1",
            "ocid1.vnic.oc1.phx.a b",
        ] {
            let err = bad.parse::<VnicId>().unwrap_err();
            assert_eq!(
                err,
                Error::ParseOcid {
                    kind: "vnic",
                    value: bad.to_owned()
                }
            );
        }
    }

    #[test]
    fn node_names_are_dns_subdomains() {
        assert!("worker-1.example".parse::<NodeName>().is_ok());
        for bad in ["", "Worker", "-a", "a-", "a_b"] {
            assert!(bad.parse::<NodeName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cidrs_reject_host_bits_and_count_reserved_addresses() {
        let cidr: Ipv4Cidr = "10.0.0.0/24".parse().unwrap();
        assert_eq!((cidr.size(), cidr.usable()), (256, 253));
        assert!(cidr.is_reserved("10.0.0.0".parse().unwrap()));
        assert!(cidr.is_reserved("10.0.0.1".parse().unwrap()));
        assert!(cidr.is_reserved("10.0.0.255".parse().unwrap()));
        assert!(!cidr.is_reserved("10.0.0.2".parse().unwrap()));
        assert!(!cidr.contains("10.0.1.2".parse().unwrap()));
        assert_eq!(cidr.nth(2), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(cidr.nth(256), None);

        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.168.1.1".parse().unwrap()));

        for bad in [
            "10.0.0.5/24",
            "10.0.0.0/33",
            "10.0.0.0",
            "10.0.0/24",
            "x/24",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad} accepted");
        }
        assert_eq!(cidr.to_string(), "10.0.0.0/24");
    }
}
