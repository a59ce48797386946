//! The snapshot model (`docs/snapshot-format.md`): a cluster's subnets and nodes as OCI and the CiliumNodes
//! describe them, plus the policy to plan with.
//!
//! Every type here is plain data with public fields, so callers (the operator) can build a
//! snapshot in code; serde reads and writes the documented JSON form (camelCase, unknown fields
//! rejected by name, `apiVersion: oci-ipam/v1`). The structs are deliberately not
//! `#[non_exhaustive]`: a new field is a new contract version.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vnic_limits::{IpsPerVnic, Ocpus, SecondaryVnics, ShapeName};

use crate::{AvailabilityDomain, InstanceId, Ipv4Cidr, NodeName, SubnetId, VnicId};

/// The contract version of snapshots and plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `oci-ipam/v1`.
    #[default]
    #[serde(rename = "oci-ipam/v1")]
    V1,
}

/// The `kind` of a snapshot document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum SnapshotKind {
    /// `ClusterSnapshot`.
    #[default]
    ClusterSnapshot,
}

/// A cluster as the planner sees it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    /// Always `oci-ipam/v1`.
    pub api_version: ApiVersion,
    /// Always `ClusterSnapshot`.
    pub kind: SnapshotKind,
    /// When the state was read (RFC 3339), if known. Planning never reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<jiff::Timestamp>,
    /// The planning policy; every field has a default.
    #[serde(default)]
    pub policy: Policy,
    /// The subnets addresses may come from.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// The worker nodes.
    #[serde(default)]
    pub nodes: Vec<Node>,
}

/// Cluster-wide planning settings; node values in [`Node::ipam`] override the four
/// allocation numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Policy {
    /// Secondary addresses per VNIC (1 to 64; 31 is safe everywhere).
    pub ips_per_vnic: IpsPerVnic,
    /// VNICs with a lower index carry no pod addresses (1 = Oracle's OKE model).
    pub first_vnic_index: u32,
    /// Whether VNICs beyond those attached may be attached (JSON `true`/`false`).
    #[serde(with = "secondary_vnics_flag")]
    #[schemars(with = "bool")]
    pub secondary_vnics: SecondaryVnics,
    /// Cilium's pre-allocate: free addresses to keep ready (default 8).
    pub pre_allocate: u32,
    /// Cilium's min-allocate: the smallest pool (0 = none).
    pub min_allocate: u32,
    /// Cilium's max-allocate: the largest pool (0 = none).
    pub max_allocate: u32,
    /// Cilium's max-above-watermark: extra addresses per allocation round.
    pub max_above_watermark: u32,
    /// Whether excess addresses are given back (JSON `true`/`false`; default `false`).
    #[serde(with = "release_excess_flag")]
    #[schemars(with = "bool")]
    pub release_excess: ReleaseExcess,
    /// Subnets new VNICs may use; when set, nothing else is considered.
    pub subnet_ids: Vec<SubnetId>,
    /// When `subnetIds` is empty: new VNICs use subnets carrying all these freeform tags.
    pub subnet_tags: BTreeMap<String, String>,
    /// The kubelet's pod limit, used for maximum-pods answers (default 110).
    pub kubelet_max_pods: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            ips_per_vnic: IpsPerVnic::DEFAULT,
            first_vnic_index: 0,
            secondary_vnics: SecondaryVnics::Attach,
            pre_allocate: 8,
            min_allocate: 0,
            max_allocate: 0,
            max_above_watermark: 0,
            release_excess: ReleaseExcess::Keep,
            subnet_ids: Vec::new(),
            subnet_tags: BTreeMap::new(),
            kubelet_max_pods: vnic_limits::DEFAULT_KUBELET_MAX_PODS,
        }
    }
}

/// Whether addresses beyond what a node needs are given back to the subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReleaseExcess {
    /// Keep every address (Cilium's default).
    #[default]
    Keep,
    /// Release excess addresses through Cilium's release handshake.
    Release,
}

/// A VCN subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subnet {
    /// The subnet's OCID.
    pub id: SubnetId,
    /// Its IPv4 CIDR block.
    pub cidr: Ipv4Cidr,
    /// Its availability domain; `null` or absent for a regional subnet.
    #[serde(default)]
    pub availability_domain: Option<AvailabilityDomain>,
    /// Its freeform tags, matched against `policy.subnetTags`.
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Addresses taken in the subnet by anything (VNIC primaries, secondaries, reservations),
    /// not counting the 3 OCI reserves.
    pub allocated_ips: u32,
}

impl Subnet {
    /// Addresses still free: the CIDR's size, minus the 3 reserved, minus those allocated.
    pub fn free(&self) -> u64 {
        self.cidr
            .usable()
            .saturating_sub(u64::from(self.allocated_ips))
    }
}

