//! Everything the oci-ipam operator and node agent need from Kubernetes, on kube-rs.
//!
//! - [`cilium`]: Cilium's `CiliumNode`, typed for the IPAM fields we read and write, keeping
//!   every other field verbatim.
//! - [`ipam`]: writes to a CiliumNode: merge patches of only our fields, status before spec,
//!   optimistic concurrency with bounded retry on conflict, and the pool invariant (an address
//!   in `status.ipam.used` never leaves `spec.ipam.pool`). Start at [`ipam::CiliumNodes`].
//! - [`crd`]: our own cluster-scoped CRD, [`OciNetworkNode`] (`oci-ipam.io/v1alpha1`), one per
//!   node, holding the OCI view of the node and the node agent's per-VNIC readiness.
//! - [`node`]: the instance OCID and hints from a Kubernetes `Node`.
//! - [`lease`]: leader election on a `coordination.k8s.io/v1` Lease.
//! - [`events`]: Warning/Normal events with short reasons, deduplicated into series.
//! - [`watch`]: watch-fed caches (reflectors) of CiliumNodes, Nodes and our CRD.
//!
//! Time is read through the [`Clock`] trait wherever it decides an outcome (lease expiry,
//! event series), so tests can drive it.
//!
//! The crate logs only at `debug` and `trace`, with structured fields (`node`, `lease`, ...).

pub mod cilium;
pub mod clock;
pub mod crd;
pub mod events;
pub mod ipam;
pub mod lease;
pub mod node;
pub mod values;
pub mod watch;

mod error;

pub use cilium::{AllocationIp, CiliumNode, CiliumNodeSpec, CiliumNodeStatus, ReleaseState};
pub use clock::{Clock, ManualClock, SystemClock};
pub use crd::{OciNetworkNode, OciNetworkNodeSpec, OciNetworkNodeStatus};
pub use error::Error;
pub use values::{Ipv4Cidr, MacAddress, Ocid};
