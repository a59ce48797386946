//! The crate's error type.

use std::net::IpAddr;

/// What went wrong in a Kubernetes read or write, naming the object and field to look at.
///
/// Variants are named after the operation that failed; the Kubernetes client's error, when
/// there is one, is the [`source`](std::error::Error::source) and is not repeated in the
/// message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A text value is not an OCID.
    #[error("{value:?} is not an OCID: {reason}")]
    ParseOcid {
        /// The text that was given.
        value: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// A text value is not a MAC address.
    #[error("{value:?} is not a MAC address (expected six hex pairs like 02:00:17:0a:4c:1d)")]
    ParseMacAddress {
        /// The text that was given.
        value: String,
    },

    /// A text value is not an IPv4 CIDR.
    #[error("{value:?} is not an IPv4 CIDR: {reason}")]
    ParseCidr {
        /// The text that was given.
        value: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// A Node has no `spec.providerID`.
    #[error(
        "node {node} has no spec.providerID; oci-ipam needs `oci://<instance OCID>`, which \
         OCI's cloud controller manager sets when it initialises the node"
    )]
    MissingProviderId {
        /// The Node's name.
        node: String,
    },

    /// A Node's `spec.providerID` does not name an OCI instance.
    #[error("node {node} has spec.providerID {provider_id:?}: {reason}")]
    ParseProviderId {
        /// The Node's name.
        node: String,
        /// The provider ID found.
        provider_id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An object read from the API server has no name, which the API server never allows.
    #[error("a {kind} read from the API server has no metadata.name")]
    MissingName {
        /// The object's kind.
        kind: &'static str,
    },

    /// Reading a CiliumNode failed.
    #[error("failed to read CiliumNode {node}")]
    GetCiliumNode {
        /// The CiliumNode's name.
        node: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Patching a CiliumNode's status (release handshake, operator status) failed.
    #[error("failed to patch status.ipam of CiliumNode {node}")]
    PatchCiliumNodeStatus {
        /// The CiliumNode's name.
        node: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Patching a CiliumNode's spec (pool, allocation knobs, instance ID) failed.
    #[error("failed to patch spec.ipam of CiliumNode {node}")]
    PatchCiliumNodeSpec {
        /// The CiliumNode's name.
        node: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// A write would have removed addresses the agent reports in use from the pool.
    ///
    /// Nothing was written. The Cilium agent cannot restore an endpoint whose address left
    /// the pool, so such a write is a bug in the caller's plan, never something to retry.
    #[error(
        "refused to write CiliumNode {node}: {addresses:?} are in status.ipam.used and would \
         leave spec.ipam.pool"
    )]
    PoolInvariant {
        /// The CiliumNode's name.
        node: String,
        /// The in-use addresses the write would have dropped, in order.
        addresses: Vec<IpAddr>,
    },

    /// Every attempt of a write met a newer resourceVersion (HTTP 409).
    #[error(
        "gave up writing {kind} {name} after {attempts} attempts, each of which met a \
         concurrent change (HTTP 409)"
    )]
    ConflictRetriesExhausted {
        /// The object's kind.
        kind: &'static str,
        /// The object's name.
        name: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// Reading an OciNetworkNode failed.
    #[error("failed to read OciNetworkNode {node}")]
    GetOciNetworkNode {
        /// The OciNetworkNode's name (the node's name).
        node: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Creating or patching an OciNetworkNode's spec failed.
    #[error("failed to write the spec of OciNetworkNode {node}")]
    WriteOciNetworkNode {
        /// The OciNetworkNode's name (the node's name).
        node: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Patching an OciNetworkNode's status failed.
    #[error("failed to patch the status of OciNetworkNode {node}")]
    PatchOciNetworkNodeStatus {
        /// The OciNetworkNode's name (the node's name).
        node: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Rendering the CRD manifest as YAML failed.
    #[error("failed to render the OciNetworkNode CustomResourceDefinition as YAML")]
    RenderCrd {
        /// The serializer's error.
        #[source]
        source: serde_yaml::Error,
    },

    /// Reading, creating or updating the leader-election Lease failed.
    #[error("failed to {action} Lease {namespace}/{lease}")]
    WriteLease {
        /// What was attempted (`read`, `create`, `renew`, `release`).
        action: &'static str,
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        lease: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Creating or updating an Event failed.
    #[error("failed to publish event {reason} about {regarding}")]
    PublishEvent {
        /// The event's reason.
        reason: String,
        /// The object the event is about, as `kind/name`.
        regarding: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
}

/// Whether `err` is the API server's 409 Conflict (stale resourceVersion).
pub(crate) fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

/// Whether `err` is the API server's 404 Not Found.
pub(crate) fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}
