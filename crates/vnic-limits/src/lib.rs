//! OCI shape limits: how many VNICs an instance may attach and how many addresses each VNIC
//! holds, and from those, how many addresses and pods a node can use.
//!
//! Start with [`vnic_limit`]: it takes a shape name, the instance's OCPU count and, when
//! known, the instance's own `shapeConfig.maxVnicAttachments`, and answers with the number of
//! VNICs the instance may attach. The instance's own value always wins; the built-in
//! [`table`] (fixed shapes, flex rules by OCPU count, bare metal) is the fallback. An unknown
//! shape is an error that names it, never a guess.
//!
//! [`capacity`] turns that limit into a node's capacity under a [`CapacityPolicy`]
//! (addresses per VNIC, the first VNIC index pods may use, the kubelet's pod limit).
//!
//! ```
//! use vnic_limits::{CapacityPolicy, Ocpus, ShapeName, capacity, vnic_limit};
//!
//! let shape: ShapeName = "VM.Standard.E4.Flex".parse()?;
//! let limit = vnic_limit(&shape, Some(Ocpus::new(2.0)?), None)?;
//! assert_eq!(limit.max_vnics, 2);
//!
//! // Oracle's OKE model: pods only on secondary VNICs, 31 addresses each.
//! let policy = CapacityPolicy::default().with_first_vnic_index(1);
//! let node = capacity(limit.max_vnics, &policy);
//! assert_eq!((node.pod_vnics, node.max_addresses, node.max_pods), (1, 31, 31));
//! # Ok::<(), vnic_limits::Error>(())
//! ```
//!
//! This crate does no I/O and depends on neither HTTP nor Kubernetes.

mod capacity;
mod error;
mod shape;
pub mod table;

pub use capacity::{
    CapacityPolicy, DEFAULT_KUBELET_MAX_PODS, IpsPerVnic, NodeCapacity, SecondaryVnics, VnicLimit,
    VnicLimitSource, capacity, vnic_limit,
};
pub use error::Error;
pub use shape::{Ocpus, ShapeName};
pub use table::{ShapeKind, ShapeSpec, VnicRule, lookup};
