//! Capacity answers: the VNIC limit of an instance, and what a node can hold under a policy.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Ocpus, ShapeName, lookup};

/// The kubelet's default `maxPods`, the usual ceiling on pods per node.
pub const DEFAULT_KUBELET_MAX_PODS: u32 = 110;

/// How many VNICs an instance may attach, and where that number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VnicLimit {
    /// VNIC attachments the instance may have, the primary VNIC included.
    pub max_vnics: u32,
    /// Where the number came from.
    pub source: VnicLimitSource,
}

/// Where a [`VnicLimit`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VnicLimitSource {
    /// The instance's own `shapeConfig.maxVnicAttachments`.
    Instance,
    /// The built-in shape table.
    ShapeTable,
}

/// The VNIC limit of an instance, preferring the instance's own `maxVnicAttachments`.
///
/// `instance_max` is `shapeConfig.maxVnicAttachments` from GetInstance or the metadata
/// service; when given it wins, because it is what OCI enforces. Otherwise the shape table
/// answers, using `ocpus` for flex shapes.
///
/// # Errors
///
/// [`Error::LookupShape`] when the shape is not in the table and no instance value was given;
/// [`Error::ResolveVnicLimit`] when the table cannot answer for these OCPUs.
pub fn vnic_limit(
    shape: &ShapeName,
    ocpus: Option<Ocpus>,
    instance_max: Option<u32>,
) -> Result<VnicLimit, Error> {
    if let Some(max_vnics) = instance_max {
        return Ok(VnicLimit {
            max_vnics,
            source: VnicLimitSource::Instance,
        });
    }

    let spec = lookup(shape).ok_or_else(|| Error::LookupShape {
        shape: shape.to_string(),
    })?;
    let max_vnics = spec.max_vnics(ocpus)?;
    Ok(VnicLimit {
        max_vnics,
        source: VnicLimitSource::ShapeTable,
    })
}

/// Secondary private IPs one VNIC may hold: 1 to 64, 31 by default.
///
/// OCI's limit depends on the tenancy (64 for Universal Credits, 32 for Pay As You Go and
/// trials, 31 in older documentation and in OKE's own sizing), so it is a policy value with
/// the safe default.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpsPerVnic(u8);

// === impl IpsPerVnic ===

impl IpsPerVnic {
    /// The safe default, 31, which every tenancy accepts.
    pub const DEFAULT: Self = Self(31);

    /// The largest value OCI documents, 64.
    pub const MAX: Self = Self(64);

    /// A validated value.
    ///
    /// # Errors
    ///
    /// [`Error::ParseIpsPerVnic`] unless `value` is between 1 and 64.
    pub fn new(value: u32) -> Result<Self, Error> {
        match u8::try_from(value) {
            Ok(small) if (1..=64).contains(&small) => Ok(Self(small)),
            _ => Err(Error::ParseIpsPerVnic {
                value: value.to_string(),
            }),
        }
    }

    /// The value as a number.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for IpsPerVnic {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for IpsPerVnic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for IpsPerVnic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for IpsPerVnic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for IpsPerVnic {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u32::deserialize(deserializer)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for IpsPerVnic {
    fn schema_name() -> Cow<'static, str> {
        "IpsPerVnic".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "description": "Secondary private IPs per VNIC (31 safe default; 32 or 64 by tenancy).",
            "minimum": 1,
            "maximum": 64,
        })
    }
}

/// Whether more VNICs may be attached to a node beyond the ones it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SecondaryVnics {
    /// Attach VNICs while the instance allows more.
    #[default]
    Attach,
    /// Never attach; use only the VNICs the node has.
    Never,
}

/// The policy values that decide how much of an instance's VNIC limit pods can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapacityPolicy {
    /// Secondary addresses per VNIC.
    pub ips_per_vnic: IpsPerVnic,
    /// VNICs with a lower index carry no pod addresses (0: the primary VNIC is used too;
    /// 1: Oracle's OKE model, pods only on secondary VNICs).
    pub first_vnic_index: u32,
    /// Whether VNICs beyond the primary may be attached.
    pub secondary_vnics: SecondaryVnics,
    /// The kubelet's pod limit, the last cap on pods per node.
    pub kubelet_max_pods: u32,
}

// === impl CapacityPolicy ===

impl CapacityPolicy {
    /// The policy with `ips_per_vnic` secondary addresses per VNIC.
    #[must_use]
    pub fn with_ips_per_vnic(self, ips_per_vnic: IpsPerVnic) -> Self {
        Self {
            ips_per_vnic,
            ..self
        }
    }

    /// The policy with pods using VNICs from index `first_vnic_index` on.
    #[must_use]
    pub fn with_first_vnic_index(self, first_vnic_index: u32) -> Self {
        Self {
            first_vnic_index,
            ..self
        }
    }

    /// The policy with the given secondary-VNIC mode.
    #[must_use]
    pub fn with_secondary_vnics(self, secondary_vnics: SecondaryVnics) -> Self {
        Self {
            secondary_vnics,
            ..self
        }
    }

