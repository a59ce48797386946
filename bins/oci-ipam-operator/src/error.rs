//! The operator's one error type.

/// Everything that can stop a node's reconcile or the operator.
///
/// Each variant is named after the operation that failed and names the node, VNIC, subnet or
/// setting involved; causes sit behind `#[source]`. [`Error::category`] gives a bounded label
/// for metrics and Event reasons.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the node's state from OCI failed.
    #[error("reading node {node}'s VNICs and addresses from OCI failed")]
    ReadOci {
        /// The node.
        node: String,
        /// The OCI failure.
        #[source]
        source: Box<oci_api::Error>,
    },

    /// The node's instance does not exist (any more) in OCI.
    #[error(
        "node {node}'s instance {instance} is not in OCI (terminated, or not visible to \
             the operator's principal)"
    )]
    InstanceGone {
        /// The node.
        node: String,
        /// The instance OCID.
        instance: String,
    },

    /// The node names no instance.
    #[error(
        "node {node} has no instance OCID: set spec.providerID to oci://<instance OCID> \
             (OCI's cloud controller manager does this)"
    )]
    NoInstance {
        /// The node.
        node: String,
    },

    /// OCI reported a VNIC without a subnet.
    #[error("VNIC {vnic} of node {node} has no subnet in OCI's answer")]
    VnicWithoutSubnet {
        /// The node.
        node: String,
        /// The VNIC.
        vnic: String,
    },

    /// Reading a subnet failed.
    #[error("reading subnet {subnet} from OCI failed")]
    ReadSubnet {
        /// The subnet.
        subnet: String,
        /// The OCI failure.
        #[source]
        source: Box<oci_api::Error>,
    },

    /// Creating a private IP failed.
    #[error("creating a private IP on VNIC {vnic} (subnet {subnet}) of node {node} failed")]
    CreatePrivateIp {
        /// The node.
        node: String,
        /// The VNIC.
        vnic: String,
        /// The VNIC's subnet.
        subnet: String,
        /// The OCI failure.
        #[source]
        source: Box<oci_api::Error>,
    },

    /// Deleting a private IP failed.
    #[error("deleting private IP {address} on VNIC {vnic} of node {node} failed")]
    DeletePrivateIp {
        /// The node.
        node: String,
        /// The VNIC.
        vnic: String,
        /// The address.
        address: std::net::Ipv4Addr,
        /// The OCI failure.
        #[source]
        source: Box<oci_api::Error>,
    },

    /// Attaching a VNIC failed.
    #[error("attaching a VNIC in subnet {subnet} to node {node} failed")]
    AttachVnic {
        /// The node.
        node: String,
        /// The subnet.
        subnet: String,
        /// The OCI failure.
        #[source]
        source: Box<oci_api::Error>,
    },

    /// An attachment fell to DETACHING/DETACHED or stayed ATTACHING too long.
    #[error("VNIC attachment {attachment} of node {node} did not attach: {state}")]
    AttachFailed {
        /// The node.
        node: String,
        /// The attachment.
        attachment: String,
        /// What happened.
        state: String,
    },

    /// Planning failed.
    #[error("planning node {node} failed")]
    Plan {
        /// The node.
        node: String,
        /// The planner's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Writing the CiliumNode failed.
    #[error("writing CiliumNode {node} failed")]
    WriteCiliumNode {
        /// The node.
        node: String,
        /// The Kubernetes failure.
        #[source]
        source: Box<k8s_glue::Error>,
    },

    /// Writing our per-node CRD failed.
    #[error("writing OciNetworkNode {node} failed")]
    WriteNodeRecord {
        /// The node.
        node: String,
        /// The Kubernetes failure.
        #[source]
        source: Box<k8s_glue::Error>,
    },

    /// Building the OCI client failed.
    #[error("building the OCI client failed (check --oci-auth, --oci-endpoint, --oci-region)")]
    BuildOciClient {
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Connecting to Kubernetes failed.
    #[error(
        "connecting to the Kubernetes API failed (check KUBECONFIG or the in-cluster \
             service account)"
    )]
    ConnectKubernetes {
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The metrics or health endpoint could not listen on its address.
    #[error("serving {endpoints} on {address} failed: {fix}")]
    ServeEndpoints {
        /// Which endpoints, e.g. `/metrics, /healthz and /readyz`.
        endpoints: &'static str,
        /// The address from the flag.
        address: std::net::SocketAddr,
        /// What to change, naming the flag.
        fix: String,
        /// The bind failure.
        #[source]
        source: std::io::Error,
    },

    /// The snapshot file could not be written.
    #[error(
        "writing the snapshot to {} failed: check that its folder exists and is writable, \
         or pass `--output -` for standard output",
        path.display()
    )]
    WriteSnapshot {
        /// The file from `--output`.
        path: std::path::PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },

    /// Leader election failed.
    #[error("leader election on Lease {lease} failed")]
    LeaderElection {
        /// namespace/name.
        lease: String,
        /// The cause.
        #[source]
        source: Box<k8s_glue::Error>,
    },
}