/// A worker node: its instance, its VNICs and what Cilium reports about its pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// The Kubernetes node (and CiliumNode) name.
    pub name: NodeName,
    /// The instance's OCID.
    pub instance_id: InstanceId,
    /// The instance's shape.
    pub shape: ShapeName,
    /// The instance's OCPU count (needed for flex shapes unless `maxVnicAttachments` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocpus: Option<Ocpus>,
    /// The instance's own `shapeConfig.maxVnicAttachments`; wins over the shape table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vnic_attachments: Option<u32>,
    /// The instance's availability domain.
    pub availability_domain: AvailabilityDomain,
    /// Per-node overrides of the policy's allocation numbers (CiliumNode `spec.ipam`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<NodeIpam>,
    /// The attached VNICs, the primary (index 0) included.
    pub vnics: Vec<Vnic>,
    /// VNIC attachments still in the ATTACHING state and not listed in `vnics`; they count
    /// against the VNIC limit and hold back further attaches.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attaching_vnics: u32,
    /// Addresses in use by pods (CiliumNode `status.ipam.used`).
    #[serde(default)]
    pub used: Vec<Ipv4Addr>,
    /// Pods scheduled to the node and waiting for an address.
    #[serde(default)]
    pub pending_pods: u32,
    /// The release handshake (CiliumNode `status.ipam.release-ips`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub release_ips: BTreeMap<Ipv4Addr, ReleaseState>,
}

/// Per-node allocation numbers; an absent value falls back to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeIpam {
    /// Cilium's pre-allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_allocate: Option<u32>,
    /// Cilium's min-allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_allocate: Option<u32>,
    /// Cilium's max-allocate (0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allocate: Option<u32>,
    /// Cilium's max-above-watermark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_above_watermark: Option<u32>,
}

/// A VNIC attached to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vnic {
    /// The VNIC's OCID (the CiliumNode pool entries' `resource`).
    pub id: VnicId,
    /// Its slot on the instance; 0 is the primary VNIC.
    pub index: u32,
    /// The subnet it lives in.
    pub subnet_id: SubnetId,
    /// Its primary private IP, which belongs to the VNIC and never to a pod.
    pub primary_ip: Ipv4Addr,
    /// Its secondary private IPs.
    #[serde(default)]
    pub secondary_ips: Vec<Ipv4Addr>,
}

/// A state of Cilium's release handshake, spelled as Cilium spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseState {
    /// The operator wants the address back; the agent has not answered.
    MarkedForRelease,
    /// The agent agreed; the operator may delete the address.
    ReadyForRelease,
    /// The agent refused (it handed the address out meanwhile).
    DoNotRelease,
    /// The operator deleted the address; the agent drops the entry.
    Released,
}

/// The allocation numbers in force for one node: its own values, else the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Allocation {
    /// Pre-allocate (P).
    pub pre_allocate: u32,
    /// Min-allocate (m).
    pub min_allocate: u32,
    /// Max-allocate (M, 0 = none).
    pub max_allocate: u32,
    /// Max-above-watermark (W).
    pub max_above_watermark: u32,
}

// === impl Node ===

impl Node {
    /// The allocation numbers in force for this node under `policy`.
    pub fn allocation(&self, policy: &Policy) -> Allocation {
        let own = self.ipam.unwrap_or_default();
        Allocation {
            pre_allocate: own.pre_allocate.unwrap_or(policy.pre_allocate),
            min_allocate: own.min_allocate.unwrap_or(policy.min_allocate),
            max_allocate: own.max_allocate.unwrap_or(policy.max_allocate),
            max_above_watermark: own
                .max_above_watermark
                .unwrap_or(policy.max_above_watermark),
        }
    }

    /// The VNICs whose secondary addresses form the pool (index ≥ `firstVnicIndex`).
    pub fn pool_vnics<'a>(&'a self, policy: &Policy) -> impl Iterator<Item = &'a Vnic> + 'a {
        let first = policy.first_vnic_index;
        self.vnics.iter().filter(move |vnic| vnic.index >= first)
    }

    /// How many addresses the pool holds (A): secondary IPs on the pool VNICs.
    pub fn pool_size(&self, policy: &Policy) -> u32 {
        let count: usize = self
            .pool_vnics(policy)
            .map(|vnic| vnic.secondary_ips.len())
            .sum();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// How many addresses are in use (U).
    pub fn used_count(&self) -> u32 {
        u32::try_from(self.used.len()).unwrap_or(u32::MAX)
    }

    /// The primary VNIC (index 0), if listed.
    pub fn primary_vnic(&self) -> Option<&Vnic> {
        self.vnics.iter().find(|vnic| vnic.index == 0)
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Serde for [`SecondaryVnics`] as the JSON boolean of the contract.
mod secondary_vnics_flag {
    use serde::{Deserialize, Deserializer, Serializer};
    use vnic_limits::SecondaryVnics;

    pub(super) fn serialize<S: Serializer>(
        mode: &SecondaryVnics,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(matches!(mode, SecondaryVnics::Attach))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SecondaryVnics, D::Error> {
        let attach = bool::deserialize(deserializer)?;
        Ok(if attach {
            SecondaryVnics::Attach
        } else {
            SecondaryVnics::Never
        })
    }
}

/// Serde for [`ReleaseExcess`] as the JSON boolean of the contract.
mod release_excess_flag {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ReleaseExcess;

    pub(super) fn serialize<S: Serializer>(
        mode: &ReleaseExcess,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(matches!(mode, ReleaseExcess::Release))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<ReleaseExcess, D::Error> {
        let release = bool::deserialize(deserializer)?;
        Ok(if release {
            ReleaseExcess::Release
        } else {
            ReleaseExcess::Keep
        })
    }
}
