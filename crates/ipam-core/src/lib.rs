//! Pure IPAM planning for OCI: a cluster [`Snapshot`] in, a [`Plan`] of VNIC and private-IP
//! actions out.
//!
//! Call [`plan`] first. It follows Cilium's cloud-IPAM formulas (needed, excess, surge,
//! max-above-watermark) on OCI's limits (VNICs per shape from [`vnic_limits`], addresses per
//! VNIC from the policy), fills existing VNICs before attaching one new VNIC per node, shares
//! subnet capacity across nodes (largest deficit first, ties by name) and explains every
//! shortfall in a sentence. The crate does no I/O, reads no clock and spawns nothing; the
//! same snapshot always yields the same plan.
//!
//! Around it: [`validate`] lists every inconsistency of a snapshot, [`node_capacity`] answers
//! what a node can hold, [`apply`] carries a plan's effects into a snapshot (the state to plan
//! from next), [`snapshot_schema`] is the JSON Schema of the snapshot format, and
//! [`synthetic`] builds realistic clusters for benchmarks and tests.
//!
//! ```
//! use ipam_core::{Action, Snapshot, plan};
//!
//! let snapshot: Snapshot = serde_json::from_str(r#"{
//!   "apiVersion": "oci-ipam/v1", "kind": "ClusterSnapshot",
//!   "subnets": [{ "id": "ocid1.subnet.oc1.phx.pods", "cidr": "10.0.0.0/24",
//!                 "allocatedIps": 1 }],
//!   "nodes": [{
//!     "name": "worker-1", "instanceId": "ocid1.instance.oc1.phx.w1",
//!     "shape": "VM.Standard.E4.Flex", "ocpus": 2, "availabilityDomain": "Uocm:PHX-AD-1",
//!     "vnics": [{ "id": "ocid1.vnic.oc1.phx.w1", "index": 0,
//!                 "subnetId": "ocid1.subnet.oc1.phx.pods", "primaryIp": "10.0.0.2" }]
//!   }]
//! }"#)?;
//!
//! let plan = plan(&snapshot);
//! let worker = &plan.nodes[0];
//! assert_eq!(worker.needed, 8);
//! assert!(matches!(&worker.actions[0], Action::AssignPrivateIps { count: 8, .. }));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # Scope
//!
//! IPv4 only: IPv6 addresses on VNICs and IP CIDR (prefix) objects are not modelled.
//!
//! # Guarantees
//!
//! - No subnet is promised more addresses than it has free; a new VNIC's own primary address
//!   is counted.
//! - No VNIC gets more than `ipsPerVnic` addresses; no instance more VNICs than it allows;
//!   at most one attach per node per plan, none while one is in flight.
//! - Addresses in a node's `used` list are never marked or released.

mod apply;
mod capacity;
mod error;
mod ids;
mod parse;
mod plan;
mod snapshot;
mod synthetic;
mod validate;

pub use apply::apply;
pub use capacity::{NodeCapacity, max_vnics, node_capacity};
pub use error::Error;
pub use ids::{AvailabilityDomain, InstanceId, Ipv4Cidr, NodeName, SubnetId, VnicId};
pub use parse::parse_snapshot;
pub use plan::{
    Action, NodePlan, Plan, PlanKind, Shortfall, ShortfallReason, SubnetPlan, Totals, excess_ips,
    needed_ips, plan,
};
pub use snapshot::{
    Allocation, ApiVersion, Node, NodeIpam, Policy, ReleaseExcess, ReleaseState, Snapshot,
    SnapshotKind, Subnet, Vnic,
};
pub use synthetic::synthetic;
pub use validate::{Problem, validate};
pub use vnic_limits;

/// The JSON Schema (draft 2020-12) of the snapshot format, generated from the Rust types.
///
/// `docs/snapshot.schema.json` in the repository is this value, pretty-printed; a test keeps
/// the two identical.
pub fn snapshot_schema() -> serde_json::Value {
    schemars::schema_for!(Snapshot).to_value()
}
