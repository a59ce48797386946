//! The operations this client performs, and the rate-limit class each belongs to.

use std::fmt;

/// One OCI operation, named as in OCI's API reference (used in errors, logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /vnics/{vnicId}`.
    GetVnic,
    /// `GET /vnicAttachments`.
    ListVnicAttachments,
    /// `GET /vnicAttachments/{vnicAttachmentId}`.
    GetVnicAttachment,
    /// `POST /vnicAttachments`.
    AttachVnic,
    /// `DELETE /vnicAttachments/{vnicAttachmentId}`.
    DetachVnic,
    /// `POST /privateIps`.
    CreatePrivateIp,
    /// `GET /privateIps/{privateIpId}`.
    GetPrivateIp,
    /// `GET /privateIps`.
    ListPrivateIps,
    /// `PUT /privateIps/{privateIpId}`.
    UpdatePrivateIp,
    /// `DELETE /privateIps/{privateIpId}`.
    DeletePrivateIp,
    /// `POST /ipv6`.
    CreateIpv6,
    /// `GET /ipv6/{ipv6Id}`.
    GetIpv6,
    /// `GET /ipv6`.
    ListIpv6s,
    /// `DELETE /ipv6/{ipv6Id}`.
    DeleteIpv6,
    /// `GET /subnets/{subnetId}`.
    GetSubnet,
    /// `GET /subnets`.
    ListSubnets,
    /// `GET /vcns/{vcnId}`.
    GetVcn,
    /// `GET /instances/{instanceId}`.
    GetInstance,
    /// `GET /shapes`.
    ListShapes,
    /// IMDS `GET /opc/v2/instance/`.
    MetadataInstance,
    /// IMDS `GET /opc/v2/vnics/`.
    MetadataVnics,
    /// IMDS `GET /opc/v2/instance/regionInfo`.
    MetadataRegionInfo,
    /// IMDS `GET /opc/v2/instance/shapeConfig`.
    MetadataShapeConfig,
}

impl Operation {
    /// Every operation, for metrics registration.
    pub const ALL: [Operation; 23] = [
        Operation::GetVnic,
        Operation::ListVnicAttachments,
        Operation::GetVnicAttachment,
        Operation::AttachVnic,
        Operation::DetachVnic,
        Operation::CreatePrivateIp,
        Operation::GetPrivateIp,
        Operation::ListPrivateIps,
        Operation::UpdatePrivateIp,
        Operation::DeletePrivateIp,
        Operation::CreateIpv6,
        Operation::GetIpv6,
        Operation::ListIpv6s,
        Operation::DeleteIpv6,
        Operation::GetSubnet,
        Operation::ListSubnets,
        Operation::GetVcn,
        Operation::GetInstance,
        Operation::ListShapes,
        Operation::MetadataInstance,
        Operation::MetadataVnics,
        Operation::MetadataRegionInfo,
        Operation::MetadataShapeConfig,
    ];

    /// The name OCI's API reference uses (a bounded set: fit for a metric label).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetVnic => "GetVnic",
            Operation::ListVnicAttachments => "ListVnicAttachments",
            Operation::GetVnicAttachment => "GetVnicAttachment",
            Operation::AttachVnic => "AttachVnic",
            Operation::DetachVnic => "DetachVnic",
            Operation::CreatePrivateIp => "CreatePrivateIp",
            Operation::GetPrivateIp => "GetPrivateIp",
            Operation::ListPrivateIps => "ListPrivateIps",
            Operation::UpdatePrivateIp => "UpdatePrivateIp",
            Operation::DeletePrivateIp => "DeletePrivateIp",
            Operation::CreateIpv6 => "CreateIpv6",
            Operation::GetIpv6 => "GetIpv6",
            Operation::ListIpv6s => "ListIpv6s",
            Operation::DeleteIpv6 => "DeleteIpv6",
            Operation::GetSubnet => "GetSubnet",
            Operation::ListSubnets => "ListSubnets",
            Operation::GetVcn => "GetVcn",
            Operation::GetInstance => "GetInstance",
            Operation::ListShapes => "ListShapes",
            Operation::MetadataInstance => "MetadataInstance",
            Operation::MetadataVnics => "MetadataVnics",
            Operation::MetadataRegionInfo => "MetadataRegionInfo",
            Operation::MetadataShapeConfig => "MetadataShapeConfig",
        }
    }

    /// The rate-limit budget this operation draws from.
    #[must_use]
    pub fn class(self) -> OperationClass {
        match self {
            Operation::AttachVnic | Operation::DetachVnic => OperationClass::VnicAttach,
            Operation::CreatePrivateIp
            | Operation::UpdatePrivateIp
            | Operation::DeletePrivateIp
            | Operation::CreateIpv6
            | Operation::DeleteIpv6 => OperationClass::PrivateIpWrite,
            Operation::MetadataInstance
            | Operation::MetadataVnics
            | Operation::MetadataRegionInfo
            | Operation::MetadataShapeConfig => OperationClass::Metadata,
            _ => OperationClass::Read,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rate-limit budget shared by a group of operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OperationClass {
    /// Every Get and List call on the control plane.
    Read,
    /// Creating, moving and deleting private IPs (and IPv6 addresses).
    PrivateIpWrite,
    /// Attaching and detaching VNICs.
    VnicAttach,
    /// The local instance metadata service (not rate limited by this client).
    Metadata,
}

impl OperationClass {
    /// A short label: `read`, `private_ip_write`, `vnic_attach`, `metadata`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            OperationClass::Read => "read",
            OperationClass::PrivateIpWrite => "private_ip_write",
            OperationClass::VnicAttach => "vnic_attach",
            OperationClass::Metadata => "metadata",
        }
    }
}

impl fmt::Display for OperationClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
