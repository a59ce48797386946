//! The oci-ipam node agent: makes addresses on secondary OCI VNICs usable by Cilium pods.
//!
//! In `ipam: crd` mode Cilium installs no per-VNIC routing, so traffic from an address on a
//! secondary VNIC would leave through the primary VNIC and be dropped by OCI's source check.
//! The agent gives each secondary VNIC its own routing table (the virtual router on the link,
//! and a default route through it) and, for every pool address on that VNIC, a rule sending
//! traffic to the address into the main table (priority 20) and traffic from it into the
//! VNIC's table (priority 111).
//!
//! The work is split in three:
//! - [`desired::desired_state`] is a pure function from VNICs and pool addresses to tables
//!   and rules;
//! - [`netlink::Datapath`] observes and changes the kernel over rtnetlink, marking what it
//!   installs with its own routing protocol number;
//! - [`reconcile::reconcile`] runs one pass: observe, compute, add what is missing, remove
//!   what is stale and owned, and report per-VNIC readiness.
//!
//! The binary around them ([`agent`]) reads inputs, runs passes on a timer and on change,
//! and serves metrics and health.
//!
//! # Known gaps
//!
//! - IPv6 pool addresses are ignored: only IPv4 gets rules and tables.
//! - Cilium ENI mode's NodePort fix (connmark plus a `fwmark 0x80 lookup main` rule) is not
//!   replicated, so NodePort or hostPort traffic answered by a pod on a secondary VNIC may
//!   leave through that VNIC instead of the one it arrived on.
//! - Bare-metal plumbing (macvlan in VEPA mode plus 802.1Q) follows Oracle's published
//!   script and is tested only where the kernel has 802.1Q; it is unverified on real hardware.

pub mod agent;
pub mod desired;
pub mod inputs;
pub mod metrics;

pub mod model;
pub mod netlink;
pub mod reconcile;
pub mod sysctl;

use std::path::PathBuf;

pub use desired::{AttachmentMode, DesiredConfig, EgressMode, desired_state};
pub use model::{Ipv4Cidr, MacAddr, NodeInputs, PoolAddress, TableId, Vnic, VnicId, VnicRole};
pub use netlink::{Datapath, OwnerProtocol};
pub use reconcile::{Readiness, ReconcileConfig, ReconcileReport, reconcile};

/// Everything that can fail in the node agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A MAC address did not parse.
    #[error("failed to parse MAC address {text:?}: expected six hex octets like 02:00:17:0a:0b:0c")]
    ParseMac {
        /// The text given.
        text: String,
    },

    /// A VNIC OCID did not parse.
    #[error("failed to parse VNIC OCID {text:?}: expected an OCID starting with \"ocid1.\"")]
    ParseVnicId {
        /// The text given.
        text: String,
    },

    /// A CIDR did not parse.
    #[error("failed to parse IPv4 CIDR {text:?}: expected address/length like 10.0.0.0/16")]
    ParseCidr {
        /// The text given.
        text: String,
    },

    /// A table ID is one the kernel or Cilium uses.
    #[error("failed to accept routing table {table}: the kernel or Cilium uses it")]
    ReservedTable {
        /// The ID given.
        table: u32,
    },

    /// An owner protocol number is one the kernel uses.
    #[error("failed to accept owner protocol {protocol}: 0 to 4 belong to the kernel")]
    ReservedProtocol {
        /// The number given.
        protocol: u8,
    },

    /// A link name cannot name a sysctl directory.
    #[error("failed to use link name {link:?} in a sysctl path")]
    InvalidLinkName {
        /// The name.
        link: String,
    },

    /// The netlink socket could not be opened.
    #[error("failed to open a netlink socket (the agent needs CAP_NET_ADMIN)")]
    OpenNetlink {
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Listing links failed.
    #[error("failed to list network links")]
    ListLinks {
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Listing rules failed.
    #[error("failed to list IPv4 policy rules")]
    ListRules {
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Listing routes failed.
    #[error("failed to list IPv4 routes")]
    ListRoutes {
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Bringing a link up or setting its MTU failed.
    #[error("failed to bring up link {link} or set its MTU")]
    SetLink {
        /// The link name.
        link: String,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Creating a bare-metal macvlan or VLAN link failed.
    #[error("failed to create link {link}")]
    CreateLink {
        /// The link name.
        link: String,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Deleting an owned link failed.
    #[error("failed to delete link {link}")]
    DeleteLink {
        /// The link name.
        link: String,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Installing a rule failed.
    #[error("failed to add rule `{rule}`")]
    AddRule {
        /// The rule.
        rule: desired::RuleSpec,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Deleting an owned rule failed.
    #[error("failed to delete owned rule {rule:?}")]
    DeleteRule {
        /// The rule, when it has the agent's shape.
        rule: Option<desired::RuleSpec>,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Installing a route failed.
    #[error("failed to add route `{route}`")]
    AddRoute {
        /// The route.
        route: desired::RouteSpec,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Deleting an owned route failed.
    #[error("failed to delete owned route {route:?}")]
    DeleteRoute {
        /// The route, when it has the agent's shape.
        route: Option<desired::RouteSpec>,
        /// The cause.
        #[source]
        source: rtnetlink::Error,
    },

    /// Reading a sysctl failed.
    #[error("failed to read {}", path.display())]
    ReadSysctl {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The Kubernetes client could not be set up.
    #[error("failed to set up the Kubernetes client (in-cluster config or KUBECONFIG)")]
    ConnectKube {
        /// The cause.
        #[source]
        source: kube::Error,
    },

    /// The metadata client could not be built.
    #[error("failed to build the metadata service client")]
    BuildMetadataClient {
        /// The cause.
        #[source]
        source: oci_api::Error,
    },

    /// Reading the metadata service failed.
    #[error(
        "failed to read VNICs from the metadata service at {endpoint} (the agent must run on the host network)"
    )]
    ReadMetadata {
        /// The metadata service origin.
        endpoint: String,
        /// The cause.
        #[source]
        source: oci_api::Error,
    },

    /// The metrics and health listener could not be opened.
    #[error("failed to listen on {address} for metrics and health (set --listen)")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Writing a sysctl failed.
    #[error("failed to write {} (the agent needs /proc/sys writable)", path.display())]
    WriteSysctl {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
