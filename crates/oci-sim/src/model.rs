//! Resources of the simulated tenancy and how each renders as OCI JSON.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use serde_json::Value;
use serde_json::json;

use crate::clock::rfc3339;
use crate::world::Cidr;

/// Free-form tags.
pub(crate) type Tags = BTreeMap<String, String>;

/// Defined tags (namespace → key → value), kept verbatim.
pub(crate) type DefinedTags = BTreeMap<String, BTreeMap<String, Value>>;

/// Lifecycle of a VNIC attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentState {
    /// Created, not yet usable.
    Attaching,
    /// Usable; `vnicId` and `vlanTag` are set.
    Attached,
    /// Being removed.
    Detaching,
    /// Gone (removed, or failed to attach).
    Detached,
}

impl AttachmentState {
    /// The OCI spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentState::Attaching => "ATTACHING",
            AttachmentState::Attached => "ATTACHED",
            AttachmentState::Detaching => "DETACHING",
            AttachmentState::Detached => "DETACHED",
        }
    }
}

/// Lifecycle of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InstanceState {
    Running,
    Terminated,
}

impl InstanceState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InstanceState::Running => "RUNNING",
            InstanceState::Terminated => "TERMINATED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Vcn {
    pub(crate) id: String,
    pub(crate) compartment_id: String,
    pub(crate) display_name: String,
    pub(crate) cidr_blocks: Vec<String>,
    pub(crate) dns_label: Option<String>,
    pub(crate) time_created: SystemTime,
    pub(crate) etag: String,
}

