//! The built-in shape table: how many VNICs each OCI shape may attach.
//!
//! Facts come from Oracle's compute shapes page and a captured `ListShapes` response; the CSV
//! they were gathered in ships beside the crate (`data/shape-vnic-limits.csv`, with a source
//! per row) and a test keeps this table and the CSV in agreement.
//!
//! Rules, as published:
//! - fixed VM shapes: a fixed count (VNICs = OCPUs, at least 2, at most 24; the Always Free
//!   micro shape: 1);
//! - flex shapes (`VM.Standard3/E3/E4/E5/E6/A1/A2/A4.Flex`): 1 OCPU gives 2 VNICs, n ≥ 2
//!   OCPUs give n, never more than 24 (`VM.Optimized3.Flex`: 2 per OCPU, cap 24). Fractional
//!   OCPU counts are rounded down, since Oracle does not document the rounding;
//! - `VM.DenseIO.E4/E5.Flex`: only a few OCPU configurations exist, each with its own count;
//! - the `*.Generic` flex shapes publish bounds (2 to 24) but no per-OCPU rule, so they need
//!   the instance's own `maxVnicAttachments`;
//! - bare metal: a fixed count (mostly 256 on current generations).
//!
//! Where Oracle's documentation and API disagree the table keeps the lower value, so a plan
//! never asks for a VNIC the instance cannot take.

use crate::{Error, Ocpus, ShapeName};

/// What kind of shape an entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShapeKind {
    /// A virtual machine with a fixed size.
    Fixed,
    /// A virtual machine whose OCPU count is chosen at launch.
    Flex,
    /// A bare-metal host.
    BareMetal,
}

