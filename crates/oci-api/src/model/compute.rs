//! Compute models: VNIC attachments, instances and shapes.

use std::net::Ipv4Addr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::macros::open_enum;
use super::network::push;
use super::{
    CompartmentId, DefinedTags, FreeformTags, InstanceId, SubnetId, VnicAttachmentId, VnicId,
    is_empty, null_as_default,
};

open_enum!(
    /// `VnicAttachment.lifecycleState`.
    VnicAttachmentLifecycleState {
        /// `ATTACHING`: the VNIC is being created; `vnicId` is still null.
        Attaching => "ATTACHING",
        /// `ATTACHED`: `vnicId` and `vlanTag` are filled.
        Attached => "ATTACHED",
        /// `DETACHING`
        Detaching => "DETACHING",
        /// `DETACHED`: gone (also the outcome of a failed attach).
        Detached => "DETACHED",
    }
);

open_enum!(
    /// `Instance.lifecycleState`.
    InstanceLifecycleState {
        /// `MOVING`
        Moving => "MOVING",
        /// `PROVISIONING`
        Provisioning => "PROVISIONING",
        /// `RUNNING`
        Running => "RUNNING",
        /// `STARTING`
        Starting => "STARTING",
        /// `STOPPING`
        Stopping => "STOPPING",
        /// `STOPPED`
        Stopped => "STOPPED",
        /// `CREATING_IMAGE`
        CreatingImage => "CREATING_IMAGE",
        /// `TERMINATING`
        Terminating => "TERMINATING",
        /// `TERMINATED`
        Terminated => "TERMINATED",
    }
);

/// A VNIC attachment (ListVnicAttachments, GetVnicAttachment, AttachVnic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VnicAttachment {
    /// `id`.
    pub id: VnicAttachmentId,
    /// `availabilityDomain`.
    pub availability_domain: String,
    /// `compartmentId` (the instance's compartment).
    pub compartment_id: CompartmentId,
    /// `instanceId`.
    pub instance_id: InstanceId,
    /// `lifecycleState`.
    pub lifecycle_state: VnicAttachmentLifecycleState,
    /// `timeCreated`.
    pub time_created: Timestamp,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `nicIndex`: the physical NIC (bare metal).
    #[serde(default)]
    pub nic_index: Option<u32>,
    /// `subnetId`.
    #[serde(default)]
    pub subnet_id: Option<SubnetId>,
    /// `vlanId`.
    #[serde(default)]
    pub vlan_id: Option<String>,
    /// `vlanTag`: filled once attached.
    #[serde(default)]
    pub vlan_tag: Option<u32>,
    /// `vnicId`: filled once attached.
    #[serde(default)]
    pub vnic_id: Option<VnicId>,
}

/// Body of AttachVnic (`AttachVnicDetails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AttachVnicDetails {
    /// `createVnicDetails`.
    pub create_vnic_details: CreateVnicDetails,
    /// `instanceId`.
    pub instance_id: InstanceId,
    /// `displayName` of the attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `nicIndex` (bare metal with two NICs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic_index: Option<u32>,
}

impl AttachVnicDetails {
    /// Attaches a new VNIC described by `vnic` to `instance`.
    #[must_use]
    pub fn new(instance: InstanceId, vnic: CreateVnicDetails) -> Self {
        Self {
            create_vnic_details: vnic,
            instance_id: instance,
            display_name: None,
            nic_index: None,
        }
    }
}

/// `createVnicDetails` of AttachVnic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateVnicDetails {
    /// `subnetId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<SubnetId>,
    /// `assignPublicIp`: [`CreateVnicDetails::in_subnet`] sets `false`, since OCI's default
    /// follows the subnet and a VM holds only two ephemeral public IPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<bool>,
    /// `assignPrivateDnsRecord`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_private_dns_record: Option<bool>,
    /// `skipSourceDestCheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_source_dest_check: Option<bool>,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `hostnameLabel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_label: Option<String>,
    /// `nsgIds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsg_ids: Option<Vec<String>>,
    /// `privateIp`: the VNIC's primary address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<Ipv4Addr>,
    /// `subnetCidr`: which block of a multi-CIDR subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_cidr: Option<String>,
    /// `assignIpv6Ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_ipv6_ip: Option<bool>,
    /// `freeformTags`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub defined_tags: DefinedTags,
}

impl CreateVnicDetails {
    /// A VNIC in `subnet` with no public IP.
    #[must_use]
    pub fn in_subnet(subnet: SubnetId) -> Self {
        Self {
            subnet_id: Some(subnet),
            assign_public_ip: Some(false),
            ..Self::default()
        }
    }

    /// Adds a free-form tag.
    #[must_use]
    pub fn with_freeform_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.freeform_tags.insert(key.into(), value.into());
        self
    }
}

/// Filters of ListVnicAttachments.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListVnicAttachmentsRequest {
    /// `compartmentId` (required): the **instance's** compartment.
    pub compartment_id: CompartmentId,
    /// `availabilityDomain`.
    pub availability_domain: Option<String>,
    /// `instanceId`.
    pub instance_id: Option<InstanceId>,
    /// `vnicId`.
    pub vnic_id: Option<VnicId>,
    /// `limit`.
    pub limit: Option<u32>,
}

impl ListVnicAttachmentsRequest {
    /// Every attachment in `compartment`.
    #[must_use]
    pub fn in_compartment(compartment: CompartmentId) -> Self {
        Self {
            compartment_id: compartment,
            availability_domain: None,
            instance_id: None,
            vnic_id: None,
            limit: None,
        }
    }

    /// The attachments of one instance (in the instance's compartment).
    #[must_use]
    pub fn of_instance(compartment: CompartmentId, instance: InstanceId) -> Self {
        Self {
            instance_id: Some(instance),
            ..Self::in_compartment(compartment)
        }
    }

