//! What marks a VNIC or private IP as the operator's, and the retry tokens of its creates.
//!
//! Everything the operator creates carries two freeform tags: [`TAG_CLUSTER`] (the cluster
//! name) and [`TAG_NODE`] (the Kubernetes node). Only resources carrying both, with this
//! cluster's and this node's values, are ever handed out or deleted.
//!
//! Retry tokens are derived from what OCI already holds, not drawn at random: a restarted
//! operator that repeats a create it may already have sent computes the same token, so OCI
//! returns the first result instead of creating a second address or VNIC.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::config::ClusterName;

/// Freeform tag holding the cluster name.
pub const TAG_CLUSTER: &str = "oci-ipam-cluster";

/// Freeform tag holding the Kubernetes node name.
pub const TAG_NODE: &str = "oci-ipam-node";

/// Decides ownership for one cluster.
#[derive(Debug, Clone)]
pub struct Ownership {
    cluster: ClusterName,
}

impl Ownership {
    /// Ownership for `cluster`.
    #[must_use]
    pub fn new(cluster: ClusterName) -> Self {
        Self { cluster }
    }

    /// The cluster name.
    #[must_use]
    pub fn cluster(&self) -> &ClusterName {
        &self.cluster
    }

    /// The tags to put on a resource created for `node`.
    #[must_use]
    pub fn tags(&self, node: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_CLUSTER.to_owned(), self.cluster.as_str().to_owned()),
            (TAG_NODE.to_owned(), node.to_owned()),
        ])
    }

    /// Whether `tags` mark a resource as this cluster's, created for `node`.
    #[must_use]
    pub fn owns(&self, tags: &BTreeMap<String, String>, node: &str) -> bool {
        tags.get(TAG_CLUSTER)
            .is_some_and(|value| value == self.cluster.as_str())
            && tags.get(TAG_NODE).is_some_and(|value| value == node)
    }

    /// The retry token of the `ordinal`-th private IP created on `vnic` while the VNIC holds
    /// exactly `existing` (the OCIDs of our addresses on it, any order).
    #[must_use]
    pub fn private_ip_token(&self, vnic: &str, existing: &[&str], ordinal: u32) -> String {
        self.token("private-ip", vnic, existing, ordinal)
    }

    /// The retry token of attaching VNIC `index` to `instance` while it has exactly the
    /// attachments `existing`.
    #[must_use]
    pub fn attach_token(&self, instance: &str, existing: &[&str], index: u32) -> String {
        self.token("attach-vnic", instance, existing, index)
    }

    fn token(&self, kind: &str, parent: &str, existing: &[&str], ordinal: u32) -> String {
        let mut sorted = existing.to_vec();
        sorted.sort_unstable();

        let mut hash = Sha256::new();
        for part in [self.cluster.as_str(), kind, parent] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        for id in sorted {
            hash.update(id.as_bytes());
            hash.update([0]);
        }
        hash.update(ordinal.to_be_bytes());

        let digest = hash.finalize();
        let hex: String = digest
            .iter()
            .take(20)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("oci-ipam-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ownership() -> Ownership {
        Ownership::new(ClusterName::parse("prod").expect("valid"))
    }

    #[test]
    fn owns_only_matching_cluster_and_node() {
        let ours = ownership();
        let tags = ours.tags("node-a");

        assert!(ours.owns(&tags, "node-a"));
        assert!(!ours.owns(&tags, "node-b"));
        assert!(!ours.owns(&BTreeMap::new(), "node-a"));

        let other = Ownership::new(ClusterName::parse("staging").expect("valid"));
        assert!(!other.owns(&tags, "node-a"));
    }

    #[test]
    fn tokens_repeat_for_the_same_state_and_differ_otherwise() {
        let ours = ownership();

        let first = ours.private_ip_token("vnic-1", &["ip-b", "ip-a"], 0);
        let again = ours.private_ip_token("vnic-1", &["ip-a", "ip-b"], 0);
        let next = ours.private_ip_token("vnic-1", &["ip-a", "ip-b"], 1);
        let grown = ours.private_ip_token("vnic-1", &["ip-a", "ip-b", "ip-c"], 0);
        let attach = ours.attach_token("vnic-1", &["ip-a", "ip-b"], 0);

        assert_eq!(first, again);
        assert_ne!(first, next);
        assert_ne!(first, grown);
        assert_ne!(first, attach);
        assert!(first.len() <= 64 && first.starts_with("oci-ipam-"));
    }
}
