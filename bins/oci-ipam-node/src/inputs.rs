//! Turning what the metadata service, our `OciNetworkNode` and the `CiliumNode` say into
//! [`NodeInputs`], and a [`ReconcileReport`] into the `OciNetworkNode` status. Pure.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use k8s_glue::crd::{VnicRecord, VnicState, VnicStatus};
use k8s_glue::{CiliumNode, Ocid};
use oci_api::model::ImdsVnic;

use crate::model::{Ipv4Cidr, MacAddr, NodeInputs, PoolAddress, Vnic, VnicId, VnicRole};
use crate::reconcile::{Readiness, ReconcileReport};

/// A metadata VNIC entry the agent could not use, and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnusableVnic {
    /// The `vnicId` as the metadata service gave it.
    pub vnic: String,
    /// Which field was missing or malformed.
    pub problem: String,
}

/// VNICs from `/opc/v2/vnics/` (the truth for MAC, router, CIDR and VLAN tag), with role
/// and attachment index taken from our CRD's records when it has them.
///
/// Without a record, entry 0 of the metadata list is the primary VNIC, as cloud-init
/// assumes. Entries missing a MAC, router or IPv4 CIDR (IPv6-only VNICs report `<null>`)
/// are returned as unusable instead.
#[must_use]
pub fn vnics_from_metadata(
    metadata: &[ImdsVnic],
    records: &[VnicRecord],
) -> (Vec<Vnic>, Vec<UnusableVnic>) {
    let mut vnics = Vec::new();
    let mut unusable = Vec::new();

    for (position, entry) in metadata.iter().enumerate() {
        let record = records
            .iter()
            .find(|r| r.vnic_id.as_str() == entry.vnic_id.as_str());
        match vnic_from_entry(position, entry, record) {
            Ok(vnic) => vnics.push(vnic),
            Err(problem) => unusable.push(UnusableVnic {
                vnic: entry.vnic_id.as_str().to_owned(),
                problem,
            }),
        }
    }
    (vnics, unusable)
}

/// The IPv4 pool entries of a CiliumNode whose `resource` is a VNIC OCID.
#[must_use]
pub fn pool_from_cilium_node(node: &CiliumNode) -> BTreeSet<PoolAddress> {
    node.spec
        .ipam
        .pool
        .iter()
        .filter_map(|(ip, entry)| {
            let IpAddr::V4(ip) = ip else { return None };
            let vnic: VnicId = entry.resource.parse().ok()?;
            Some(PoolAddress { ip: *ip, vnic })
        })
        .collect()
}

/// Builds [`NodeInputs`] from the three sources.
#[must_use]
pub fn node_inputs(
    metadata: &[ImdsVnic],
    records: &[VnicRecord],
    cilium_node: Option<&CiliumNode>,
) -> (NodeInputs, Vec<UnusableVnic>) {
    let (vnics, unusable) = vnics_from_metadata(metadata, records);
    let pool = cilium_node.map(pool_from_cilium_node).unwrap_or_default();
    (NodeInputs::new(vnics, pool), unusable)
}

/// The per-VNIC statuses to write into the `OciNetworkNode`.
#[must_use]
pub fn vnic_statuses(report: &ReconcileReport) -> Vec<VnicStatus> {
    report
        .vnics
        .iter()
        .filter_map(|(id, vnic)| {
            let ocid: Ocid = id.as_str().parse().ok()?;
            let state = match &vnic.readiness {
                Readiness::Ready => VnicState::Ready,
                Readiness::NotReady { reason, .. } if reason.is_transient() => VnicState::Pending,
                Readiness::NotReady { .. } => VnicState::Failed,
            };
            let mut status = VnicStatus::new(ocid, state);
            status.interface.clone_from(&vnic.link);
            status.route_table = vnic.table.map(|t| t.get());
            if let Readiness::NotReady { reason, message } = &vnic.readiness {
                status.message = Some(format!("{}: {message}", reason.as_str()));
            }
            Some(status)
        })
        .collect()
}

