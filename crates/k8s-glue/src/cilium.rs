//! Cilium's `CiliumNode` (`cilium.io/v2`), typed for the fields oci-ipam reads and writes.
//!
//! The types name the IPAM fields of Cilium's CRD (1.15 and newer) and keep every other field
//! of the object in `other` maps, so any real CiliumNode deserializes and nothing is lost in
//! memory. oci-ipam never writes a whole CiliumNode back: [`crate::ipam`] builds merge patches
//! that touch only the fields oci-ipam owns.
//!
//! Map-valued fields tolerate an explicit `null` (read as empty), as a Go client may write.
//!
//! Known limits: a key of `pool`, `used` or `release-ips` that is not an IP address makes the
//! whole object fail to deserialize (Cilium writes and parses these keys as IPs, so only a
//! hand-edited object has one), and the allocation knobs are read as `u32` (Cilium's schema
//! sets no maximum, but values beyond four billion addresses are meaningless).

use std::collections::BTreeMap;
use std::net::IpAddr;

use kube::CustomResource;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Addresses keyed by IP, as in `spec.ipam.pool` and `status.ipam.used`.
pub type AllocationMap = BTreeMap<IpAddr, AllocationIp>;

/// The `spec` of a CiliumNode; [`CiliumNode`] is the whole object.
///
/// Only `instance-id` and `ipam` are typed; the agent's own fields (`addresses`, `health`,
/// `encryption`, `eni`, ...) are kept verbatim in [`CiliumNodeSpec::other`].
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "cilium.io",
    version = "v2",
    kind = "CiliumNode",
    plural = "ciliumnodes",
    status = "CiliumNodeStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[non_exhaustive]
pub struct CiliumNodeSpec {
    /// `spec.instance-id`: the cloud instance; oci-ipam writes the instance OCID here.
    ///
    /// Kept as text because other IPAM modes store their own kinds of IDs in it.
    #[serde(
        rename = "instance-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,

    /// `spec.ipam`: the address pool and the allocation knobs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipam: IpamSpec,

    /// Every other `spec` field, exactly as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `spec.ipam` of a CiliumNode.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct IpamSpec {
    /// `pool`: every address the agent may hand out, with the VNIC OCID as `resource`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub pool: AllocationMap,

    /// `pre-allocate`: free addresses to keep ready.
    #[serde(
        rename = "pre-allocate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pre_allocate: Option<u32>,

    /// `min-allocate`: addresses the node needs before it starts.
    #[serde(
        rename = "min-allocate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_allocate: Option<u32>,

    /// `max-allocate`: the most addresses the node may hold.
    #[serde(
        rename = "max-allocate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_allocate: Option<u32>,

    /// `max-above-watermark`: extra addresses allowed beyond pre-allocate per allocation.
    #[serde(
        rename = "max-above-watermark",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_above_watermark: Option<u32>,

    /// Every other `spec.ipam` field (`pools`, `podCIDRs`, `ipv6-pool`, ...), as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The `status` of a CiliumNode.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct CiliumNodeStatus {
    /// `status.ipam`: usage reported by the agent and the release handshake.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipam: IpamStatus,

    /// Every other `status` field (`eni`, `azure`, ...), as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `status.ipam` of a CiliumNode.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct IpamStatus {
    /// `used`: addresses the agent has handed out; `owner` is `<namespace>/<pod>`, `router`,
    /// `health` or `ingress`. Written only by the agent.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub used: AllocationMap,

    /// `release-ips`: the four-state release handshake, keyed by address.
    #[serde(
        rename = "release-ips",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub release_ips: BTreeMap<IpAddr, ReleaseState>,

    /// `operator-status`: where the operator reports an error for people to see.
    #[serde(
        rename = "operator-status",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator_status: Option<OperatorStatus>,

    /// Every other `status.ipam` field (`pod-cidrs`, `ipv6-used`, ...), as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One address of a pool or of the used map: `{owner, resource}`, both optional on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllocationIp {
    /// Who the address is pinned to (pool) or given to (used); empty when nobody.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,

    /// The interface holding the address; for oci-ipam, the VNIC OCID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
}

impl AllocationIp {
    /// An unowned pool entry on the VNIC (or other resource) `resource`.
    #[must_use]
    pub fn on(resource: impl Into<String>) -> Self {
        Self {
            owner: String::new(),
            resource: resource.into(),
        }
    }
}

/// A state of the release handshake in `status.ipam.release-ips`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ReleaseState {
    /// The operator asks to release the address.
    #[serde(rename = "marked-for-release")]
    MarkedForRelease,
    /// The agent agrees: the address is not in use and will not be handed out.
    #[serde(rename = "ready-for-release")]
    ReadyForRelease,
    /// The agent refuses: the address is in use.
    #[serde(rename = "do-not-release")]
    DoNotRelease,
    /// The operator released the address in the cloud; the agent drops the entry.
    #[serde(rename = "released")]
    Released,
}

impl ReleaseState {
    /// The value as written in the CiliumNode.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MarkedForRelease => "marked-for-release",
            Self::ReadyForRelease => "ready-for-release",
            Self::DoNotRelease => "do-not-release",
            Self::Released => "released",
        }
    }
}

/// `status.ipam.operator-status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperatorStatus {
    /// The operator's current error for this node, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CiliumNode {
    /// Addresses in `status.ipam.used`, empty when the agent has reported none.
    pub fn used(&self) -> &AllocationMap {
        static EMPTY: AllocationMap = BTreeMap::new();
        self.status
            .as_ref()
            .map_or(&EMPTY, |status| &status.ipam.used)
    }

    /// The release handshake in `status.ipam.release-ips`.
    pub fn release_ips(&self) -> &BTreeMap<IpAddr, ReleaseState> {
        static EMPTY: BTreeMap<IpAddr, ReleaseState> = BTreeMap::new();
        self.status
            .as_ref()
            .map_or(&EMPTY, |status| &status.ipam.release_ips)
    }
}

/// Reads `null` as the type's default, so `"pool": null` is an empty pool.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_reads_as_empty_ipam() {
        let node: CiliumNode = serde_json::from_value(serde_json::json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNode",
            "metadata": {"name": "n1"},
            "spec": {"ipam": {"pool": null}},
            "status": null,
        }))
        .unwrap();

        assert!(node.spec.ipam.pool.is_empty());
        assert!(node.used().is_empty());
        assert!(node.release_ips().is_empty());
    }

    #[test]
    fn release_states_use_ciliums_spelling() {
        for state in [
            ReleaseState::MarkedForRelease,
            ReleaseState::ReadyForRelease,
            ReleaseState::DoNotRelease,
            ReleaseState::Released,
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
    }
}
