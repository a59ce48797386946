//! Compute shapes the simulator knows, and how many VNICs each allows.
//!
//! Values come from `shape-vnic-limits.csv` (Oracle's shape table plus a captured ListShapes
//! answer). Where the two disagree the API value is used, as OCI answers with it at runtime.
//! A world file can add shapes of its own.

use serde::Deserialize;
use serde::Serialize;

/// How a shape's VNIC limit follows from its OCPU count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum VnicRule {
    /// A fixed number of VNICs whatever the OCPUs.
    #[serde(rename_all = "camelCase")]
    Fixed {
        /// VNIC attachments allowed, primary included.
        max_vnics: u32,
    },
    /// Flex shapes: `clamp(floor(ocpus × per_ocpu), min, max)`.
    #[serde(rename_all = "camelCase")]
    PerOcpu {
        /// VNICs per OCPU (`defaultPerOcpu` in ListShapes).
        per_ocpu: f64,
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
}

/// A compute shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Shape {
    /// Shape name, e.g. `VM.Standard.E4.Flex`.
    pub shape: String,
    /// OCPUs of a fixed shape, or the default OCPUs of a flex shape.
    pub ocpus: f64,
    /// Memory per OCPU in GB.
    #[serde(default = "default_memory_per_ocpu")]
    pub memory_per_ocpu_gbs: f64,
    /// How the VNIC limit is derived.
    pub vnics: VnicRule,
    /// Flex shapes accept an OCPU count at launch.
    #[serde(default)]
    pub is_flexible: bool,
    /// Largest OCPU count of a flex shape.
    #[serde(default)]
    pub max_ocpus: Option<f64>,
}

fn default_memory_per_ocpu() -> f64 {
    16.0
}

impl Shape {
    /// VNIC attachments allowed for an instance of this shape with `ocpus` OCPUs.
    #[must_use]
    pub fn max_vnics(&self, ocpus: f64) -> u32 {
        match &self.vnics {
            VnicRule::Fixed { max_vnics } => *max_vnics,
            VnicRule::PerOcpu { per_ocpu, min, max } => {
                let scaled = (ocpus * per_ocpu).floor();
                let scaled = if scaled.is_finite() && scaled > 0.0 {
                    scaled as u32
                } else {
                    0
                };
                scaled.clamp(*min, *max)
            }
        }
    }

    /// The `Shape` object ListShapes returns for this shape.
    pub(crate) fn to_wire(&self) -> serde_json::Value {
        let memory = self.ocpus * self.memory_per_ocpu_gbs;
        let mut shape = serde_json::json!({
            "shape": self.shape,
            "ocpus": self.ocpus,
            "memoryInGBs": memory,
            "networkingBandwidthInGbps": self.ocpus,
            "maxVnicAttachments": self.max_vnics(self.ocpus),
            "isFlexible": self.is_flexible,
            "networkPorts": 2,
            "gpus": 0,
            "localDisks": 0,
            "billingType": "PAID",
            "quotaNames": [],
        });
        if let (VnicRule::PerOcpu { per_ocpu, min, max }, Some(obj)) =
            (&self.vnics, shape.as_object_mut())
        {
            obj.insert(
                "maxVnicAttachmentOptions".into(),
                serde_json::json!({
                    "min": min,
                    "max": f64::from(*max),
                    "defaultPerOcpu": per_ocpu,
                }),
            );
            obj.insert(
                "ocpuOptions".into(),
                serde_json::json!({ "min": 1.0, "max": self.max_ocpus.unwrap_or(64.0) }),
            );
        }
        shape
    }
}

/// The shapes every world knows without declaring them.
#[must_use]
pub fn builtin_shapes() -> Vec<Shape> {
    let flex = |name: &str, max_ocpus: f64, per_ocpu: f64| Shape {
        shape: name.to_owned(),
        ocpus: 1.0,
        memory_per_ocpu_gbs: 16.0,
        vnics: VnicRule::PerOcpu {
            per_ocpu,
            min: 2,
            max: 24,
        },
        is_flexible: true,
        max_ocpus: Some(max_ocpus),
    };
    let fixed = |name: &str, ocpus: f64, max_vnics: u32| Shape {
        shape: name.to_owned(),
        ocpus,
        memory_per_ocpu_gbs: 15.0,
        vnics: VnicRule::Fixed { max_vnics },
        is_flexible: false,
        max_ocpus: None,
    };
    vec![
        flex("VM.Standard3.Flex", 32.0, 1.0),
        flex("VM.Standard.E3.Flex", 64.0, 1.0),
        flex("VM.Standard.E4.Flex", 64.0, 1.0),
        flex("VM.Standard.E5.Flex", 126.0, 1.0),
        flex("VM.Standard.E6.Flex", 126.0, 1.0),
        flex("VM.Standard.A1.Flex", 76.0, 1.0),
        flex("VM.Standard.A2.Flex", 78.0, 1.0),
        flex("VM.Optimized3.Flex", 18.0, 2.0),
        fixed("VM.Standard.E2.1.Micro", 1.0, 1),
        fixed("VM.Standard2.1", 1.0, 2),
        fixed("VM.Standard2.2", 2.0, 2),
        fixed("VM.Standard2.4", 4.0, 4),
        fixed("VM.Standard2.8", 8.0, 8),
        fixed("VM.Standard2.16", 16.0, 16),
        fixed("VM.Standard2.24", 24.0, 24),
        fixed("VM.Standard.E2.1", 1.0, 2),
        fixed("VM.Standard.E2.2", 2.0, 2),
        fixed("VM.Standard.E2.4", 4.0, 4),
        fixed("VM.Standard.E2.8", 8.0, 8),
        fixed("BM.Standard3.64", 64.0, 256),
        fixed("BM.Standard.E4.128", 128.0, 256),
        fixed("BM.Standard.E5.192", 192.0, 512),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str) -> Shape {
        builtin_shapes()
            .into_iter()
            .find(|s| s.shape == name)
            .expect("builtin shape")
    }

    #[test]
    fn flex_rule_matches_oracle_table() {
        let e4 = shape("VM.Standard.E4.Flex");
        let cases = [
            (1.0, 2),
            (2.0, 2),
            (3.0, 3),
            (8.0, 8),
            (24.0, 24),
            (64.0, 24),
            (0.5, 2),
        ];
        for (ocpus, want) in cases {
            assert_eq!(e4.max_vnics(ocpus), want, "{ocpus} OCPUs");
        }
        assert_eq!(shape("VM.Optimized3.Flex").max_vnics(3.0), 6);
    }

    #[test]
    fn fixed_shapes_ignore_ocpus() {
        assert_eq!(shape("VM.Standard2.4").max_vnics(99.0), 4);
        assert_eq!(shape("VM.Standard.E2.1.Micro").max_vnics(1.0), 1);
    }

    #[test]
    fn list_shapes_reports_one_ocpu_value_for_flex() {
        let wire = shape("VM.Standard.E4.Flex").to_wire();
        assert_eq!(wire["maxVnicAttachments"], 2);
        assert_eq!(wire["maxVnicAttachmentOptions"]["max"], 24.0);
        assert!(
            shape("VM.Standard2.4")
                .to_wire()
                .get("maxVnicAttachmentOptions")
                .is_none()
        );
    }
}