    /// Sets the page size.
    #[must_use]
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("compartmentId", self.compartment_id.to_string())];
        push(
            &mut query,
            "availabilityDomain",
            self.availability_domain.as_ref(),
        );
        push(&mut query, "instanceId", self.instance_id.as_ref());
        push(&mut query, "vnicId", self.vnic_id.as_ref());
        query
    }
}

/// A compute instance (GetInstance), selected fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Instance {
    /// `id`.
    pub id: InstanceId,
    /// `availabilityDomain`.
    pub availability_domain: String,
    /// `compartmentId`.
    pub compartment_id: CompartmentId,
    /// `lifecycleState`.
    pub lifecycle_state: InstanceLifecycleState,
    /// `region`: a short code (`phx`, `iad`) for the oldest regions, a full name elsewhere.
    pub region: String,
    /// `shape`.
    pub shape: String,
    /// `timeCreated`.
    pub time_created: Timestamp,
    /// `shapeConfig`: the per-instance VNIC cap for flex shapes lives here.
    #[serde(default)]
    pub shape_config: Option<InstanceShapeConfig>,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `faultDomain`.
    #[serde(default)]
    pub fault_domain: Option<String>,
    /// `freeformTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub freeform_tags: FreeformTags,
    /// `definedTags`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defined_tags: DefinedTags,
}

/// `Instance.shapeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InstanceShapeConfig {
    /// `ocpus`.
    #[serde(default)]
    pub ocpus: Option<f64>,
    /// `vcpus`.
    #[serde(default)]
    pub vcpus: Option<u32>,
    /// `memoryInGBs`.
    #[serde(default, rename = "memoryInGBs")]
    pub memory_in_gbs: Option<f64>,
    /// `maxVnicAttachments`: the authoritative VNIC cap of this instance.
    #[serde(default)]
    pub max_vnic_attachments: Option<u32>,
    /// `networkingBandwidthInGbps`.
    #[serde(default)]
    pub networking_bandwidth_in_gbps: Option<f64>,
}

/// Query of ListShapes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListShapesRequest {
    /// `compartmentId` (required).
    pub compartment_id: CompartmentId,
    /// `availabilityDomain`.
    pub availability_domain: Option<String>,
    /// `shape`: one shape by name.
    pub shape: Option<String>,
    /// `limit`.
    pub limit: Option<u32>,
}

impl ListShapesRequest {
    /// The shapes available in `compartment`.
    #[must_use]
    pub fn in_compartment(compartment: CompartmentId) -> Self {
        Self {
            compartment_id: compartment,
            availability_domain: None,
            shape: None,
            limit: None,
        }
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("compartmentId", self.compartment_id.to_string())];
        push(
            &mut query,
            "availabilityDomain",
            self.availability_domain.as_ref(),
        );
        push(&mut query, "shape", self.shape.as_ref());
        query
    }
}

/// A shape (ListShapes), selected fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Shape {
    /// `shape`: the name, e.g. `VM.Standard.E4.Flex`.
    pub shape: String,
    /// `ocpus`.
    #[serde(default)]
    pub ocpus: Option<f64>,
    /// `memoryInGBs`.
    #[serde(default, rename = "memoryInGBs")]
    pub memory_in_gbs: Option<f64>,
    /// `networkingBandwidthInGbps`.
    #[serde(default)]
    pub networking_bandwidth_in_gbps: Option<f64>,
    /// `maxVnicAttachments`: for flex shapes this is the value at 1 OCPU, not the cap.
    #[serde(default)]
    pub max_vnic_attachments: Option<u32>,
    /// `maxVnicAttachmentOptions`: null for fixed shapes.
    #[serde(default)]
    pub max_vnic_attachment_options: Option<MaxVnicAttachmentOptions>,
    /// `isFlexible`.
    #[serde(default)]
    pub is_flexible: Option<bool>,
    /// `billingType`.
    #[serde(default)]
    pub billing_type: Option<String>,
}

/// `Shape.maxVnicAttachmentOptions`: VNICs = clamp(ocpus × `defaultPerOcpu`, `min`, `max`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MaxVnicAttachmentOptions {
    /// `min`.
    #[serde(default)]
    pub min: Option<u32>,
    /// `max`.
    #[serde(default)]
    pub max: Option<f64>,
    /// `defaultPerOcpu`.
    #[serde(default)]
    pub default_per_ocpu: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_details_carry_no_public_ip_and_wire_names() {
        let subnet: SubnetId = "ocid1.subnet.oc1.phx.s".parse().unwrap();
        let instance: InstanceId = "ocid1.instance.oc1.phx.i".parse().unwrap();
        let details = AttachVnicDetails::new(instance, CreateVnicDetails::in_subnet(subnet));

        let json = serde_json::to_value(&details).unwrap();

        assert_eq!(
            json,
            serde_json::json!({
                "createVnicDetails": {
                    "subnetId": "ocid1.subnet.oc1.phx.s",
                    "assignPublicIp": false
                },
                "instanceId": "ocid1.instance.oc1.phx.i"
            })
        );
    }

    #[test]
    fn shape_decodes_flex_options() {
        let json = r#"{"shape": "VM.Standard.E4.Flex", "ocpus": 1.0, "memoryInGBs": 16.0,
            "maxVnicAttachments": 2, "isFlexible": true,
            "maxVnicAttachmentOptions": {"min": 2, "max": 24.0, "defaultPerOcpu": 1.0}}"#;

        let shape: Shape = serde_json::from_str(json).unwrap();

        assert_eq!(shape.memory_in_gbs, Some(16.0));
        assert_eq!(shape.max_vnic_attachment_options.unwrap().max, Some(24.0));
    }
}
