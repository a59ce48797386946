//! Watch-fed caches against kube-sim.

use std::time::Duration;

use futures::StreamExt;
use k8s_glue::AllocationIp;
use k8s_glue::ipam::CiliumNodes;
use k8s_glue::node::NodeInstance;
use k8s_glue::{CiliumNode, Error, watch};
use kube::Api;
use kube::api::DeleteParams;
use kube_sim::NodeSpec;

use crate::{create_cilium_node, eventually, instance_of, sim};

#[tokio::test]
async fn the_cilium_node_cache_follows_creates_updates_deletes_and_compaction() {
    let (sim, client) = sim().await;
    let watched = watch::cilium_nodes(client.clone());
    let store = watched.store.clone();
    let driver = tokio::spawn(watched.events.for_each(|_| async {}));

    for name in ["worker-1", "worker-2", "worker-3"] {
        create_cilium_node(&sim, &client, name, &["10.0.0.5"], &[]).await;
    }
    eventually(
        "three CiliumNodes are cached",
        Duration::from_secs(5),
        || async { store.state().len() == 3 },
    )
    .await;
    assert!(
        store
            .state()
            .iter()
            .all(|node| node.metadata.managed_fields.is_none())
    );

    let nodes = CiliumNodes::new(client.clone());
    let cached = store
        .state()
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some("worker-2"))
        .unwrap();
    nodes
        .update_ipam(&cached, |_, fields| {
            fields
                .pool
                .insert("10.0.0.6".parse().unwrap(), AllocationIp::on(crate::VNIC_A));
        })
        .await
        .unwrap();
    eventually(
        "the cache sees the new pool",
        Duration::from_secs(5),
        || async { store.state().iter().any(|n| n.spec.ipam.pool.len() == 2) },
    )
    .await;

    Api::<CiliumNode>::all(client.clone())
        .delete("worker-3", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the deletion is cached", Duration::from_secs(5), || async {
        store.state().len() == 2
    })
    .await;

    // After compaction the watch resumes with a relist (410 Gone) and keeps following.
    sim.compact();
    create_cilium_node(&sim, &client, "worker-4", &[], &[]).await;
    eventually(
        "the cache recovers after compaction",
        Duration::from_secs(10),
        || async { store.state().len() == 3 },
    )
    .await;

    driver.abort();
}

#[tokio::test]
async fn cached_nodes_give_their_instance_or_a_clear_error() {
    let (sim, client) = sim().await;
    sim.add_node(
        &NodeSpec::oci("worker-1", &instance_of("worker-1"))
            .label("topology.kubernetes.io/zone", "PHX-AD-1"),
    )
    .unwrap();
    sim.add_node(&NodeSpec::bare("worker-2")).unwrap();

    let watched = watch::nodes(client);
    let store = watched.store.clone();
    let driver = tokio::spawn(watched.events.for_each(|_| async {}));
    eventually("both Nodes are cached", Duration::from_secs(5), || async {
        store.state().len() == 2
    })
    .await;

    let by_name = |name: &str| {
        store
            .state()
            .into_iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .unwrap()
    };
    let instance = NodeInstance::from_node(&by_name("worker-1")).unwrap();
    assert_eq!(instance.instance_id.as_str(), instance_of("worker-1"));
    assert_eq!(instance.zone.as_deref(), Some("PHX-AD-1"));

    let err = NodeInstance::from_node(&by_name("worker-2")).unwrap_err();
    assert!(
        matches!(&err, Error::MissingProviderId { node } if node == "worker-2"),
        "{err:?}"
    );

    driver.abort();
}
