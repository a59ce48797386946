//! VirtualNetwork models: VNICs, private IPs, IPv6 addresses, subnets and VCNs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::macros::open_enum;
use super::{
    CompartmentId, DefinedTags, FreeformTags, Ipv6Id, PrivateIpId, SubnetId, VcnId, VnicId,
    is_empty, null_as_default,
};

open_enum!(
    /// `Vnic.lifecycleState`.
    VnicLifecycleState {
        /// `PROVISIONING`
        Provisioning => "PROVISIONING",
        /// `AVAILABLE`
        Available => "AVAILABLE",
        /// `TERMINATING`
        Terminating => "TERMINATING",
        /// `TERMINATED`
        Terminated => "TERMINATED",
    }
);

open_enum!(
    /// `lifecycleState` of subnets and VCNs.
    NetworkLifecycleState {
        /// `PROVISIONING`
        Provisioning => "PROVISIONING",
        /// `AVAILABLE`
        Available => "AVAILABLE",
        /// `TERMINATING`
        Terminating => "TERMINATING",
        /// `TERMINATED`
        Terminated => "TERMINATED",
        /// `UPDATING` (e.g. while the first IP CIDR address is carved from a subnet).
        Updating => "UPDATING",
    }
);

open_enum!(
    /// `Ipv6.lifecycleState`.
    Ipv6LifecycleState {
        /// `PROVISIONING`
        Provisioning => "PROVISIONING",
        /// `AVAILABLE`
        Available => "AVAILABLE",
        /// `TERMINATING`
        Terminating => "TERMINATING",
        /// `TERMINATED`
        Terminated => "TERMINATED",
    }
);

open_enum!(
    /// `ipState` of a private IP or IPv6: whether it is on a VNIC.
    PrivateIpState {
        /// `ASSIGNED`: on a VNIC.
        Assigned => "ASSIGNED",
        /// `AVAILABLE`: a reserved address not on any VNIC.
        Available => "AVAILABLE",
    }
);

open_enum!(
    /// `lifetime` of a private IP or IPv6.
    PrivateIpLifetime {
        /// `EPHEMERAL`: deleted with its VNIC.
        Ephemeral => "EPHEMERAL",
        /// `RESERVED`: outlives its VNIC.
        Reserved => "RESERVED",
    }
);

open_enum!(
    /// `sortBy` of ListSubnets.
    SortBy {
        /// `TIMECREATED`
        TimeCreated => "TIMECREATED",
        /// `DISPLAYNAME`
        DisplayName => "DISPLAYNAME",
    }
);

open_enum!(
    /// `sortOrder` of list calls.
    SortOrder {
        /// `ASC`
        Asc => "ASC",
        /// `DESC`
        Desc => "DESC",
    }
);

/// A VNIC (GetVnic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Vnic {
    /// `id`.
    pub id: VnicId,
    /// `availabilityDomain`.
    pub availability_domain: String,
    /// `compartmentId`.
    pub compartment_id: CompartmentId,
    /// `lifecycleState`.
    pub lifecycle_state: VnicLifecycleState,
    /// `timeCreated`.
    pub time_created: Timestamp,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `hostnameLabel`.
    #[serde(default)]
    pub hostname_label: Option<String>,
    /// `isPrimary`.
    #[serde(default)]
    pub is_primary: Option<bool>,
    /// `macAddress`, e.g. `00:00:17:B6:4D:DD`.
    #[serde(default)]
    pub mac_address: Option<String>,
    /// `nsgIds`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nsg_ids: Vec<String>,
    /// `privateIp`: the VNIC's primary IPv4 address.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    /// `publicIp`.
    #[serde(default)]
    pub public_ip: Option<IpAddr>,
    /// `skipSourceDestCheck`.
    #[serde(default)]
    pub skip_source_dest_check: Option<bool>,
    /// `subnetId`.
    #[serde(default)]
    pub subnet_id: Option<SubnetId>,
    /// `vlanId` (Oracle Cloud VMware Solution only).
    #[serde(default)]
    pub vlan_id: Option<String>,
    /// `ipv6Addresses`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipv6_addresses: Vec<Ipv6Addr>,
    /// `routeTableId`.
    #[serde(default)]
    pub route_table_id: Option<String>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defined_tags: DefinedTags,
}

