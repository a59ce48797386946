//! Domain values the datapath is described in: VNICs, MAC addresses, CIDRs, routing-table IDs.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Routing tables the kernel and Cilium use; a VNIC table never takes one of these IDs.
///
/// 200 (IPsec), 201 (WireGuard), 202 (VTEP), 2004 and 2005 (proxy), 253 to 255 (kernel
/// default, main and local), and 0 (unspecified).
pub const RESERVED_TABLES: &[u32] = &[0, 200, 201, 202, 253, 254, 255, 2004, 2005];

/// An Ethernet MAC address, printed in lower-case colon notation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr([u8; 6]);

// === impl MacAddr ===

impl MacAddr {
    /// Wraps six octets.
    #[must_use]
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets.
    #[must_use]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Reads a MAC address from the bytes of a netlink `IFLA_ADDRESS` attribute; `None`
    /// when the link's hardware address is not six bytes long (loopback, tunnels).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 6]>::try_from(bytes).ok().map(Self)
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::ParseMac {
            text: text.to_owned(),
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

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The OCID of a VNIC, e.g. `ocid1.vnic.oc1.phx.abc…`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VnicId(String);

// === impl VnicId ===

impl VnicId {
    /// The OCID text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VnicId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = text.starts_with("ocid1.")
            && text.len() <= 255
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(Error::ParseVnicId {
                text: text.to_owned(),
            });
        }
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for VnicId {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<VnicId> for String {
    fn from(id: VnicId) -> Self {
        id.0
    }
}

impl fmt::Display for VnicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VnicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VnicId({})", self.0)
    }
}

/// An IPv4 prefix such as `10.0.1.0/24`; the address is kept as given (host bits allowed).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix_len: u8,
}

// === impl Ipv4Cidr ===

impl Ipv4Cidr {
    /// A prefix from an address and a length; fails when the length exceeds 32.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Result<Self, Error> {
        if prefix_len > 32 {
            return Err(Error::ParseCidr {
                text: format!("{addr}/{prefix_len}"),
            });
        }
        Ok(Self { addr, prefix_len })
    }

    /// The `/32` prefix of one address.
    #[must_use]
    pub const fn host(addr: Ipv4Addr) -> Self {
        Self {
            addr,
            prefix_len: 32,
        }
    }

    /// `0.0.0.0/0`, the default route's destination.
    #[must_use]
    pub const fn any() -> Self {
        Self {
            addr: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
        }
    }

    /// The address as given.
    #[must_use]
    pub const fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    #[must_use]
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The network address (host bits cleared).
    #[must_use]
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// Whether `ip` lies inside this prefix.
    #[must_use]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    fn mask(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::ParseCidr {
            text: text.to_owned(),
        };

        let (addr, len) = text.split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix_len: u8 = len.parse().map_err(|_| invalid())?;
        Self::new(addr, prefix_len).map_err(|_| invalid())
    }
}