/// How a shape's VNIC limit follows from the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VnicRule {
    /// The same limit for every instance of the shape.
    Fixed(u32),
    /// `clamp(whole OCPUs × per_ocpu, min, max)`.
    PerOcpu {
        /// VNICs per whole OCPU.
        per_ocpu: u32,
        /// The floor.
        min: u32,
        /// The ceiling.
        max: u32,
    },
    /// Only the listed `(OCPUs, VNICs)` configurations exist.
    Configs(&'static [(u32, u32)]),
    /// Bounds are published but no rule for a given OCPU count: the instance must say.
    Unpublished {
        /// The smallest limit any instance of the shape has.
        min: u32,
        /// The largest limit any instance of the shape has.
        max: u32,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShapeSpec {
    /// The shape name, exactly as OCI spells it.
    pub name: &'static str,
    /// Fixed VM, flex VM or bare metal.
    pub kind: ShapeKind,
    /// How the VNIC limit is derived.
    pub rule: VnicRule,
    /// Where the fact comes from.
    pub source: &'static str,
}

/// Every shape the crate knows, sorted by name (byte order) with no duplicates.
pub static SHAPES: &[ShapeSpec] = &[
    ShapeSpec {
        name: "BM.DenseIO.E4.128",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.DenseIO.E5.128",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.DenseIO1.36",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(36),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.DenseIO2.52",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(52),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.A10.4",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.A100-v2.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.B200.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.GB200.4",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(512),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.GB300.4",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(512),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.H100.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.H200.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.L40S.4",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.MI300X.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU.MI355X.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU2.2",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(28),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU3.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(52),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.GPU4.8",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(64),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.HPC.E5.144",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.HPC2.36",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(50),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.Optimized3.36",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.Standard.A1.160",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard.A4.48",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "BM.Standard.B1.44",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(44),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard.E2.64",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(150),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard.E3.128",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard.E4.128",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard.E5.192",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard.E6.256",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard1.36",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(100),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard2.52",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(200),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "BM.Standard3.64",
        kind: ShapeKind::BareMetal,
        rule: VnicRule::Fixed(256),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.DenseIO.E4.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::Configs(&[(8, 8), (16, 16), (32, 24)]),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO.E5.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::Configs(&[(8, 8), (16, 16), (24, 24), (32, 24), (40, 24), (48, 24)]),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO1.16",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(16),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO1.4",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(4),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO1.8",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(8),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO2.16",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(16),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO2.24",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(24),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.DenseIO2.8",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(8),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.GPU.A10.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(15),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.GPU.A10.2",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(24),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.GPU2.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(12),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.GPU3.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(6),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.GPU3.2",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(12),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.GPU3.4",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(24),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.Optimized3.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 2,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.Standard.A1.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.A2.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.A4.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.Standard.AMD.Generic",
        kind: ShapeKind::Flex,
        rule: VnicRule::Unpublished { min: 2, max: 24 },
        source: "API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.Ampere.Generic",
        kind: ShapeKind::Flex,
        rule: VnicRule::Unpublished { min: 2, max: 24 },
        source: "API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.B1.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.B1.16",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(16),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.B1.2",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.B1.4",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(4),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.B1.8",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(8),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E2.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E2.1.Micro",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(1),
        source: "OCI-doc:computeshapes.htm",
    },
    ShapeSpec {
        name: "VM.Standard.E2.2",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E2.4",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(4),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E2.8",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(4),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E3.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E4.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E5.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.E6.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.Intel.Generic",
        kind: ShapeKind::Flex,
        rule: VnicRule::Unpublished { min: 2, max: 24 },
        source: "API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard.x86.Generic",
        kind: ShapeKind::Flex,
        rule: VnicRule::Unpublished { min: 2, max: 24 },
        source: "API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard1.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard1.16",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(16),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard1.2",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard1.4",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(4),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard1.8",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(8),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard2.1",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard2.16",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(16),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard2.2",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(2),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard2.24",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(24),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard2.4",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(4),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard2.8",
        kind: ShapeKind::Fixed,
        rule: VnicRule::Fixed(8),
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
    ShapeSpec {
        name: "VM.Standard3.Flex",
        kind: ShapeKind::Flex,
        rule: VnicRule::PerOcpu {
            per_ocpu: 1,
            min: 2,
            max: 24,
        },
        source: "OCI-doc:computeshapes.htm + API:ListShapes-capture",
    },
];

/// The table entry for `shape`, or `None` when the shape is not in the table.
pub fn lookup(shape: &ShapeName) -> Option<&'static ShapeSpec> {
    SHAPES
        .binary_search_by(|spec| spec.name.cmp(shape.as_str()))
        .ok()
        .and_then(|index| SHAPES.get(index))
}

// === impl ShapeSpec ===

impl ShapeSpec {
    /// The VNIC limit of an instance of this shape with `ocpus` OCPUs.
    ///
    /// # Errors
    ///
    /// [`Error::ResolveVnicLimit`] when the rule needs an OCPU count and none was given, when
    /// the OCPU count is not one of the shape's configurations, or when the shape publishes no
    /// rule at all (the `*.Generic` shapes).
    pub fn max_vnics(&self, ocpus: Option<Ocpus>) -> Result<u32, Error> {
        let fail = |hint: String| Error::ResolveVnicLimit {
            shape: self.name.to_owned(),
            hint,
        };

        match self.rule {
            VnicRule::Fixed(limit) => Ok(limit),

            VnicRule::PerOcpu { per_ocpu, min, max } => {
                let ocpus = ocpus.ok_or_else(|| {
                    fail("it is a flex shape, so give the instance's ocpus".to_owned())
                })?;
                Ok(ocpus.whole().saturating_mul(per_ocpu).clamp(min, max))
            }

            VnicRule::Configs(configs) => {
                let ocpus = ocpus.ok_or_else(|| {
                    fail("it is a flex shape, so give the instance's ocpus".to_owned())
                })?;
                let exact = configs
                    .iter()
                    .find(|(count, _)| f64::from(*count) == ocpus.get())
                    .map(|(_, limit)| *limit);
                exact.ok_or_else(|| {
                    let valid: Vec<String> = configs.iter().map(|(c, _)| c.to_string()).collect();
                    fail(format!(
                        "{ocpus} OCPUs is not one of its configurations ({})",
                        valid.join(", ")
                    ))
                })
            }

            VnicRule::Unpublished { min, max } => Err(fail(format!(
                "Oracle publishes only its bounds ({min} to {max}), so give the instance's own \
                 maxVnicAttachments (GetInstance shapeConfig)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str) -> ShapeName {
        name.parse().unwrap()
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in SHAPES.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn every_entry_parses_as_a_shape_name_and_is_found() {
        for spec in SHAPES {
            let found = lookup(&shape(spec.name)).unwrap();
            assert_eq!(found.name, spec.name);
        }
    }

    #[test]
    fn flex_rule_follows_the_documentation() {
        let e4 = lookup(&shape("VM.Standard.E4.Flex")).unwrap();
        let limit = |ocpus: f64| e4.max_vnics(Some(Ocpus::new(ocpus).unwrap())).unwrap();
        assert_eq!(limit(0.5), 2);
        assert_eq!(limit(1.0), 2);
        assert_eq!(limit(2.0), 2);
        assert_eq!(limit(2.5), 2);
        assert_eq!(limit(7.0), 7);
        assert_eq!(limit(24.0), 24);
        assert_eq!(limit(64.0), 24);

        let optimized = lookup(&shape("VM.Optimized3.Flex")).unwrap();
        assert_eq!(optimized.max_vnics(Some(Ocpus::new(3.0).unwrap())), Ok(6));
        assert_eq!(optimized.max_vnics(Some(Ocpus::new(18.0).unwrap())), Ok(24));
    }

    #[test]
    fn flex_without_ocpus_says_what_is_missing() {
        let e4 = lookup(&shape("VM.Standard.E4.Flex")).unwrap();
        let err = e4.max_vnics(None).unwrap_err();
        assert!(err.to_string().contains("VM.Standard.E4.Flex"), "{err}");
        assert!(err.to_string().contains("ocpus"), "{err}");
    }

    #[test]
    fn dense_io_flex_only_has_its_configurations() {
        let dense = lookup(&shape("VM.DenseIO.E4.Flex")).unwrap();
        assert_eq!(dense.max_vnics(Some(Ocpus::new(32.0).unwrap())), Ok(24));
        let err = dense
            .max_vnics(Some(Ocpus::new(12.0).unwrap()))
            .unwrap_err();
        assert!(err.to_string().contains("8, 16, 32"), "{err}");
    }

    #[test]
    fn generic_shapes_need_the_instance_value() {
        let generic = lookup(&shape("VM.Standard.x86.Generic")).unwrap();
        let err = generic
            .max_vnics(Some(Ocpus::new(4.0).unwrap()))
            .unwrap_err();
        assert!(err.to_string().contains("maxVnicAttachments"), "{err}");
    }

    #[test]
    fn conflicts_keep_the_lower_value() {
        assert_eq!(
            lookup(&shape("VM.Standard.E2.8")).unwrap().rule,
            VnicRule::Fixed(4)
        );
        assert_eq!(
            lookup(&shape("BM.Standard.E5.192")).unwrap().rule,
            VnicRule::Fixed(256)
        );
    }

    #[test]
    fn unknown_shapes_are_not_found() {
        assert_eq!(lookup(&shape("VM.Standard.Z9.Flex")), None);
        assert_eq!(lookup(&shape("vm.standard.e4.flex")), None);
    }
}
