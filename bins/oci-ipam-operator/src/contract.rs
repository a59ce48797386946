//! The planner's two JSON documents, as the operator sees them: the cluster snapshot
//! (`apiVersion: oci-ipam/v1`, `kind: ClusterSnapshot`: policy, subnets, nodes with their
//! VNICs and pools) and the plan it yields (per node: addresses to create or release, VNICs
//! to attach). `docs/snapshot-format.md` describes every field of both.
//!
//! The operator talks to `ipam-core` through these JSON documents rather than through its
//! Rust types: it builds a [`Snapshot`] from OCI and the CiliumNode, hands the JSON to
//! `ipam-core`, and reads the [`Plan`] back. The same snapshot is what `oci-ipam-operator
//! snapshot` writes, so the planner can replay exactly what the operator saw.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The snapshot API version.
pub const API_VERSION: &str = "oci-ipam/v1";

/// A cluster snapshot: policy, subnets and nodes (fields in `docs/snapshot-format.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Snapshot {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always `ClusterSnapshot`.
    pub kind: String,
    /// When the snapshot was taken (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// Cluster-wide policy.
    pub policy: Policy,
    /// Subnets the plan may use.
    pub subnets: Vec<SnapshotSubnet>,
    /// Nodes.
    pub nodes: Vec<SnapshotNode>,
}

impl Snapshot {
    /// An empty snapshot with `policy`.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: "ClusterSnapshot".to_owned(),
            taken_at: None,
            policy,
            subnets: Vec::new(),
            nodes: Vec::new(),
        }
    }
}

/// Snapshot policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Policy {
    /// Secondary addresses per VNIC.
    pub ips_per_vnic: u32,
    /// Lowest VNIC index used for pods.
    pub first_vnic_index: u32,
    /// Whether VNICs may be attached.
    pub secondary_vnics: bool,
    /// Default pre-allocate.
    pub pre_allocate: u32,
    /// Default min-allocate.
    pub min_allocate: u32,
    /// Default max-allocate (0 = none).
    pub max_allocate: u32,
    /// Default max-above-watermark.
    pub max_above_watermark: u32,
    /// Whether excess addresses are released.
    pub release_excess: bool,
    /// Explicit subnets for new VNICs.
    pub subnet_ids: Vec<String>,
    /// Tags subnets for new VNICs must carry.
    pub subnet_tags: BTreeMap<String, String>,
}

/// A subnet in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SnapshotSubnet {
    /// Subnet OCID.
    pub id: String,
    /// IPv4 CIDR.
    pub cidr: String,
    /// AD, `None` for regional subnets.
    pub availability_domain: Option<String>,
    /// Freeform tags.
    pub freeform_tags: BTreeMap<String, String>,
    /// Addresses taken by anything.
    pub allocated_ips: u32,
}

/// A node in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SnapshotNode {
    /// Node name.
    pub name: String,
    /// Instance OCID.
    pub instance_id: String,
    /// Shape.
    pub shape: String,
    /// OCPUs (flex shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocpus: Option<f64>,
    /// VNIC limit from the instance, wins over the shape table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vnic_attachments: Option<u32>,
    /// The instance's AD.
    pub availability_domain: String,
    /// Per-node pool settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<NodeIpam>,
    /// Attached VNICs usable by the operator.
    pub vnics: Vec<SnapshotVnic>,
    /// VNIC attachments still in flight (the planner attaches no second one meanwhile).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attaching_vnics: u32,
    /// Addresses in use.
    pub used: Vec<Ipv4Addr>,
    /// Pods waiting for an address.
    #[serde(default)]
    pub pending_pods: u32,
    /// The release handshake.
    #[serde(default)]
    pub release_ips: BTreeMap<Ipv4Addr, String>,
}

/// Per-node pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NodeIpam {
    /// pre-allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_allocate: Option<u32>,
    /// min-allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_allocate: Option<u32>,
    /// max-allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allocate: Option<u32>,
    /// max-above-watermark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_above_watermark: Option<u32>,
}

/// A VNIC in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SnapshotVnic {
    /// VNIC OCID.
    pub id: String,
    /// Index (0 = primary).
    pub index: u32,
    /// Subnet OCID.
    pub subnet_id: String,
    /// The VNIC's primary IP.
    pub primary_ip: Ipv4Addr,
    /// Secondary addresses on it that belong to the pool.
    pub secondary_ips: Vec<Ipv4Addr>,
}

/// A plan: what the planner wants done per node, and what each subnet has left
/// (`docs/snapshot-format.md`, section "The plan").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Plan {
    /// Per-node results.
    pub nodes: Vec<NodePlan>,
    /// Per-subnet free counts.
    #[serde(default)]
    pub subnets: Vec<SubnetPlan>,
}

/// One node's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NodePlan {
    /// Node name.
    pub name: String,
    /// Addresses in the pool.
    pub available: u32,
    /// Addresses in use.
    pub used: u32,
    /// Addresses needed.
    pub needed: u32,
    /// Addresses in excess.
    #[serde(default)]
    pub excess: u32,
    /// What to do, in order.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// What cannot be done.
    #[serde(default)]
    pub shortfall: Option<Shortfall>,
}

/// One step of a node's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Action {
    /// Create `count` secondary private IPs on a VNIC.
    #[serde(rename_all = "camelCase")]
    AssignPrivateIps {
        /// The VNIC.
        vnic_id: String,
        /// How many.
        count: u32,
    },
    /// Attach a VNIC in a subnet, then assign addresses on it.
    #[serde(rename_all = "camelCase")]
    AttachVnic {
        /// The subnet.
        subnet_id: String,
        /// The VNIC's index.
        index: u32,
        /// Addresses to create once attached.
        then_assign: u32,
    },
    /// Start the release handshake for these addresses.
    MarkForRelease {
        /// The addresses.
        ips: Vec<Ipv4Addr>,
    },
    /// Delete these acknowledged addresses from a VNIC.
    #[serde(rename_all = "camelCase")]
    ReleasePrivateIps {
        /// The VNIC.
        vnic_id: String,
        /// The addresses.
        ips: Vec<Ipv4Addr>,
    },
}

/// Why a node cannot get all it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Shortfall {
    /// Addresses missing.
    pub ips: u32,
    /// `vnicLimit`, `subnetExhausted`, `maxAllocate`, `noSubnet` or `attachPending`.
    pub reason: String,
    /// For people.
    pub message: String,
}

/// A subnet's free addresses before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubnetPlan {
    /// Subnet OCID.
    pub id: String,
    /// Free before.
    pub free_before: u64,
    /// Free after.
    pub free_after: u64,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_use_the_contract_names() {
        let json = serde_json::json!([
            {"action": "assignPrivateIps", "vnicId": "v", "count": 3},
            {"action": "attachVnic", "subnetId": "s", "index": 1, "thenAssign": 8},
            {"action": "markForRelease", "ips": ["10.0.0.9"]},
            {"action": "releasePrivateIps", "vnicId": "v", "ips": ["10.0.0.9"]},
        ]);

        let actions: Vec<Action> = serde_json::from_value(json.clone()).expect("parses");

        assert_eq!(
            actions[0],
            Action::AssignPrivateIps {
                vnic_id: "v".into(),
                count: 3
            }
        );
        assert_eq!(serde_json::to_value(&actions).expect("encodes"), json);
    }
}
