//! Request and response types of the OCI Core API (`/20160918`) and the metadata service,
//! with OCI's JSON field names (camelCase on the wire).
//!
//! Response types are `#[non_exhaustive]` and tolerate missing optional fields, `null`
//! collections and unknown enum values (kept as `Other(String)`). Request types are built
//! with a constructor naming the required fields; optional fields are public and can be set
//! afterwards.

mod compute;
mod imds;
pub(crate) mod macros;
mod network;
pub(crate) mod ocid;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

pub use compute::{
    AttachVnicDetails, CreateVnicDetails, Instance, InstanceLifecycleState, InstanceShapeConfig,
    ListShapesRequest, ListVnicAttachmentsRequest, MaxVnicAttachmentOptions, Shape, VnicAttachment,
    VnicAttachmentLifecycleState,
};
pub use imds::{ImdsInstance, ImdsShapeConfig, ImdsVnic, RegionInfo};
pub use network::{
    CreateIpv6Details, CreatePrivateIpDetails, Ipv6, Ipv6LifecycleState, ListIpv6sRequest,
    ListPrivateIpsRequest, ListSubnetsRequest, NetworkLifecycleState, PrivateIp, PrivateIpLifetime,
    PrivateIpState, SortBy, SortOrder, Subnet, UpdatePrivateIpDetails, Vcn, Vnic,
    VnicLifecycleState,
};

macros::ocid_type!(
    /// OCID of a compartment (or of the tenancy, which is the root compartment).
    CompartmentId,
    "compartment"
);
macros::ocid_type!(
    /// OCID of a compute instance.
    InstanceId,
    "instance"
);
macros::ocid_type!(
    /// OCID of a VNIC.
    VnicId,
    "VNIC"
);
macros::ocid_type!(
    /// OCID of a VNIC attachment.
    VnicAttachmentId,
    "VNIC attachment"
);
macros::ocid_type!(
    /// OCID of a private IP object.
    PrivateIpId,
    "private IP"
);
macros::ocid_type!(
    /// OCID of an IPv6 object.
    Ipv6Id,
    "IPv6"
);
macros::ocid_type!(
    /// OCID of a subnet.
    SubnetId,
    "subnet"
);
macros::ocid_type!(
    /// OCID of a virtual cloud network.
    VcnId,
    "VCN"
);

/// Free-form tags: `{"key": "value"}`.
pub type FreeformTags = BTreeMap<String, String>;

/// Defined tags: `{"namespace": {"key": value}}`.
pub type DefinedTags = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// One page of a list call: the items and the `opc-next-page` token, if more pages exist.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page (possibly fewer than the requested limit).
    pub items: Vec<T>,
    /// The value of `opc-next-page`; `None` on the last page.
    pub next_page: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items` followed by `next_page`.
    #[must_use]
    pub fn new(items: Vec<T>, next_page: Option<String>) -> Self {
        Self { items, next_page }
    }
}

/// Decodes a field that OCI may send as `null` or omit as the type's default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `skip_serializing_if` helper for empty maps and vectors in request bodies.
pub(crate) fn is_empty<T>(value: &T) -> bool
where
    for<'a> &'a T: IntoIterator,
{
    value.into_iter().next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocid_parses_and_round_trips() {
        let id: VnicId = "ocid1.vnic.oc1.phx.abc".parse().unwrap();

        assert_eq!(id.to_string(), "ocid1.vnic.oc1.phx.abc");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"ocid1.vnic.oc1.phx.abc\""
        );
        assert_eq!(
            serde_json::from_str::<VnicId>("\"ocid1.vnic.oc1.phx.abc\"").unwrap(),
            id
        );
    }

    #[test]
    fn ocid_rejects_garbage_naming_the_kind() {
        let err = "vnic-1".parse::<VnicId>().unwrap_err();

        assert!(err.to_string().contains("VNIC"), "{err}");
        assert!(serde_json::from_str::<SubnetId>("\"ocid1.subnet.oc1 x\"").is_err());
        assert!(serde_json::from_str::<SubnetId>("\"\"").is_err());
    }

    #[test]
    fn open_enum_keeps_unknown_values() {
        let known: VnicAttachmentLifecycleState = serde_json::from_str("\"ATTACHED\"").unwrap();
        let unknown: VnicAttachmentLifecycleState = serde_json::from_str("\"MELTING\"").unwrap();

        assert_eq!(known, VnicAttachmentLifecycleState::Attached);
        assert_eq!(
            unknown,
            VnicAttachmentLifecycleState::Other("MELTING".into())
        );
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"MELTING\"");
    }
}