impl TryFrom<String> for Ipv4Cidr {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Ipv4Cidr> for String {
    fn from(cidr: Ipv4Cidr) -> Self {
        cidr.to_string()
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A policy-routing table ID that is not one the kernel or Cilium uses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct TableId(u32);

// === impl TableId ===

impl TableId {
    /// Accepts any ID outside [`RESERVED_TABLES`].
    pub fn try_new(id: u32) -> Result<Self, Error> {
        if RESERVED_TABLES.contains(&id) {
            return Err(Error::ReservedTable { table: id });
        }
        Ok(Self(id))
    }

    /// The numeric ID.
    #[must_use]
    pub const fn get(&self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for TableId {
    type Error = Error;

    fn try_from(id: u32) -> Result<Self, Self::Error> {
        Self::try_new(id)
    }
}

impl From<TableId> for u32 {
    fn from(id: TableId) -> Self {
        id.0
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a VNIC is the instance's primary VNIC (routed by the main table as it is) or a
/// secondary one (needs its own table and rules).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum VnicRole {
    /// The VNIC created with the instance; the node's default route uses it.
    Primary,
    /// A VNIC attached later; its addresses need source-based policy routing.
    Secondary,
}

/// One VNIC attached to this instance, as the metadata service (and our CRD) describe it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Vnic {
    /// The VNIC's OCID.
    pub id: VnicId,
    /// Primary or secondary.
    pub role: VnicRole,
    /// The VNIC's MAC address; the Linux link is found by it.
    pub mac: MacAddr,
    /// The subnet's virtual router (the gateway, first usable address of the subnet).
    pub virtual_router_ip: Ipv4Addr,
    /// The subnet's CIDR block.
    pub subnet_cidr: Ipv4Cidr,
    /// The 802.1Q tag; only bare-metal shapes use it on the wire.
    pub vlan_tag: Option<u16>,
    /// The physical NIC the VNIC rides on (0 or 1 on bare metal; absent on most VMs).
    pub nic_index: Option<u8>,
    /// The attachment index recorded in our CRD (0 = primary); used to prefer a table ID.
    pub attachment_index: Option<u32>,
}

impl Vnic {
    /// A VNIC with the fields every VNIC has; VLAN tag, NIC index and attachment index
    /// start empty.
    #[must_use]
    pub fn new(
        id: VnicId,
        role: VnicRole,
        mac: MacAddr,
        virtual_router_ip: Ipv4Addr,
        subnet_cidr: Ipv4Cidr,
    ) -> Self {
        Self {
            id,
            role,
            mac,
            virtual_router_ip,
            subnet_cidr,
            vlan_tag: None,
            nic_index: None,
            attachment_index: None,
        }
    }

    /// Sets the 802.1Q tag.
    #[must_use]
    pub fn with_vlan_tag(mut self, tag: u16) -> Self {
        self.vlan_tag = Some(tag);
        self
    }

    /// Sets the physical NIC index.
    #[must_use]
    pub fn with_nic_index(mut self, index: u8) -> Self {
        self.nic_index = Some(index);
        self
    }

    /// Sets the attachment index from our CRD.
    #[must_use]
    pub fn with_attachment_index(mut self, index: u32) -> Self {
        self.attachment_index = Some(index);
        self
    }
}

/// One address of the node's Cilium pool and the VNIC that holds it (`resource` in
/// `CiliumNode.spec.ipam.pool`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolAddress {
    /// The pod address.
    pub ip: Ipv4Addr,
    /// The VNIC that holds it as a secondary private IP.
    pub vnic: VnicId,
}

/// Everything the datapath is computed from: the node's VNICs and its pool addresses.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NodeInputs {
    /// The VNICs attached to the instance.
    pub vnics: Vec<Vnic>,
    /// The pool addresses.
    pub pool: BTreeSet<PoolAddress>,
}

impl NodeInputs {
    /// Inputs from VNICs and pool addresses.
    #[must_use]
    pub fn new(vnics: Vec<Vnic>, pool: BTreeSet<PoolAddress>) -> Self {
        Self { vnics, pool }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_and_rejects_garbage() {
        let mac: MacAddr = "02:00:17:0A:bc:01".parse().unwrap();
        assert_eq!(mac.to_string(), "02:00:17:0a:bc:01");
        assert_eq!("02-00-17-0a-bc-01".parse::<MacAddr>().unwrap(), mac);

        for bad in [
            "",
            "02:00:17:0a:bc",
            "02:00:17:0a:bc:01:02",
            "0g:00:17:0a:bc:01",
            "2:0:1:a:b:c",
        ] {
            assert!(
                matches!(bad.parse::<MacAddr>(), Err(Error::ParseMac { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn cidr_parses_and_contains() {
        let cidr: Ipv4Cidr = "10.0.1.7/24".parse().unwrap();
        assert_eq!(cidr.network(), Ipv4Addr::new(10, 0, 1, 0));
        assert!(cidr.contains(Ipv4Addr::new(10, 0, 1, 200)));
        assert!(!cidr.contains(Ipv4Addr::new(10, 0, 2, 1)));
        assert!(
            "0.0.0.0/0"
                .parse::<Ipv4Cidr>()
                .unwrap()
                .contains(Ipv4Addr::BROADCAST)
        );
        assert!("10.0.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Cidr>().is_err());
    }

    #[test]
    fn reserved_tables_are_refused() {
        for id in RESERVED_TABLES {
            assert!(
                matches!(TableId::try_new(*id), Err(Error::ReservedTable { table }) if table == *id)
            );
        }
        assert_eq!(TableId::try_new(10).unwrap().get(), 10);
    }

    #[test]
    fn vnic_id_must_look_like_an_ocid() {
        assert!("ocid1.vnic.oc1.phx.abc".parse::<VnicId>().is_ok());
        assert!("vnic-1".parse::<VnicId>().is_err());
        assert!("ocid1.vnic.oc1 phx".parse::<VnicId>().is_err());
    }
}