/// A private IPv4 object: a VNIC's primary address, a secondary address, or a reserved one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PrivateIp {
    /// `id`.
    pub id: PrivateIpId,
    /// `ipAddress`.
    pub ip_address: Ipv4Addr,
    /// `cidrPrefixLength`: set for an IP CIDR address (a block held as one object).
    #[serde(default)]
    pub cidr_prefix_length: Option<u8>,
    /// `isPrimary`.
    #[serde(default)]
    pub is_primary: Option<bool>,
    /// `vnicId`: `None` for a reserved address not on a VNIC.
    #[serde(default)]
    pub vnic_id: Option<VnicId>,
    /// `subnetId`.
    #[serde(default)]
    pub subnet_id: Option<SubnetId>,
    /// `availabilityDomain` (null for secondaries on regional subnets).
    #[serde(default)]
    pub availability_domain: Option<String>,
    /// `compartmentId`.
    #[serde(default)]
    pub compartment_id: Option<CompartmentId>,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `hostnameLabel`.
    #[serde(default)]
    pub hostname_label: Option<String>,
    /// `ipState`.
    #[serde(default)]
    pub ip_state: Option<PrivateIpState>,
    /// `lifetime`.
    #[serde(default)]
    pub lifetime: Option<PrivateIpLifetime>,
    /// `routeTableId`.
    #[serde(default)]
    pub route_table_id: Option<String>,
    /// `vlanId`.
    #[serde(default)]
    pub vlan_id: Option<String>,
    /// `ipv4SubnetCidrAtCreation`.
    #[serde(default)]
    pub ipv4_subnet_cidr_at_creation: Option<String>,
    /// `timeCreated`.
    #[serde(default)]
    pub time_created: Option<Timestamp>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defined_tags: DefinedTags,
}

/// Body of CreatePrivateIp (`CreatePrivateIpDetails`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreatePrivateIpDetails {
    /// `vnicId`: the VNIC to put the address on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<VnicId>,
    /// `ipAddress`: the address to take; `None` lets OCI pick a free one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<Ipv4Addr>,
    /// `cidrPrefixLength`: with `ip_address`, creates an IP CIDR address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_prefix_length: Option<u8>,
    /// `ipv4SubnetCidrAtCreation`: which block of a multi-CIDR subnet to pick from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_subnet_cidr_at_creation: Option<String>,
    /// `subnetId`: for a reserved address not on a VNIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<SubnetId>,
    /// `lifetime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<PrivateIpLifetime>,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `hostnameLabel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_label: Option<String>,
    /// `routeTableId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table_id: Option<String>,
    /// `freeformTags`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub defined_tags: DefinedTags,
}

impl CreatePrivateIpDetails {
    /// A secondary address on `vnic`, chosen by OCI.
    #[must_use]
    pub fn on_vnic(vnic: VnicId) -> Self {
        Self {
            vnic_id: Some(vnic),
            ..Self::default()
        }
    }

    /// Requests this exact address.
    #[must_use]
    pub fn with_ip_address(mut self, address: Ipv4Addr) -> Self {
        self.ip_address = Some(address);
        self
    }

    /// Adds a free-form tag.
    #[must_use]
    pub fn with_freeform_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.freeform_tags.insert(key.into(), value.into());
        self
    }
}

/// Body of UpdatePrivateIp (`UpdatePrivateIpDetails`); only the fields set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UpdatePrivateIpDetails {
    /// `vnicId`: moves a secondary address to this VNIC (same subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<VnicId>,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `hostnameLabel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_label: Option<String>,
    /// `lifetime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<PrivateIpLifetime>,
    /// `routeTableId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table_id: Option<String>,
    /// `freeformTags` (replaces all free-form tags when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    /// `definedTags` (replaces all defined tags when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

