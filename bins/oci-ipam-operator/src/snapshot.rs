//! `oci-ipam-operator snapshot`: the live cluster as a planner snapshot (design.md §4.1).

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
/// The I/O error, naming the file.
pub fn write(snapshot: &Snapshot, path: &Path) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(snapshot).map_err(std::io::Error::other)?;
    text.push('\n');
    if path == Path::new("-") {
        print!("{text}");
        Ok(())
    } else {
        std::fs::write(path, text).map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!("writing snapshot to {}: {err}", path.display()),
            )
        })
    }
}
