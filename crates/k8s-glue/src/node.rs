//! What a Kubernetes `Node` says about its OCI instance.
//!
//! OCI's cloud controller manager sets `spec.providerID` to `oci://<instance OCID>`; the
//! well-known labels `topology.kubernetes.io/zone` and `node.kubernetes.io/instance-type`
//! (or their deprecated beta forms) give the availability domain and shape as hints. The OCI
//! API stays the truth for both.

use k8s_openapi::api::core::v1::Node;

use crate::error::Error;
use crate::values::Ocid;

/// The `spec.providerID` scheme OCI's cloud controller manager writes.
pub const PROVIDER_ID_SCHEME: &str = "oci://";

const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
const INSTANCE_TYPE_LABELS: [&str; 2] = [
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
];

/// A Kubernetes node's OCI instance, with the hints its labels give.
///
/// ```
/// use k8s_glue::node::NodeInstance;
/// use k8s_openapi::api::core::v1::Node;
///
/// let node: Node = serde_json::from_value(serde_json::json!({
///     "metadata": {
///         "name": "10.0.10.5",
///         "labels": {"topology.kubernetes.io/zone": "PHX-AD-1"}
///     },
///     "spec": {"providerID": "oci://ocid1.instance.oc1.phx.anyhqljexample"}
/// }))?;
///
/// let instance = NodeInstance::from_node(&node)?;
/// assert_eq!(instance.instance_id.as_str(), "ocid1.instance.oc1.phx.anyhqljexample");
/// assert_eq!(instance.zone.as_deref(), Some("PHX-AD-1"));
/// assert_eq!(instance.instance_type, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeInstance {
    /// The Node's name.
    pub node: String,
    /// The instance OCID from `spec.providerID`.
    pub instance_id: Ocid,
    /// The zone label (on OCI, the availability domain), a hint.
    pub zone: Option<String>,
    /// The instance-type label (on OCI, the shape), a hint.
    pub instance_type: Option<String>,
}

impl NodeInstance {
    /// Reads the instance of `node`.
    ///
    /// # Errors
    ///
    /// - [`Error::MissingName`] for a Node without a name;
    /// - [`Error::MissingProviderId`] when `spec.providerID` is absent or empty (the cloud
    ///   controller manager has not initialised the node yet, or is not OCI's);
    /// - [`Error::ParseProviderId`] when it is not `oci://` followed by an instance OCID.
    pub fn from_node(node: &Node) -> Result<Self, Error> {
        let name = node
            .metadata
            .name
            .clone()
            .ok_or(Error::MissingName { kind: "Node" })?;
        let provider_id = node
            .spec
            .as_ref()
            .and_then(|spec| spec.provider_id.as_deref())
            .unwrap_or_default();

        let instance_id = parse_provider_id(&name, provider_id)?;
        let label = |keys: [&str; 2]| {
            let labels = node.metadata.labels.as_ref()?;
            keys.iter()
                .find_map(|key| labels.get(*key))
                .filter(|value| !value.is_empty())
                .cloned()
        };

        Ok(Self {
            zone: label(ZONE_LABELS),
            instance_type: label(INSTANCE_TYPE_LABELS),
            node: name,
            instance_id,
        })
    }
}

/// Parses the provider ID `provider_id` of node `node` into an instance OCID.
///
/// # Errors
///
/// As [`NodeInstance::from_node`].
pub fn parse_provider_id(node: &str, provider_id: &str) -> Result<Ocid, Error> {
    let provider_id = provider_id.trim();
    if provider_id.is_empty() {
        return Err(Error::MissingProviderId {
            node: node.to_owned(),
        });
    }

    let invalid = |reason: String| Error::ParseProviderId {
        node: node.to_owned(),
        provider_id: provider_id.to_owned(),
        reason,
    };

    let Some(rest) = provider_id.strip_prefix(PROVIDER_ID_SCHEME) else {
        return Err(invalid(format!(
            "expected `{PROVIDER_ID_SCHEME}<instance OCID>`; is this node running on OCI with \
             OCI's cloud controller manager?"
        )));
    };

    let ocid: Ocid = rest
        .parse()
        .map_err(|err: Error| invalid(err.to_string()))?;
    if ocid.resource_type() != "instance" {
        return Err(invalid(format!(
            "the OCID names a `{}`, not an `instance`",
            ocid.resource_type()
        )));
    }
    Ok(ocid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(json: serde_json::Value) -> Node {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn provider_ids_parse_or_say_what_is_wrong() {
        let ok = parse_provider_id("n", "oci://ocid1.instance.oc1.iad.anuwcljexample").unwrap();
        assert_eq!(ok.resource_type(), "instance");

        let cases = [
            ("", "no spec.providerID"),
            (
                "aws:///us-east-1a/i-0abc",
                "expected `oci://<instance OCID>`",
            ),
            ("oci://not-an-ocid", "is not an OCID"),
            ("oci://ocid1.vnic.oc1.iad.abc", "names a `vnic`"),
        ];
        for (provider_id, expected) in cases {
            let err = parse_provider_id("worker-1", provider_id)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("worker-1") && err.contains(expected),
                "{provider_id}: {err}"
            );
        }
    }

    #[test]
    fn hints_fall_back_to_the_beta_labels() {
        let node = node(serde_json::json!({
            "metadata": {"name": "w", "labels": {
                "failure-domain.beta.kubernetes.io/zone": "PHX-AD-2",
                "beta.kubernetes.io/instance-type": "VM.Standard.E4.Flex",
            }},
            "spec": {"providerID": "oci://ocid1.instance.oc1.phx.abc"},
        }));
        let instance = NodeInstance::from_node(&node).unwrap();
        assert_eq!(instance.zone.as_deref(), Some("PHX-AD-2"));
        assert_eq!(
            instance.instance_type.as_deref(),
            Some("VM.Standard.E4.Flex")
        );
    }

    #[test]
    fn a_node_without_spec_is_missing_its_provider_id() {
        let err = NodeInstance::from_node(&node(serde_json::json!({"metadata": {"name": "w"}})))
            .unwrap_err();
        assert!(matches!(err, Error::MissingProviderId { node } if node == "w"));
    }
}