fn vnic_from_entry(
    position: usize,
    entry: &ImdsVnic,
    record: Option<&VnicRecord>,
) -> Result<Vnic, String> {
    let id: VnicId = entry
        .vnic_id
        .as_str()
        .parse()
        .map_err(|_| "vnicId is not an OCID")?;

    let mac: MacAddr = entry
        .mac_addr
        .as_deref()
        .ok_or("macAddr is missing")?
        .parse()
        .map_err(|_| "macAddr is not a MAC address")?;
    let router: Ipv4Addr = entry
        .virtual_router_ip
        .as_deref()
        .ok_or("virtualRouterIp is missing")?
        .parse()
        .map_err(|_| "virtualRouterIp is not an IPv4 address")?;
    let cidr: Ipv4Cidr = entry
        .subnet_cidr_block
        .as_deref()
        .ok_or("subnetCidrBlock is missing")?
        .parse()
        .map_err(|_| "subnetCidrBlock is not an IPv4 CIDR")?;

    let role = match record.map(|r| r.role) {
        Some(k8s_glue::crd::VnicRole::Primary) => VnicRole::Primary,
        Some(_) => VnicRole::Secondary,
        None if position == 0 => VnicRole::Primary,
        None => VnicRole::Secondary,
    };

    let mut vnic = Vnic::new(id, role, mac, router, cidr);
    if let Some(tag) = entry.vlan_tag.and_then(|t| u16::try_from(t).ok()) {
        vnic = vnic.with_vlan_tag(tag);
    }
    if let Some(index) = entry.nic_index.and_then(|i| u8::try_from(i).ok()) {
        vnic = vnic.with_nic_index(index);
    }
    if let Some(record) = record {
        vnic = vnic.with_attachment_index(record.index);
    }
    Ok(vnic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{NotReadyReason, VnicReport};

    fn imds(json: serde_json::Value) -> Vec<ImdsVnic> {
        serde_json::from_value(json).unwrap()
    }

    fn sample() -> Vec<ImdsVnic> {
        imds(serde_json::json!([
            {
                "vnicId": "ocid1.vnic.oc1.phx.primary", "privateIp": "10.0.0.5",
                "vlanTag": 1234, "macAddr": "02:00:17:00:00:01",
                "virtualRouterIp": "10.0.0.1", "subnetCidrBlock": "10.0.0.0/24"
            },
            {
                "vnicId": "ocid1.vnic.oc1.phx.second", "privateIp": "10.0.1.5",
                "vlanTag": 2345, "macAddr": "02:00:17:00:00:02", "nicIndex": 1,
                "virtualRouterIp": "10.0.1.1", "subnetCidrBlock": "10.0.1.0/24"
            },
            {
                "vnicId": "ocid1.vnic.oc1.phx.v6only", "macAddr": "02:00:17:00:00:03",
                "subnetCidrBlock": "<null>", "ipv6Addresses": ["fd00::5"]
            }
        ]))
    }

    #[test]
    fn metadata_entries_become_vnics_and_broken_ones_are_named() {
        let (vnics, unusable) = vnics_from_metadata(&sample(), &[]);

        assert_eq!(vnics.len(), 2);
        assert_eq!(vnics[0].role, VnicRole::Primary);
        assert_eq!(vnics[1].role, VnicRole::Secondary);
        assert_eq!(vnics[1].mac.to_string(), "02:00:17:00:00:02");
        assert_eq!(vnics[1].vlan_tag, Some(2345));
        assert_eq!(vnics[1].nic_index, Some(1));
        assert_eq!(vnics[1].subnet_cidr.to_string(), "10.0.1.0/24");
        assert_eq!(unusable.len(), 1);
        assert_eq!(unusable[0].vnic, "ocid1.vnic.oc1.phx.v6only");
        assert_eq!(unusable[0].problem, "virtualRouterIp is missing");
    }

    #[test]
    fn crd_records_supply_role_and_attachment_index() {
        let record: VnicRecord = serde_json::from_value(serde_json::json!({
            "vnicId": "ocid1.vnic.oc1.phx.second",
            "attachmentId": "ocid1.vnicattachment.oc1.phx.a",
            "index": 3, "role": "Secondary", "origin": "Created",
            "subnetId": "ocid1.subnet.oc1.phx.s"
        }))
        .unwrap();

        let (vnics, _) = vnics_from_metadata(&sample(), &[record]);

        assert_eq!(vnics[1].attachment_index, Some(3));
        assert_eq!(vnics[0].attachment_index, None);
    }

    #[test]
    fn pool_keeps_ipv4_entries_on_vnics() {
        let node: CiliumNode = serde_json::from_value(serde_json::json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumNode",
            "metadata": { "name": "node-a" },
            "spec": { "ipam": { "pool": {
                "10.0.1.7": { "resource": "ocid1.vnic.oc1.phx.second" },
                "10.0.0.9": { "resource": "ocid1.vnic.oc1.phx.primary", "owner": "oci-ipam/pending" },
                "10.0.2.1": { "resource": "eni-123" },
                "fd00::1": { "resource": "ocid1.vnic.oc1.phx.second" }
            } } }
        }))
        .unwrap();

        let pool: Vec<String> = pool_from_cilium_node(&node)
            .iter()
            .map(|p| format!("{} {}", p.ip, p.vnic))
            .collect();

        assert_eq!(
            pool,
            vec![
                "10.0.0.9 ocid1.vnic.oc1.phx.primary",
                "10.0.1.7 ocid1.vnic.oc1.phx.second"
            ]
        );
    }

    #[test]
    fn report_becomes_statuses_with_reasons() {
        let mut report = ReconcileReport::default();
        report.vnics.insert(
            "ocid1.vnic.oc1.phx.second".parse().unwrap(),
            VnicReport {
                role: VnicRole::Secondary,
                link: None,
                table: None,
                addresses: 0,
                readiness: Readiness::NotReady {
                    reason: NotReadyReason::LinkNotFound,
                    message: "no link has MAC 02:00:17:00:00:02".into(),
                },
            },
        );
        report.vnics.insert(
            "ocid1.vnic.oc1.phx.third".parse().unwrap(),
            VnicReport {
                role: VnicRole::Secondary,
                link: Some("ens5".into()),
                table: Some(crate::TableId::try_new(12).unwrap()),
                addresses: 4,
                readiness: Readiness::Ready,
            },
        );

        let statuses = vnic_statuses(&report);

        assert_eq!(statuses[0].state, VnicState::Pending);
        assert_eq!(
            statuses[0].message.as_deref(),
            Some("LinkNotFound: no link has MAC 02:00:17:00:00:02")
        );
        assert_eq!(statuses[1].state, VnicState::Ready);
        assert_eq!(statuses[1].interface.as_deref(), Some("ens5"));
        assert_eq!(statuses[1].route_table, Some(12));
    }
}