impl UpdatePrivateIpDetails {
    /// Moves the address to `vnic`.
    #[must_use]
    pub fn move_to(vnic: VnicId) -> Self {
        Self {
            vnic_id: Some(vnic),
            ..Self::default()
        }
    }
}

/// Filters of ListPrivateIps: by subnet, by VNIC, or one address in a subnet.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ListPrivateIpsRequest {
    /// `subnetId`.
    pub subnet_id: Option<SubnetId>,
    /// `vnicId`.
    pub vnic_id: Option<VnicId>,
    /// `ipAddress` (with `subnet_id`).
    pub ip_address: Option<Ipv4Addr>,
    /// `ipState`.
    pub ip_state: Option<PrivateIpState>,
    /// `lifetime`.
    pub lifetime: Option<PrivateIpLifetime>,
    /// `limit`: page size; `None` uses the client's default page size.
    pub limit: Option<u32>,
}

impl ListPrivateIpsRequest {
    /// Every private IP on `vnic` (its primary included).
    #[must_use]
    pub fn on_vnic(vnic: VnicId) -> Self {
        Self {
            vnic_id: Some(vnic),
            ..Self::default()
        }
    }

    /// Every private IP in `subnet`, other nodes' and reserved ones included.
    #[must_use]
    pub fn in_subnet(subnet: SubnetId) -> Self {
        Self {
            subnet_id: Some(subnet),
            ..Self::default()
        }
    }

    /// Sets the page size.
    #[must_use]
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        push(&mut query, "subnetId", self.subnet_id.as_ref());
        push(&mut query, "vnicId", self.vnic_id.as_ref());
        push(&mut query, "ipAddress", self.ip_address.as_ref());
        push(&mut query, "ipState", self.ip_state.as_ref());
        push(&mut query, "lifetime", self.lifetime.as_ref());
        query
    }
}

/// An IPv6 address object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Ipv6 {
    /// `id`.
    pub id: Ipv6Id,
    /// `ipAddress`.
    pub ip_address: Ipv6Addr,
    /// `cidrPrefixLength`.
    #[serde(default)]
    pub cidr_prefix_length: Option<u8>,
    /// `vnicId`.
    #[serde(default)]
    pub vnic_id: Option<VnicId>,
    /// `subnetId`.
    #[serde(default)]
    pub subnet_id: Option<SubnetId>,
    /// `compartmentId`.
    #[serde(default)]
    pub compartment_id: Option<CompartmentId>,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `lifecycleState`.
    #[serde(default)]
    pub lifecycle_state: Option<Ipv6LifecycleState>,
    /// `ipState`.
    #[serde(default)]
    pub ip_state: Option<PrivateIpState>,
    /// `lifetime`.
    #[serde(default)]
    pub lifetime: Option<PrivateIpLifetime>,
    /// `timeCreated`.
    #[serde(default)]
    pub time_created: Option<Timestamp>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defined_tags: DefinedTags,
}

/// Body of CreateIpv6 (`CreateIpv6Details`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateIpv6Details {
    /// `vnicId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<VnicId>,
    /// `ipAddress`; `None` lets OCI pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<Ipv6Addr>,
    /// `ipv6SubnetCidr`: required when the subnet has several IPv6 prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_subnet_cidr: Option<String>,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `freeformTags`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub freeform_tags: FreeformTags,
}

impl CreateIpv6Details {
    /// An IPv6 address on `vnic`, chosen by OCI.
    #[must_use]
    pub fn on_vnic(vnic: VnicId) -> Self {
        Self {
            vnic_id: Some(vnic),
            ..Self::default()
        }
    }
}

/// Filters of ListIpv6s.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ListIpv6sRequest {
    /// `subnetId`.
    pub subnet_id: Option<SubnetId>,
    /// `vnicId`.
    pub vnic_id: Option<VnicId>,
    /// `limit`.
    pub limit: Option<u32>,
}

impl ListIpv6sRequest {
    /// Every IPv6 on `vnic`.
    #[must_use]
    pub fn on_vnic(vnic: VnicId) -> Self {
        Self {
            vnic_id: Some(vnic),
            ..Self::default()
        }
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        push(&mut query, "subnetId", self.subnet_id.as_ref());
        push(&mut query, "vnicId", self.vnic_id.as_ref());
        query
    }
}

