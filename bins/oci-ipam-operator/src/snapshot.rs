//! `oci-ipam-operator snapshot`: the live cluster as a planner snapshot.
//!
//! The snapshot is the JSON document `oci-ipam-planner` reads (`apiVersion: oci-ipam/v1`,
//! `kind: ClusterSnapshot`): the policy from the operator's flags, the subnets it may use and
//! every CiliumNode with its instance's shape, VNICs and pool. `docs/snapshot-format.md`
//! describes every field.

use std::path::Path;
use std::time::Instant;

use k8s_glue::CiliumNode;
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use crate::contract::Snapshot;
use crate::error::Error;
use crate::reconcile::Engine;

/// Reads every CiliumNode and its Node, then OCI, and returns the snapshot.
///
/// # Errors
///
/// [`Error::ConnectKubernetes`] when the lists fail; the engine's errors for OCI.
pub async fn take(
    engine: &Engine,
    client: kube::Client,
    taken_at: String,
) -> Result<Snapshot, Error> {
    let fail = |source: kube::Error| Error::ConnectKubernetes {
        source: Box::new(source),
    };
    let cilium_nodes = Api::<CiliumNode>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(fail)?;
    let nodes = Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .map_err(fail)?;

    let mut pairs: Vec<(CiliumNode, Option<Node>)> = cilium_nodes
        .items
        .into_iter()
        .map(|cilium_node| {
            let node = nodes
                .items
                .iter()
                .find(|node| node.name_any() == cilium_node.name_any());
            (cilium_node, node.cloned())
        })
        .collect();
    pairs.sort_by_key(|(cilium_node, _)| cilium_node.name_any());

    let mut snapshot = engine.cluster_snapshot(&pairs, Instant::now()).await?;
    snapshot.taken_at = Some(taken_at);
    Ok(snapshot)
}

/// Writes `snapshot` as pretty JSON to `path` (`-` for standard output).
///
/// # Errors
///
/// [`Error::WriteSnapshot`] naming the file.
pub fn write(snapshot: &Snapshot, path: &Path) -> Result<(), Error> {
    let fail = |source: std::io::Error| Error::WriteSnapshot {
        path: path.to_owned(),
        source,
    };

    let mut text = serde_json::to_string_pretty(snapshot)
        .map_err(std::io::Error::other)
        .map_err(fail)?;
    text.push('\n');
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        std::io::Write::write_all(&mut out, text.as_bytes()).map_err(fail)
    } else {
        std::fs::write(path, text).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Policy;

    #[test]
    fn a_write_failure_names_the_file_and_the_fix() {
        let policy = Policy {
            ips_per_vnic: 32,
            first_vnic_index: 1,
            secondary_vnics: true,
            pre_allocate: 8,
            min_allocate: 0,
            max_allocate: 0,
            max_above_watermark: 0,
            release_excess: false,
            subnet_ids: Vec::new(),
            subnet_tags: Default::default(),
        };
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("missing").join("snapshot.json");

        let err = write(&Snapshot::new(policy), &path).expect_err("no such folder");

        assert_eq!(err.category(), "SnapshotWriteFailed");
        let text = crate::error::chain(&err);
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("--output -"), "{text}");
        assert!(!text.contains("Kubernetes"), "{text}");
    }
}
