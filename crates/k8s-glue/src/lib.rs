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
//!
//! # Example
//!
//! The operator's write to one node: find the instance behind the Node, then put addresses
//! into its CiliumNode's pool, gated until the node agent reports their VNIC ready.
//! [`ipam::CiliumNodes::update_ipam`] re-reads and retries on conflicts and refuses to drop
//! an address that is in `status.ipam.used`:
//!
//! ```no_run
//! use k8s_glue::AllocationIp;
//! use k8s_glue::crd::OciNetworkNodes;
//! use k8s_glue::ipam::{CiliumNodes, gate_pool};
//! use k8s_glue::node::NodeInstance;
//! use k8s_openapi::api::core::v1::Node;
//! use kube::Api;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // KUBECONFIG (for example a kube-sim on 127.0.0.1) or the in-cluster service account.
//! let client = kube::Client::try_default().await?;
//!
//! let node = Api::<Node>::all(client.clone()).get("worker-1").await?;
//! let instance = NodeInstance::from_node(&node)?; // from spec.providerID
//! println!("worker-1 is {}", instance.instance_id.as_str());
//!
//! let record = OciNetworkNodes::new(client.clone()).get("worker-1").await?;
//! let cilium_nodes = CiliumNodes::new(client);
//! let current = cilium_nodes.get("worker-1").await?;
//! let written = cilium_nodes
//!     .update_ipam(&current, |_latest, fields| {
//!         let vnic = "ocid1.vnic.oc1.iad.aaaaaaaasecondary";
//!         fields.pool.insert("10.0.64.5".parse().expect("address"), AllocationIp::on(vnic));
//!         gate_pool(&mut fields.pool, |vnic| {
//!             record.as_ref().is_some_and(|record| record.vnic_ready(vnic))
//!         });
//!     })
//!     .await?;
//! println!("written after {} attempt(s)", written.attempts);
//! # Ok(())
//! # }
//! ```

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