/// A subnet (GetSubnet, ListSubnets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Subnet {
    /// `id`.
    pub id: SubnetId,
    /// `compartmentId`.
    pub compartment_id: CompartmentId,
    /// `vcnId`.
    pub vcn_id: VcnId,
    /// `lifecycleState`.
    pub lifecycle_state: NetworkLifecycleState,
    /// `cidrBlock`: the subnet's first IPv4 CIDR, e.g. `10.0.1.0/24`.
    pub cidr_block: String,
    /// `ipv4CidrBlocks`: every IPv4 CIDR of a multi-CIDR subnet.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipv4_cidr_blocks: Vec<String>,
    /// `availabilityDomain`: `None` for a regional subnet.
    #[serde(default)]
    pub availability_domain: Option<String>,
    /// `routeTableId`.
    #[serde(default)]
    pub route_table_id: Option<String>,
    /// `virtualRouterIp`: the subnet gateway.
    #[serde(default)]
    pub virtual_router_ip: Option<Ipv4Addr>,
    /// `virtualRouterMac`.
    #[serde(default)]
    pub virtual_router_mac: Option<String>,
    /// `ipv6CidrBlock`.
    #[serde(default)]
    pub ipv6_cidr_block: Option<String>,
    /// `ipv6CidrBlocks`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipv6_cidr_blocks: Vec<String>,
    /// `ipv6VirtualRouterIp`.
    #[serde(default)]
    pub ipv6_virtual_router_ip: Option<Ipv6Addr>,
    /// `dhcpOptionsId`.
    #[serde(default)]
    pub dhcp_options_id: Option<String>,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `dnsLabel`.
    #[serde(default)]
    pub dns_label: Option<String>,
    /// `subnetDomainName`.
    #[serde(default)]
    pub subnet_domain_name: Option<String>,
    /// `prohibitInternetIngress`.
    #[serde(default)]
    pub prohibit_internet_ingress: Option<bool>,
    /// `prohibitPublicIpOnVnic`.
    #[serde(default)]
    pub prohibit_public_ip_on_vnic: Option<bool>,
    /// `securityListIds`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub security_list_ids: Vec<String>,
    /// `timeCreated`.
    #[serde(default)]
    pub time_created: Option<Timestamp>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defined_tags: DefinedTags,
}

/// Filters of ListSubnets.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListSubnetsRequest {
    /// `compartmentId` (required).
    pub compartment_id: CompartmentId,
    /// `vcnId`.
    pub vcn_id: Option<VcnId>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `lifecycleState`.
    pub lifecycle_state: Option<NetworkLifecycleState>,
    /// `sortBy`.
    pub sort_by: Option<SortBy>,
    /// `sortOrder`.
    pub sort_order: Option<SortOrder>,
    /// `limit`.
    pub limit: Option<u32>,
}

impl ListSubnetsRequest {
    /// Every subnet in `compartment`.
    #[must_use]
    pub fn in_compartment(compartment: CompartmentId) -> Self {
        Self {
            compartment_id: compartment,
            vcn_id: None,
            display_name: None,
            lifecycle_state: None,
            sort_by: None,
            sort_order: None,
            limit: None,
        }
    }

    /// Only the subnets of `vcn`.
    #[must_use]
    pub fn in_vcn(mut self, vcn: VcnId) -> Self {
        self.vcn_id = Some(vcn);
        self
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("compartmentId", self.compartment_id.to_string())];
        push(&mut query, "vcnId", self.vcn_id.as_ref());
        push(&mut query, "displayName", self.display_name.as_ref());
        push(&mut query, "lifecycleState", self.lifecycle_state.as_ref());
        push(&mut query, "sortBy", self.sort_by.as_ref());
        push(&mut query, "sortOrder", self.sort_order.as_ref());
        query
    }
}

