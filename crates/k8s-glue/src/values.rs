//! Domain values stored in Kubernetes objects: OCIDs, MAC addresses and IPv4 CIDRs.
//!
//! Each type parses its text form once (`FromStr`, and serde on the way in) and prints the
//! same form back (`Display`, and serde on the way out), so a value read from the API server
//! is known to be well formed wherever it travels.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// An Oracle Cloud ID, such as `ocid1.vnic.oc1.phx.abyhqljr...`.
///
/// The text form is `ocid1.<resource type>.<realm>.[region][.future use].<unique id>`: at least
/// five dot-separated parts, the first `ocid1`, the resource type, realm and unique id
/// non-empty (the region is empty for tenancy-wide resources), and only ASCII letters, digits,
/// `-` and `_` inside the parts.
///
/// ```
/// use k8s_glue::Ocid;
///
/// let vnic: Ocid = "ocid1.vnic.oc1.phx.abyhqljrexample".parse()?;
/// assert_eq!(vnic.resource_type(), "vnic");
/// assert!("i-0123456789".parse::<Ocid>().is_err());
/// # Ok::<(), k8s_glue::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ocid(String);

impl Ocid {
    /// The resource type named in the OCID (`instance`, `vnic`, `subnet`, `vnicattachment`...).
    pub fn resource_type(&self) -> &str {
        self.0.split('.').nth(1).unwrap_or_default()
    }

    /// The OCID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Ocid {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::ParseOcid {
            value: text.to_owned(),
            reason,
        };

        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() < 5 || parts.first() != Some(&"ocid1") {
            return Err(invalid(
                "expected `ocid1.<type>.<realm>.[region].<unique id>` (at least five dot-separated parts)",
            ));
        }

        let word = |part: &str| {
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !parts.iter().all(|part| word(part)) {
            return Err(invalid(
                "only ASCII letters, digits, `-`, `_` and `.` may appear",
            ));
        }

        let last = parts.last().copied().unwrap_or_default();
        if parts[1].is_empty() || parts[2].is_empty() || last.is_empty() {
            return Err(invalid(
                "the resource type, realm and unique id must not be empty",
            ));
        }

        Ok(Self(text.to_owned()))
    }
}

impl fmt::Display for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ocid({})", self.0)
    }
}

impl AsRef<str> for Ocid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A MAC address, printed as six lower-case hex pairs separated by colons.
///
/// Parsing accepts either case and `:` or `-` separators (OCI prints upper case), so the same
/// NIC compares equal however it was spelled.
///
/// ```
/// use k8s_glue::MacAddress;
///
/// let mac: MacAddress = "02:00:17:0A:4C:1D".parse()?;
/// assert_eq!(mac.to_string(), "02:00:17:0a:4c:1d");
/// assert_eq!(mac.octets(), [0x02, 0x00, 0x17, 0x0a, 0x4c, 0x1d]);
/// # Ok::<(), k8s_glue::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// A MAC address from its six octets.
    #[must_use]
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets.
    #[must_use]
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl FromStr for MacAddress {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = || Error::ParseMacAddress {
            value: text.to_owned(),
        };

        let mut octets = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for octet in &mut octets {
            let part = parts.next().ok_or_else(invalid)?;
            if part.len() != 2 {
                return Err(invalid());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| invalid())?;
        }

        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self(octets))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddress({self})")
    }
}

