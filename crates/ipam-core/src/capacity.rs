//! Per-node capacity: VNICs attached and allowed, addresses held and possible, maximum pods.

use serde::Serialize;
use vnic_limits::{SecondaryVnics, VnicLimit, VnicLimitSource};

use crate::snapshot::{Node, Policy};
use crate::{Error, NodeName};

/// What one node holds now and can hold at most under the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NodeCapacity {
    /// The node.
    pub name: NodeName,
    /// VNICs attached or attaching, the primary included.
    pub vnics_attached: u32,
    /// VNICs the instance allows, `None` when the shape is unknown and the snapshot does not
    /// say (the node then keeps the VNICs it has).
    pub vnics_allowed: Option<u32>,
    /// Whether `vnics_allowed` came from the instance or the shape table.
    #[serde(skip)]
    pub limit_source: Option<VnicLimitSource>,
    /// Addresses in the pool now (A).
    pub addresses: u32,
    /// Addresses in use now (U).
    pub used: u32,
    /// The most addresses the pool can reach: pool VNICs (attached, attaching and still
    /// attachable) × ipsPerVnic, capped by maxAllocate when set.
    pub max_addresses: u32,
    /// Pods the node can run: `max_addresses` capped by the kubelet's pod limit.
    pub max_pods: u32,
}

/// The VNIC limit of a node: its own `maxVnicAttachments`, else the shape table.
///
/// # Errors
///
/// [`Error::ResolveVnicLimit`] when the shape is unknown or the table cannot answer for the
/// node's OCPU count.
pub fn max_vnics(node: &Node) -> Result<VnicLimit, Error> {
    vnic_limits::vnic_limit(&node.shape, node.ocpus, node.max_vnic_attachments).map_err(|source| {
        Error::ResolveVnicLimit {
            node: node.name.to_string(),
            source,
        }
    })
}

/// The capacity of `node` under `policy`.
pub fn node_capacity(policy: &Policy, node: &Node) -> NodeCapacity {
    let ips_per_vnic = policy.ips_per_vnic.get();
    let listed = u32::try_from(node.vnics.len()).unwrap_or(u32::MAX);
    let vnics_attached = listed.saturating_add(node.attaching_vnics);
    let limit = max_vnics(node).ok();

    let pool_vnics = u32::try_from(node.pool_vnics(policy).count()).unwrap_or(u32::MAX);
    let attachable = match (policy.secondary_vnics, limit) {
        (SecondaryVnics::Attach, Some(limit)) => limit.max_vnics.saturating_sub(vnics_attached),
        _ => 0,
    };
    // VNICs still attaching will carry pool addresses once attached.
    let future_vnics = pool_vnics + node.attaching_vnics + attachable;

    let mut max_addresses = future_vnics.saturating_mul(ips_per_vnic);
    let max_allocate = node.allocation(policy).max_allocate;
    if max_allocate > 0 {
        max_addresses = max_addresses.min(max_allocate);
    }

    NodeCapacity {
        name: node.name.clone(),
        vnics_attached,
        vnics_allowed: limit.map(|limit| limit.max_vnics),
        limit_source: limit.map(|limit| limit.source),
        addresses: node.pool_size(policy),
        used: node.used_count(),
        max_addresses,
        max_pods: max_addresses.min(policy.kubelet_max_pods),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snapshot;

    fn sample(policy: serde_json::Value, extra: serde_json::Value) -> (Policy, Node) {
        let mut node = serde_json::json!({
            "name": "n1", "instanceId": "ocid1.instance.oc1.phx.a",
            "shape": "VM.Standard.E4.Flex", "ocpus": 4, "availabilityDomain": "AD-1",
            "vnics": [
                {"id": "ocid1.vnic.oc1.phx.a", "index": 0, "subnetId": "ocid1.subnet.oc1.phx.a",
                 "primaryIp": "10.0.0.2", "secondaryIps": ["10.0.0.3"]},
                {"id": "ocid1.vnic.oc1.phx.b", "index": 1, "subnetId": "ocid1.subnet.oc1.phx.a",
                 "primaryIp": "10.0.0.4", "secondaryIps": ["10.0.0.5", "10.0.0.6"]}
            ],
            "used": ["10.0.0.5"]
        });
        if let (Some(node), Some(extra)) = (node.as_object_mut(), extra.as_object()) {
            node.extend(extra.clone());
        }
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "apiVersion": "oci-ipam/v1", "kind": "ClusterSnapshot",
            "policy": policy, "nodes": [node]
        }))
        .unwrap();
        (snapshot.policy.clone(), snapshot.nodes[0].clone())
    }

    #[test]
    fn capacity_counts_pool_vnics_and_the_ones_still_attachable() {
        // OKE model: the primary VNIC carries no pods; 4 OCPUs allow 4 VNICs.
        let (policy, node) = sample(
            serde_json::json!({"firstVnicIndex": 1}),
            serde_json::json!({}),
        );
        let capacity = node_capacity(&policy, &node);
        assert_eq!(capacity.vnics_attached, 2);
        assert_eq!(capacity.vnics_allowed, Some(4));
        assert_eq!((capacity.addresses, capacity.used), (2, 1));
        assert_eq!(capacity.max_addresses, 3 * 31);
        assert_eq!(capacity.max_pods, 93);
    }

    #[test]
    fn capacity_respects_max_allocate_kubelet_and_attaching_vnics() {
        let (policy, node) = sample(
            serde_json::json!({"maxAllocate": 50}),
            serde_json::json!({"attachingVnics": 1}),
        );
        let capacity = node_capacity(&policy, &node);
        assert_eq!(capacity.vnics_attached, 3);
        assert_eq!(capacity.max_addresses, 50);

        let (policy, node) = sample(serde_json::json!({}), serde_json::json!({}));
        assert_eq!(node_capacity(&policy, &node).max_pods, 110);
    }

    #[test]
    fn an_unknown_limit_keeps_the_attached_vnics() {
        let (policy, node) = sample(
            serde_json::json!({}),
            serde_json::json!({"shape": "VM.Future.Z1", "ocpus": null}),
        );
        let capacity = node_capacity(&policy, &node);
        assert_eq!(capacity.vnics_allowed, None);
        assert_eq!(capacity.max_addresses, 2 * 31);
        assert!(matches!(
            max_vnics(&node),
            Err(Error::ResolveVnicLimit { .. })
        ));
    }
}