impl Error {
    pub(crate) fn read(node: &str, source: oci_api::Error) -> Self {
        Self::ReadOci {
            node: node.to_owned(),
            source: Box::new(source),
        }
    }

    /// A bounded category, for metric labels and Event reasons.
    #[must_use]
    pub fn category(&self) -> &'static str {
        match self {
            Self::ReadOci { .. } | Self::ReadSubnet { .. } => "OciReadFailed",
            Self::InstanceGone { .. } => "InstanceNotFound",
            Self::NoInstance { .. } => "NoInstanceId",
            Self::VnicWithoutSubnet { .. } => "OciInconsistent",
            Self::CreatePrivateIp { source, .. } if is_exhaustion(source) => "SubnetExhausted",
            Self::CreatePrivateIp { .. } => "AllocateFailed",
            Self::DeletePrivateIp { .. } => "ReleaseFailed",
            Self::AttachVnic { source, .. } if is_exhaustion(source) => "SubnetExhausted",
            Self::AttachVnic { .. } | Self::AttachFailed { .. } => "AttachVnicFailed",
            Self::Plan { .. } => "PlanFailed",
            Self::WriteCiliumNode { .. } => "CiliumNodeWriteFailed",
            Self::WriteNodeRecord { .. } => "NodeRecordWriteFailed",
            Self::BuildOciClient { .. } => "OciClientFailed",
            Self::ConnectKubernetes { .. } => "KubernetesFailed",
            Self::ServeEndpoints { .. } => "ServeFailed",
            Self::WriteSnapshot { .. } => "SnapshotWriteFailed",
            Self::LeaderElection { .. } => "LeaderElectionFailed",
        }
    }

    /// The `opc-request-id` of the OCI answer behind this error, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::ReadOci { source, .. }
            | Self::ReadSubnet { source, .. }
            | Self::CreatePrivateIp { source, .. }
            | Self::DeletePrivateIp { source, .. }
            | Self::AttachVnic { source, .. } => source.request_id(),
            _ => None,
        }
    }
}

/// Whether OCI refused a create because the subnet has no free address.
pub(crate) fn is_exhaustion(error: &oci_api::Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    error.status() == Some(400)
        && ["no free", "no available", "exhausted", "is full"]
            .iter()
            .any(|hint| text.contains(hint))
}

/// The error and its causes, joined for people (logs, Events, operator-status, `check`).
///
/// Each cause appears once: a cause whose text its parent already printed (an error that
/// puts its source into its own message) is not repeated.
#[must_use]
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut parent = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !said.is_empty() && !parent.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        parent = said;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Leaf(&'static str);

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Wrap {
        text: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    }

    #[test]
    fn chain_prints_every_cause_once() {
        let leaf = Leaf("connection refused");
        let repeating = Wrap {
            text: "token request failed: connection refused".to_owned(),
            source: Box::new(leaf),
        };
        let top = Wrap {
            text: "GetInstance failed: could not sign the request".to_owned(),
            source: Box::new(repeating),
        };

        assert_eq!(
            chain(&top),
            "GetInstance failed: could not sign the request: token request failed: \
             connection refused"
        );
    }
}