/// An IPv4 network in CIDR notation, such as `10.0.16.0/20`; host bits must be zero.
///
/// ```
/// use std::net::Ipv4Addr;
/// use k8s_glue::Ipv4Cidr;
///
/// let subnet: Ipv4Cidr = "10.0.16.0/20".parse()?;
/// assert!(subnet.contains(Ipv4Addr::new(10, 0, 31, 255)));
/// assert!("10.0.16.1/20".parse::<Ipv4Cidr>().is_err());
/// # Ok::<(), k8s_glue::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// The network address (host bits zero).
    #[must_use]
    pub const fn network(self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, 0 to 32.
    #[must_use]
    pub const fn prefix_len(self) -> u8 {
        self.prefix_len
    }

    /// Whether `address` lies inside this network.
    #[must_use]
    pub fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix_len) == u32::from(self.network)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::ParseCidr {
            value: text.to_owned(),
            reason,
        };

        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| invalid("expected `<IPv4 address>/<prefix length>`"))?;
        let network: Ipv4Addr = address
            .parse()
            .map_err(|_| invalid("the address part is not an IPv4 address"))?;
        let prefix_len: u8 = prefix
            .parse()
            .ok()
            .filter(|len| *len <= 32)
            .ok_or_else(|| invalid("the prefix length must be a number from 0 to 32"))?;

        if u32::from(network) & !mask(prefix_len) != 0 {
            return Err(invalid("host bits are set; write the network address"));
        }
        Ok(Self {
            network,
            prefix_len,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl fmt::Debug for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4Cidr({self})")
    }
}

// === serde and schemars for the three text-form values ===

macro_rules! text_value {
    ($type:ty, $name:literal, $schema:tt) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = Cow::<'de, str>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $type {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

text_value!(Ocid, "Ocid", {
    "type": "string",
    "pattern": "^ocid1\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]*)*\\.[A-Za-z0-9_-]+$"
});
text_value!(MacAddress, "MacAddress", {
    "type": "string",
    "pattern": "^([0-9a-f]{2}:){5}[0-9a-f]{2}$"
});
text_value!(Ipv4Cidr, "Ipv4Cidr", {
    "type": "string",
    "pattern": "^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$"
});

fn mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocids_parse_and_print_back() {
        for text in [
            "ocid1.instance.oc1.phx.anyhqljtexample",
            "ocid1.tenancy.oc1..aaaaaaaexample",
            "ocid1.vnic.oc1.iad.future.abc_DEF-123",
        ] {
            let ocid: Ocid = text.parse().unwrap();
            assert_eq!(ocid.to_string(), text);
        }
    }

    #[test]
    fn bad_ocids_are_refused_with_the_value_named() {
        for text in [
            "",
            "ocid1.instance",
            "ocid2.instance.oc1.phx.x",
            "ocid1..oc1.phx.x",
            "ocid1.instance.oc1.phx.",
            "ocid1.instance.oc1.phx.a b",
            "i-0123456789abcdef",
        ] {
            let err = text.parse::<Ocid>().unwrap_err();
            assert!(
                matches!(&err, Error::ParseOcid { value, .. } if value == text),
                "{text}"
            );
        }
    }

    #[test]
    fn macs_accept_case_and_dashes_and_print_lower_case() {
        let a: MacAddress = "02-00-17-0A-4C-1D".parse().unwrap();
        let b: MacAddress = "02:00:17:0a:4c:1d".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "02:00:17:0a:4c:1d");

        for bad in [
            "",
            "02:00:17:0a:4c",
            "02:00:17:0a:4c:1d:00",
            "0:00:17:0a:4c:1d",
            "zz:00:17:0a:4c:1d",
        ] {
            assert!(bad.parse::<MacAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs_refuse_host_bits_and_long_prefixes() {
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(192, 0, 2, 1)));

        let host: Ipv4Cidr = "10.0.0.7/32".parse().unwrap();
        assert!(host.contains(Ipv4Addr::new(10, 0, 0, 7)));
        assert!(!host.contains(Ipv4Addr::new(10, 0, 0, 8)));

        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.1/24", "10.0.0/24", "x/8"] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn values_round_trip_through_json() {
        let json = serde_json::json!([
            "ocid1.subnet.oc1.phx.aaaa",
            "02:00:17:0a:4c:1d",
            "10.0.0.0/24"
        ]);
        let (ocid, mac, cidr): (Ocid, MacAddress, Ipv4Cidr) =
            serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value((ocid, mac, cidr)).unwrap(), json);

        let bad = serde_json::from_value::<Ocid>(serde_json::json!("nope"));
        assert!(bad.unwrap_err().to_string().contains("nope"));
    }
}