impl Vcn {
    pub(crate) fn to_wire(&self, region_key: &str) -> Value {
        let short = region_key.to_lowercase();
        json!({
            "id": self.id,
            "compartmentId": self.compartment_id,
            "cidrBlock": self.cidr_blocks.first(),
            "cidrBlocks": self.cidr_blocks,
            "ipv6CidrBlocks": [],
            "ipv6PrivateCidrBlocks": [],
            "byoipv6CidrBlocks": [],
            "defaultRouteTableId":
                format!("ocid1.routetable.oc1.{short}.default-{}", tail(&self.id)),
            "defaultSecurityListId":
                format!("ocid1.securitylist.oc1.{short}.default-{}", tail(&self.id)),
            "defaultDhcpOptionsId":
                format!("ocid1.dhcpoptions.oc1.{short}.default-{}", tail(&self.id)),
            "displayName": self.display_name,
            "dnsLabel": self.dns_label,
            "vcnDomainName": self.dns_label.as_ref().map(|l| format!("{l}.oraclevcn.com")),
            "lifecycleState": "AVAILABLE",
            "isZprOnly": false,
            "timeCreated": rfc3339(self.time_created),
            "freeformTags": {},
            "definedTags": {},
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Subnet {
    pub(crate) id: String,
    pub(crate) vcn_id: String,
    pub(crate) compartment_id: String,
    pub(crate) cidr: Cidr,
    pub(crate) availability_domain: Option<String>,
    pub(crate) display_name: String,
    pub(crate) dns_label: Option<String>,
    pub(crate) freeform_tags: Tags,
    pub(crate) time_created: SystemTime,
    pub(crate) seq: u64,
    pub(crate) etag: String,
    /// Addresses in use (private IPs of every kind), as integers.
    pub(crate) used: std::collections::BTreeSet<u32>,
    /// The IPv6 /64 network, if the subnet has one.
    pub(crate) ipv6: Option<u128>,
    /// IPv6 addresses in use.
    pub(crate) used6: std::collections::BTreeSet<u128>,
}

impl Subnet {
    pub(crate) fn to_wire(&self, region_key: &str) -> Value {
        let short = region_key.to_lowercase();
        let vcn_tail = tail(&self.vcn_id);
        json!({
            "id": self.id,
            "compartmentId": self.compartment_id,
            "vcnId": self.vcn_id,
            "availabilityDomain": self.availability_domain,
            "cidrBlock": self.cidr.to_string(),
            "ipv4CidrBlocks": [self.cidr.to_string()],
            "ipv6CidrBlock": self.ipv6_block(),
            "ipv6CidrBlocks": self.ipv6_block().into_iter().collect::<Vec<_>>(),
            "ipv6VirtualRouterIp": self.ipv6.map(|n| std::net::Ipv6Addr::from(n + 1).to_string()),
            "displayName": self.display_name,
            "dnsLabel": self.dns_label,
            "subnetDomainName": self.dns_label.as_ref().map(|l| format!("{l}.vcn.oraclevcn.com")),
            "routeTableId": format!("ocid1.routetable.oc1.{short}.default-{vcn_tail}"),
            "securityListIds": [format!("ocid1.securitylist.oc1.{short}.default-{vcn_tail}")],
            "dhcpOptionsId": format!("ocid1.dhcpoptions.oc1.{short}.default-{vcn_tail}"),
            "virtualRouterIp": self.cidr.router().to_string(),
            "virtualRouterMac": "00:00:17:00:00:01",
            "prohibitInternetIngress": true,
            "prohibitPublicIpOnVnic": true,
            "lifecycleState": "AVAILABLE",
            "timeCreated": rfc3339(self.time_created),
            "freeformTags": self.freeform_tags,
            "definedTags": {},
        })
    }

    /// The IPv6 prefix as text.
    pub(crate) fn ipv6_block(&self) -> Option<String> {
        self.ipv6
            .map(|n| format!("{}/64", std::net::Ipv6Addr::from(n)))
    }

    /// The lowest free IPv6 address, skipping the first and last four OCI reserves.
    pub(crate) fn first_free6(&self) -> Option<u128> {
        let network = self.ipv6?;
        let last = network + ((1u128 << 64) - 1) - 4;
        let mut candidate = network + 4;
        for used in self.used6.range(candidate..) {
            if *used != candidate {
                break;
            }
            candidate += 1;
        }
        (candidate <= last).then_some(candidate)
    }

    /// Whether `addr` is one of the eight IPv6 addresses OCI reserves.
    pub(crate) fn is_reserved6(&self, addr: u128) -> bool {
        self.ipv6.is_none_or(|n| {
            let offset = addr.wrapping_sub(n);
            !(4..=(1u128 << 64) - 5).contains(&offset)
        })
    }

    /// Whether `addr` lies in the subnet's /64.
    pub(crate) fn contains6(&self, addr: u128) -> bool {
        self.ipv6.is_some_and(|n| addr >> 64 == n >> 64)
    }

    /// Usable addresses: size minus the three OCI reserves.
    pub(crate) fn capacity(&self) -> u64 {
        self.cidr.size().saturating_sub(3)
    }

    /// The lowest free, unreserved address.
    pub(crate) fn first_free(&self) -> Option<u32> {
        let first = self.cidr.network + 2;
        let last = self.cidr.broadcast().checked_sub(1)?;
        (first..=last).find(|a| !self.used.contains(a))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) compartment_id: String,
    pub(crate) display_name: String,
    pub(crate) shape: String,
    pub(crate) ocpus: f64,
    pub(crate) memory_gbs: f64,
    pub(crate) max_vnics: u32,
    pub(crate) availability_domain: String,
    pub(crate) fault_domain: String,
    pub(crate) state: InstanceState,
    pub(crate) freeform_tags: Tags,
    pub(crate) time_created: SystemTime,
    pub(crate) etag: String,
}

impl Instance {
    pub(crate) fn shape_config(&self) -> Value {
        json!({
            "ocpus": self.ocpus,
            "vcpus": (self.ocpus * 2.0) as u64,
            "memoryInGBs": self.memory_gbs,
            "maxVnicAttachments": self.max_vnics,
            "networkingBandwidthInGbps": self.ocpus,
            "baselineOcpuUtilization": null,
            "gpus": 0,
            "localDisks": 0,
        })
    }

    pub(crate) fn to_wire(&self, region_key: &str) -> Value {
        json!({
            "id": self.id,
            "compartmentId": self.compartment_id,
            "displayName": self.display_name,
            "shape": self.shape,
            "shapeConfig": self.shape_config(),
            "region": region_key.to_lowercase(),
            "availabilityDomain": self.availability_domain,
            "faultDomain": self.fault_domain,
            "lifecycleState": self.state.as_str(),
            "timeCreated": rfc3339(self.time_created),
            "imageId": "ocid1.image.oc1..simimage",
            "metadata": {},
            "extendedMetadata": {},
            "freeformTags": self.freeform_tags,
            "definedTags": {},
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Attachment {
    pub(crate) id: String,
    pub(crate) compartment_id: String,
    pub(crate) availability_domain: String,
    pub(crate) instance_id: String,
    pub(crate) subnet_id: String,
    pub(crate) display_name: Option<String>,
    pub(crate) nic_index: u32,
    pub(crate) vlan_tag: u32,
    pub(crate) vnic_id: String,
    pub(crate) state: AttachmentState,
    pub(crate) ready_at: SystemTime,
    pub(crate) fails: bool,
    pub(crate) is_primary: bool,
    pub(crate) time_created: SystemTime,
    pub(crate) seq: u64,
    pub(crate) etag: String,
}

impl Attachment {
    pub(crate) fn to_wire(&self) -> Value {
        let attached = self.state == AttachmentState::Attached;
        json!({
            "id": self.id,
            "compartmentId": self.compartment_id,
            "availabilityDomain": self.availability_domain,
            "instanceId": self.instance_id,
            "subnetId": self.subnet_id,
            "displayName": self.display_name,
            "nicIndex": self.nic_index,
            "vlanId": null,
            "vlanTag": if attached { Some(self.vlan_tag) } else { None },
            "vnicId": if attached { Some(&self.vnic_id) } else { None },
            "lifecycleState": self.state.as_str(),
            "timeCreated": rfc3339(self.time_created),
        })
    }
}

/// Lifecycle of a VNIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VnicState {
    Provisioning,
    Available,
    Terminating,
}

impl VnicState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VnicState::Provisioning => "PROVISIONING",
            VnicState::Available => "AVAILABLE",
            VnicState::Terminating => "TERMINATING",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Vnic {
    pub(crate) id: String,
    pub(crate) compartment_id: String,
    pub(crate) availability_domain: String,
    pub(crate) subnet_id: String,
    pub(crate) instance_id: String,
    pub(crate) attachment_id: String,
    pub(crate) is_primary: bool,
    pub(crate) mac: String,
    pub(crate) display_name: String,
    pub(crate) hostname_label: Option<String>,
    pub(crate) skip_source_dest_check: bool,
    pub(crate) nsg_ids: Vec<String>,
    pub(crate) state: VnicState,
    pub(crate) freeform_tags: Tags,
    pub(crate) defined_tags: DefinedTags,
    pub(crate) time_created: SystemTime,
    pub(crate) etag: String,
}

impl Vnic {
    pub(crate) fn to_wire(&self, primary_ip: Option<Ipv4Addr>, ipv6: Vec<String>) -> Value {
        json!({
            "id": self.id,
            "availabilityDomain": self.availability_domain,
            "compartmentId": self.compartment_id,
            "displayName": self.display_name,
            "hostnameLabel": self.hostname_label,
            "isPrimary": self.is_primary,
            "macAddress": self.mac,
            "nsgIds": self.nsg_ids,
            "privateIp": primary_ip.map(|ip| ip.to_string()),
            "publicIp": null,
            "skipSourceDestCheck": self.skip_source_dest_check,
            "subnetId": self.subnet_id,
            "vlanId": null,
            "ipv6Addresses": ipv6,
            "routeTableId": null,
            "lifecycleState": self.state.as_str(),
            "timeCreated": rfc3339(self.time_created),
            "freeformTags": self.freeform_tags,
            "definedTags": self.defined_tags,
            "systemTags": {},
        })
    }
}

/// Lifetime of a private IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifetime {
    Ephemeral,
    Reserved,
}

impl Lifetime {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Lifetime::Ephemeral => "EPHEMERAL",
            Lifetime::Reserved => "RESERVED",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "EPHEMERAL" => Some(Lifetime::Ephemeral),
            "RESERVED" => Some(Lifetime::Reserved),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PrivateIp {
    pub(crate) id: String,
    pub(crate) address: Ipv4Addr,
    pub(crate) subnet_id: String,
    pub(crate) vnic_id: Option<String>,
    pub(crate) is_primary: bool,
    pub(crate) compartment_id: String,
    pub(crate) availability_domain: Option<String>,
    pub(crate) display_name: String,
    pub(crate) hostname_label: Option<String>,
    pub(crate) lifetime: Lifetime,
    pub(crate) freeform_tags: Tags,
    pub(crate) defined_tags: DefinedTags,
    pub(crate) time_created: SystemTime,
    pub(crate) seq: u64,
    pub(crate) etag: String,
}

impl PrivateIp {
    pub(crate) fn ip_state(&self) -> &'static str {
        if self.vnic_id.is_some() {
            "ASSIGNED"
        } else {
            "AVAILABLE"
        }
    }

    pub(crate) fn to_wire(&self, subnet_cidr: Option<&Cidr>) -> Value {
        json!({
            "id": self.id,
            "ipAddress": self.address.to_string(),
            "cidrPrefixLength": null,
            "isPrimary": self.is_primary,
            "isReserved": self.lifetime == Lifetime::Reserved,
            "vnicId": self.vnic_id,
            "subnetId": self.subnet_id,
            "availabilityDomain": self.availability_domain,
            "compartmentId": self.compartment_id,
            "displayName": self.display_name,
            "hostnameLabel": self.hostname_label,
            "ipState": self.ip_state(),
            "lifetime": self.lifetime.as_str(),
            "routeTableId": null,
            "vlanId": null,
            "ipv4SubnetCidrAtCreation": subnet_cidr.map(|c| c.to_string()),
            "timeCreated": rfc3339(self.time_created),
            "freeformTags": self.freeform_tags,
            "definedTags": self.defined_tags,
        })
    }
}

/// An IPv6 address on a VNIC (or reserved in a subnet).
#[derive(Clone, Debug)]
pub(crate) struct Ipv6 {
    pub(crate) id: String,
    pub(crate) address: std::net::Ipv6Addr,
    pub(crate) subnet_id: String,
    pub(crate) vnic_id: Option<String>,
    pub(crate) compartment_id: String,
    pub(crate) display_name: String,
    pub(crate) lifetime: Lifetime,
    pub(crate) freeform_tags: Tags,
    pub(crate) defined_tags: DefinedTags,
    pub(crate) time_created: SystemTime,
    pub(crate) seq: u64,
    pub(crate) etag: String,
}

impl Ipv6 {
    pub(crate) fn ip_state(&self) -> &'static str {
        if self.vnic_id.is_some() {
            "ASSIGNED"
        } else {
            "AVAILABLE"
        }
    }

    pub(crate) fn to_wire(&self) -> Value {
        json!({
            "id": self.id,
            "ipAddress": self.address.to_string(),
            "cidrPrefixLength": null,
            "vnicId": self.vnic_id,
            "subnetId": self.subnet_id,
            "compartmentId": self.compartment_id,
            "displayName": self.display_name,
            "lifecycleState": "AVAILABLE",
            "ipState": self.ip_state(),
            "lifetime": self.lifetime.as_str(),
            "routeTableId": null,
            "timeCreated": rfc3339(self.time_created),
            "freeformTags": self.freeform_tags,
            "definedTags": self.defined_tags,
        })
    }
}

/// The last dot-separated part of an OCID, to derive related OCIDs from it.
pub(crate) fn tail(ocid: &str) -> &str {
    ocid.rsplit('.').next().unwrap_or(ocid)
}