    /// The policy with the kubelet's pod limit set to `kubelet_max_pods`.
    #[must_use]
    pub fn with_kubelet_max_pods(self, kubelet_max_pods: u32) -> Self {
        Self {
            kubelet_max_pods,
            ..self
        }
    }
}

impl Default for CapacityPolicy {
    fn default() -> Self {
        Self {
            ips_per_vnic: IpsPerVnic::DEFAULT,
            first_vnic_index: 0,
            secondary_vnics: SecondaryVnics::Attach,
            kubelet_max_pods: DEFAULT_KUBELET_MAX_PODS,
        }
    }
}

/// What a node with a given VNIC limit can hold when all its VNICs are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeCapacity {
    /// VNIC attachments the instance allows.
    pub max_vnics: u32,
    /// Of those, the VNICs whose secondary addresses pods may use.
    pub pod_vnics: u32,
    /// Pod addresses the node can hold: `pod_vnics × ips_per_vnic`.
    pub max_addresses: u32,
    /// Pods the node can run: addresses, capped by the kubelet's limit.
    pub max_pods: u32,
}

/// The capacity of a node whose instance may attach `max_vnics` VNICs, under `policy`.
///
/// This is the ceiling when VNICs occupy indexes `0..max_vnics`; with
/// [`SecondaryVnics::Never`] only the primary VNIC (index 0) is counted.
pub fn capacity(max_vnics: u32, policy: &CapacityPolicy) -> NodeCapacity {
    let attachable = match policy.secondary_vnics {
        SecondaryVnics::Attach => max_vnics,
        SecondaryVnics::Never => max_vnics.min(1),
    };
    let pod_vnics = attachable.saturating_sub(policy.first_vnic_index);
    let max_addresses = pod_vnics.saturating_mul(policy.ips_per_vnic.get());

    NodeCapacity {
        max_vnics,
        pod_vnics,
        max_addresses,
        max_pods: max_addresses.min(policy.kubelet_max_pods),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str) -> ShapeName {
        name.parse().unwrap()
    }

    #[test]
    fn the_instance_value_wins_over_the_table() {
        let limit = vnic_limit(&shape("VM.Standard.E4.Flex"), None, Some(7)).unwrap();
        assert_eq!(
            limit,
            VnicLimit {
                max_vnics: 7,
                source: VnicLimitSource::Instance
            }
        );

        // Even for a shape the table does not know.
        let limit = vnic_limit(&shape("VM.Future.Z1.Flex"), None, Some(3)).unwrap();
        assert_eq!(limit.max_vnics, 3);
    }

    #[test]
    fn an_unknown_shape_is_an_error_naming_it() {
        let err = vnic_limit(&shape("VM.Future.Z1.Flex"), None, None).unwrap_err();
        assert_eq!(
            err,
            Error::LookupShape {
                shape: "VM.Future.Z1.Flex".to_owned()
            }
        );
        assert!(err.to_string().contains("`VM.Future.Z1.Flex`"));
    }

    #[test]
    fn the_e4_flex_two_ocpu_example_from_the_spec() {
        // 2 VNICs; 31 pods in Oracle's OKE model, 62 when the primary VNIC carries pods too.
        let ocpus = Ocpus::new(2.0).unwrap();
        let limit = vnic_limit(&shape("VM.Standard.E4.Flex"), Some(ocpus), None).unwrap();
        assert_eq!(limit.source, VnicLimitSource::ShapeTable);

        let oke = CapacityPolicy {
            first_vnic_index: 1,
            ..CapacityPolicy::default()
        };
        assert_eq!(capacity(limit.max_vnics, &oke).max_pods, 31);
        assert_eq!(
            capacity(limit.max_vnics, &CapacityPolicy::default()).max_pods,
            62
        );

        let big = CapacityPolicy {
            ips_per_vnic: IpsPerVnic::MAX,
            ..CapacityPolicy::default()
        };
        let node = capacity(limit.max_vnics, &big);
        assert_eq!((node.max_addresses, node.max_pods), (128, 110));
    }

    #[test]
    fn never_attaching_counts_only_the_primary_vnic() {
        let policy = CapacityPolicy {
            secondary_vnics: SecondaryVnics::Never,
            ..CapacityPolicy::default()
        };
        assert_eq!(capacity(24, &policy).max_addresses, 31);

        let policy = CapacityPolicy {
            first_vnic_index: 1,
            ..policy
        };
        assert_eq!(capacity(24, &policy).max_addresses, 0);
    }

    #[test]
    fn ips_per_vnic_is_bounded() {
        assert_eq!(IpsPerVnic::new(32).unwrap().get(), 32);
        assert!(IpsPerVnic::new(0).is_err());
        assert!(IpsPerVnic::new(65).is_err());
        assert!(IpsPerVnic::new(256 + 31).is_err());
        assert!(serde_json::from_str::<IpsPerVnic>("100").is_err());
    }
}