/// A virtual cloud network (GetVcn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Vcn {
    /// `id`.
    pub id: VcnId,
    /// `compartmentId`.
    pub compartment_id: CompartmentId,
    /// `lifecycleState`.
    pub lifecycle_state: NetworkLifecycleState,
    /// `cidrBlock` (legacy: the first of `cidrBlocks`).
    #[serde(default)]
    pub cidr_block: Option<String>,
    /// `cidrBlocks`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cidr_blocks: Vec<String>,
    /// `ipv6CidrBlocks`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipv6_cidr_blocks: Vec<String>,
    /// `ipv6PrivateCidrBlocks`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipv6_private_cidr_blocks: Vec<String>,
    /// `byoipv6CidrBlocks`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub byoipv6_cidr_blocks: Vec<String>,
    /// `defaultRouteTableId`.
    #[serde(default)]
    pub default_route_table_id: Option<String>,
    /// `defaultSecurityListId`.
    #[serde(default)]
    pub default_security_list_id: Option<String>,
    /// `defaultDhcpOptionsId`.
    #[serde(default)]
    pub default_dhcp_options_id: Option<String>,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `dnsLabel`.
    #[serde(default)]
    pub dns_label: Option<String>,
    /// `vcnDomainName`.
    #[serde(default)]
    pub vcn_domain_name: Option<String>,
    /// `isZprOnly`.
    #[serde(default)]
    pub is_zpr_only: Option<bool>,
    /// `timeCreated`.
    #[serde(default)]
    pub time_created: Option<Timestamp>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defined_tags: DefinedTags,
}

/// Appends `name=value` when the filter is set.
pub(crate) fn push<T: std::fmt::Display>(
    query: &mut Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<&T>,
) {
    if let Some(value) = value {
        query.push((name, value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ip_decodes_with_nulls_and_unknown_state() {
        let json = r#"{
            "id": "ocid1.privateip.oc1.phx.aaa",
            "ipAddress": "10.0.1.7",
            "isPrimary": false,
            "vnicId": "ocid1.vnic.oc1.phx.bbb",
            "subnetId": "ocid1.subnet.oc1.phx.ccc",
            "availabilityDomain": null,
            "ipState": "QUANTUM",
            "lifetime": "EPHEMERAL",
            "timeCreated": "2026-01-02T03:04:05.678Z",
            "freeformTags": null,
            "definedTags": {"ns": {"k": "v"}}
        }"#;

        let ip: PrivateIp = serde_json::from_str(json).unwrap();

        assert_eq!(ip.ip_address, Ipv4Addr::new(10, 0, 1, 7));
        assert_eq!(ip.ip_state, Some(PrivateIpState::Other("QUANTUM".into())));
        assert_eq!(ip.lifetime, Some(PrivateIpLifetime::Ephemeral));
        assert!(ip.freeform_tags.is_empty());
        assert_eq!(ip.defined_tags["ns"]["k"], "v");
    }

    #[test]
    fn create_private_ip_sends_only_what_is_set() {
        let vnic: VnicId = "ocid1.vnic.oc1.phx.bbb".parse().unwrap();
        let details = CreatePrivateIpDetails::on_vnic(vnic)
            .with_ip_address(Ipv4Addr::new(10, 0, 0, 9))
            .with_freeform_tag("oci-ipam/node", "n1");

        let json = serde_json::to_value(&details).unwrap();

        assert_eq!(
            json,
            serde_json::json!({
                "vnicId": "ocid1.vnic.oc1.phx.bbb",
                "ipAddress": "10.0.0.9",
                "freeformTags": {"oci-ipam/node": "n1"}
            })
        );
    }

    #[test]
    fn list_subnets_query_keeps_wire_names() {
        let compartment: CompartmentId = "ocid1.compartment.oc1..x".parse().unwrap();
        let vcn: VcnId = "ocid1.vcn.oc1.phx.y".parse().unwrap();
        let request = ListSubnetsRequest::in_compartment(compartment).in_vcn(vcn);

        assert_eq!(
            request.query(),
            vec![
                ("compartmentId", "ocid1.compartment.oc1..x".to_owned()),
                ("vcnId", "ocid1.vcn.oc1.phx.y".to_owned()),
            ]
        );
    }
}
