//! Instance metadata service (IMDS v2) documents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CompartmentId, InstanceId, VnicId, null_as_default};

/// `GET /opc/v2/instance/`: the instance this code runs on, selected fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImdsInstance {
    /// `id`.
    pub id: InstanceId,
    /// `compartmentId`.
    pub compartment_id: CompartmentId,
    /// `availabilityDomain`, e.g. `Uocm:PHX-AD-1`.
    pub availability_domain: String,
    /// `shape`.
    pub shape: String,
    /// `region`: may be a short code (`phx`); use `canonical_region_name` for endpoints.
    #[serde(default)]
    pub region: Option<String>,
    /// `canonicalRegionName`, e.g. `us-phoenix-1`.
    #[serde(default)]
    pub canonical_region_name: Option<String>,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `hostname`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// `faultDomain`.
    #[serde(default)]
    pub fault_domain: Option<String>,
    /// `ociAdName`.
    #[serde(default)]
    pub oci_ad_name: Option<String>,
    /// `state`.
    #[serde(default)]
    pub state: Option<String>,
    /// `regionInfo`.
    #[serde(default)]
    pub region_info: Option<RegionInfo>,
    /// `shapeConfig`.
    #[serde(default)]
    pub shape_config: Option<ImdsShapeConfig>,
    /// `metadata` (user metadata, e.g. `ssh_authorized_keys`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: BTreeMap<String, String>,
}

/// `regionInfo`: where the instance lives, with the realm's domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RegionInfo {
    /// `realmKey`, e.g. `oc1`.
    pub realm_key: String,
    /// `realmDomainComponent`, e.g. `oraclecloud.com`.
    pub realm_domain_component: String,
    /// `regionKey`, e.g. `PHX`.
    pub region_key: String,
    /// `regionIdentifier`, e.g. `us-phoenix-1`.
    pub region_identifier: String,
}

/// `GET /opc/v2/instance/shapeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImdsShapeConfig {
    /// `ocpus`.
    #[serde(default)]
    pub ocpus: Option<f64>,
    /// `memoryInGBs`.
    #[serde(default, rename = "memoryInGBs")]
    pub memory_in_gbs: Option<f64>,
    /// `networkingBandwidthInGbps`.
    #[serde(default)]
    pub networking_bandwidth_in_gbps: Option<f64>,
    /// `maxVnicAttachments`.
    #[serde(default)]
    pub max_vnic_attachments: Option<u32>,
}

/// One entry of `GET /opc/v2/vnics/` (entry 0 is the primary VNIC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImdsVnic {
    /// `vnicId`.
    pub vnic_id: VnicId,
    /// `privateIp`: the VNIC's primary IPv4 (secondary addresses are never listed).
    #[serde(default)]
    pub private_ip: Option<String>,
    /// `macAddr`.
    #[serde(default)]
    pub mac_addr: Option<String>,
    /// `vlanTag`.
    #[serde(default)]
    pub vlan_tag: Option<u32>,
    /// `virtualRouterIp`.
    #[serde(default)]
    pub virtual_router_ip: Option<String>,
    /// `subnetCidrBlock` (an IPv6-only VNIC was seen reporting the text `<null>`).
    #[serde(default)]
    pub subnet_cidr_block: Option<String>,
    /// `nicIndex` (may be absent on VMs).
    #[serde(default)]
    pub nic_index: Option<u32>,
    /// `ipv6Addresses`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipv6_addresses: Vec<String>,
    /// `ipv6SubnetCidrBlock`.
    #[serde(default)]
    pub ipv6_subnet_cidr_block: Option<String>,
    /// `ipv6VirtualRouterIp`.
    #[serde(default)]
    pub ipv6_virtual_router_ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imds_vnic_tolerates_quirks() {
        let json = r#"[{"vnicId": "ocid1.vnic.oc1.phx.a", "privateIp": "10.0.0.2",
            "vlanTag": 0, "macAddr": "02:00:17:00:00:01", "virtualRouterIp": "10.0.0.1",
            "subnetCidrBlock": "<null>"}]"#;

        let vnics: Vec<ImdsVnic> = serde_json::from_str(json).unwrap();

        assert_eq!(vnics[0].nic_index, None);
        assert_eq!(vnics[0].subnet_cidr_block.as_deref(), Some("<null>"));
    }
}
