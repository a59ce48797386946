//! CiliumNode writes against kube-sim: fields survive Cilium's schema, conflicts are retried,
//! the pool invariant holds against a live (simulated) Cilium agent.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt;
use k8s_glue::cilium::AllocationMap;
use k8s_glue::ipam::{CiliumNodes, IpamFields, PENDING_VNIC_OWNER, gate_pool};
use k8s_glue::{AllocationIp, CiliumNode, Error, ReleaseState};
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use kube_sim::{AgentSettings, CiliumCrd, NodeSpec, Verb};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::{
    VNIC_A, VNIC_B, create_cilium_node, eventually, instance_of, report_used, sim, sim_with,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn our_fields_survive_validation_and_pruning_on_both_cilium_versions() {
    for crd in [CiliumCrd::V1_15_7, CiliumCrd::V1_20_0Dev] {
        let (sim, client) = sim_with(crd).await;
        let node = create_cilium_node(
            &sim,
            &client,
            "worker-1",
            &["10.0.0.5", "10.0.0.6", "10.0.0.7"],
            &[("10.0.0.5", "router"), ("10.0.0.6", "default/web-0")],
        )
        .await;
        let nodes = CiliumNodes::new(client.clone());

        let written = nodes
            .update_ipam(&node, |_, fields| {
                fields.instance_id = Some(instance_of("worker-1"));
                fields.pool.remove(&ip("10.0.0.7"));
                fields.pool.insert(ip("10.0.1.5"), AllocationIp::on(VNIC_B));
                gate_pool(&mut fields.pool, |vnic| vnic == VNIC_A);
                fields.pre_allocate = Some(8);
                fields.min_allocate = Some(2);
                fields.max_allocate = Some(60);
                fields.max_above_watermark = Some(1);
                fields
                    .release_ips
                    .insert(ip("10.0.0.7"), ReleaseState::Released);
                fields.operator_error = Some("VNIC limit of VM.Standard.E4.Flex reached".into());
            })
            .await
            .unwrap();
        assert!(written.written);
        assert_eq!(written.attempts, 1);

        // Read back through the API: everything we wrote survived pruning, and the agent's
        // fields are as they were.
        let stored = nodes.get("worker-1").await.unwrap();
        let fields = IpamFields::of(&stored);
        assert_eq!(
            fields.instance_id.as_deref(),
            Some(instance_of("worker-1").as_str()),
            "{crd:?}"
        );
        assert_eq!(
            fields.pool.keys().copied().collect::<Vec<_>>(),
            [ip("10.0.0.5"), ip("10.0.0.6"), ip("10.0.1.5")],
            "{crd:?}"
        );
        assert_eq!(
            fields.pool[&ip("10.0.1.5")].owner,
            PENDING_VNIC_OWNER,
            "{crd:?}"
        );
        assert_eq!(fields.pool[&ip("10.0.1.5")].resource, VNIC_B, "{crd:?}");
        assert_eq!(
            (
                fields.pre_allocate,
                fields.min_allocate,
                fields.max_allocate,
                fields.max_above_watermark
            ),
            (Some(8), Some(2), Some(60), Some(1)),
            "{crd:?}"
        );
        assert_eq!(
            fields.release_ips[&ip("10.0.0.7")],
            ReleaseState::Released,
            "{crd:?}"
        );
        assert_eq!(
            fields.operator_error.as_deref(),
            Some("VNIC limit of VM.Standard.E4.Flex reached")
        );
        assert_eq!(stored.spec.other, node.spec.other, "{crd:?}");
        assert_eq!(stored.used(), node.used(), "{crd:?}");

        // Clearing goes through as well.
        nodes
            .update_ipam(&stored, |_, fields| {
                fields.operator_error = None;
                fields.max_allocate = None;
                fields.release_ips.clear();
                gate_pool(&mut fields.pool, |_| true);
            })
            .await
            .unwrap();
        let fields = IpamFields::of(&nodes.get("worker-1").await.unwrap());
        assert_eq!(fields.operator_error, None);
        assert_eq!(fields.max_allocate, None);
        assert!(fields.release_ips.is_empty());
        assert!(
            fields.pool.values().all(|entry| entry.owner.is_empty()),
            "{:?}",
            fields.pool
        );
    }
}

#[tokio::test]
async fn a_change_that_changes_nothing_writes_nothing() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(&sim, &client, "worker-1", &["10.0.0.5"], &[]).await;
    let patches_before = sim.store().request_count(Verb::Patch, "ciliumnodes");

    let written = CiliumNodes::new(client)
        .update_ipam(&node, |_, fields| {
            fields
                .pool
                .insert(ip("10.0.0.5"), AllocationIp::on(crate::VNIC_A));
        })
        .await
        .unwrap();

    assert!(!written.written);
    assert_eq!(
        sim.store().request_count(Verb::Patch, "ciliumnodes"),
        patches_before
    );
}

#[tokio::test]
async fn conflicts_are_retried_on_a_fresh_copy() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(&sim, &client, "worker-1", &["10.0.0.5"], &[]).await;
    let gets_before = sim.store().request_count(Verb::Get, "ciliumnodes");

    sim.store().inject_conflicts("ciliumnodes", 2);
    let written = CiliumNodes::new(client.clone())
        .update_ipam(&node, |_, fields| {
            fields.pool.insert(ip("10.0.0.6"), AllocationIp::on(VNIC_A));
        })
        .await
        .unwrap();

    assert_eq!(written.attempts, 3);
    assert!(written.node.spec.ipam.pool.contains_key(&ip("10.0.0.6")));
    assert_eq!(
        sim.store().request_count(Verb::Get, "ciliumnodes") - gets_before,
        2
    );
}

#[tokio::test]
async fn endless_conflicts_give_up_with_a_typed_error() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(&sim, &client, "worker-1", &["10.0.0.5"], &[]).await;

    sim.store().inject_conflicts("ciliumnodes", 10);
    let err = CiliumNodes::new(client)
        .with_attempts(3)
        .update_ipam(&node, |_, fields| fields.pre_allocate = Some(4))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::ConflictRetriesExhausted { kind: "CiliumNode", name, attempts: 3 } if name == "worker-1"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_invariant_refuses_a_bad_write_before_anything_is_written() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(
        &sim,
        &client,
        "worker-1",
        &["10.0.0.5", "10.0.0.6", "10.0.0.7"],
        &[("10.0.0.5", "router"), ("10.0.0.7", "default/db-0")],
    )
    .await;
    let patches_before = sim.store().request_count(Verb::Patch, "ciliumnodes");

    let err = CiliumNodes::new(client.clone())
        .update_ipam(&node, |_, fields| {
            fields.pool.clear();
            fields.operator_error = Some("would be written first".into());
        })
        .await
        .unwrap_err();

    let Error::PoolInvariant {
        node: name,
        addresses,
    } = &err
    else {
        panic!("expected PoolInvariant, got {err:?}");
    };
    assert_eq!(name, "worker-1");
    assert_eq!(addresses, &[ip("10.0.0.5"), ip("10.0.0.7")]);
    assert_eq!(
        sim.store().request_count(Verb::Patch, "ciliumnodes"),
        patches_before
    );
    let stored = CiliumNodes::new(client).get("worker-1").await.unwrap();
    assert_eq!(stored.spec.ipam.pool.len(), 3);
    assert_eq!(IpamFields::of(&stored).operator_error, None);
}

/// The race the resourceVersion precondition exists for: the agent hands out an address
/// after the operator read the CiliumNode and before it writes a pool without it.
#[tokio::test]
async fn an_address_the_agent_took_since_our_read_is_never_dropped() {
    let (sim, client) = sim().await;
    let stale = create_cilium_node(
        &sim,
        &client,
        "worker-1",
        &["10.0.0.5", "10.0.0.6"],
        &[("10.0.0.5", "router")],
    )
    .await;

    // The agent gives 10.0.0.6 to a pod; our copy does not know.
    report_used(
        &client,
        "worker-1",
        &[("10.0.0.5", "router"), ("10.0.0.6", "default/web-1")],
    )
    .await;

    let mut runs = 0;
    let err = CiliumNodes::new(client.clone())
        .update_ipam(&stale, |_, fields| {
            runs += 1;
            fields.pool.remove(&ip("10.0.0.6"));
        })
        .await
        .unwrap_err();

    assert_eq!(
        runs, 2,
        "the change runs again on the fresh copy after the 409"
    );
    assert!(
        matches!(&err, Error::PoolInvariant { addresses, .. } if addresses == &[ip("10.0.0.6")]),
        "{err:?}"
    );
    let stored = CiliumNodes::new(client).get("worker-1").await.unwrap();
    assert!(stored.spec.ipam.pool.contains_key(&ip("10.0.0.6")));
}

#[tokio::test]
async fn status_is_written_before_spec() {
    let (sim, client) = sim().await;
    let node = create_cilium_node(&sim, &client, "worker-1", &["10.0.0.5", "10.0.0.6"], &[]).await;

    let api: kube::Api<CiliumNode> = kube::Api::all(client.clone());
    let mut changes = Box::pin(
        watcher::watch_object(api, "worker-1")
            .filter_map(|event| async move { event.ok().flatten() }),
    );
    let first = changes.next().await.unwrap();
    assert_eq!(
        first.metadata.resource_version,
        node.metadata.resource_version
    );

    CiliumNodes::new(client)
        .update_ipam(&node, |_, fields| {
            fields
                .release_ips
                .insert(ip("10.0.0.6"), ReleaseState::MarkedForRelease);
            fields.pool.insert(ip("10.0.0.7"), AllocationIp::on(VNIC_A));
        })
        .await
        .unwrap();

    let after_status = changes.next().await.unwrap();
    assert_eq!(
        after_status.release_ips().get(&ip("10.0.0.6")),
        Some(&ReleaseState::MarkedForRelease)
    );
    assert!(
        !after_status.spec.ipam.pool.contains_key(&ip("10.0.0.7")),
        "spec written first"
    );

    let after_spec = changes.next().await.unwrap();
    assert!(after_spec.spec.ipam.pool.contains_key(&ip("10.0.0.7")));
}

/// The whole gating story against a simulated Cilium agent: gated addresses are never handed
/// out, opening them lets pods start, the agent's concurrent status writes never lose ours,
/// and no in-use address ever leaves the pool.
#[tokio::test]
async fn a_live_agent_skips_gated_addresses_and_never_loses_one() {
    let (sim, client) = sim().await;
    sim.add_node(&NodeSpec::oci("worker-1", &instance_of("worker-1")))
        .unwrap();
    let agent = sim
        .start_agent(
            "worker-1",
            AgentSettings::fast(Duration::from_millis(40)).desired_pods(6),
        )
        .await
        .unwrap();
    let nodes = CiliumNodes::new(client.clone());

    eventually(
        "the agent created its CiliumNode",
        Duration::from_secs(5),
        || async { sim.cilium_node("worker-1").is_some() },
    )
    .await;
    let node = nodes.get("worker-1").await.unwrap();

    // Four addresses on the ready primary VNIC, four on a secondary VNIC not ready yet.
    let primary: Vec<IpAddr> = (10..14).map(|host| ip(&format!("10.0.0.{host}"))).collect();
    let secondary: BTreeSet<IpAddr> = (10..14).map(|host| ip(&format!("10.0.1.{host}"))).collect();
    nodes
        .update_ipam(&node, |_, fields| {
            fields.instance_id = Some(instance_of("worker-1"));
            for address in &primary {
                fields.pool.insert(*address, AllocationIp::on(VNIC_A));
            }
            for address in &secondary {
                fields.pool.insert(*address, AllocationIp::on(VNIC_B));
            }
            gate_pool(&mut fields.pool, |vnic| vnic == VNIC_A);
        })
        .await
        .unwrap();

    // Router, health and two pods fit on the primary VNIC; four pods wait.
    let (stats, held) = agent
        .wait_for(Duration::from_secs(5), |stats| {
            stats.pods_running == 2 && stats.pods_pending == 4
        })
        .await;
    assert!(held, "{stats:?}");
    let taken: BTreeSet<IpAddr> = agent.allocations().keys().map(|a| ip(a)).collect();
    assert!(
        taken.is_disjoint(&secondary),
        "gated addresses were handed out: {taken:?}"
    );

    // The node agent reports the secondary VNIC ready: open it while the agent writes status.
    let latest = nodes.get("worker-1").await.unwrap();
    let opened = nodes
        .update_ipam(&latest, |_, fields| {
            gate_pool(&mut fields.pool, |_| true);
        })
        .await
        .unwrap();
    assert!(opened.written);

    let (stats, running) = agent
        .wait_for(Duration::from_secs(5), |stats| stats.pods_running == 6)
        .await;
    assert!(running, "{stats:?}");

    // Eventually the agent reports every address in use; dropping them all is refused.
    eventually(
        "the agent reported its usage",
        Duration::from_secs(5),
        || async { nodes.get("worker-1").await.unwrap().used().len() == 8 },
    )
    .await;
    let latest = nodes.get("worker-1").await.unwrap();
    let err = nodes
        .update_ipam(&latest, |_, fields| fields.pool = AllocationMap::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PoolInvariant { addresses, .. } if addresses.len() == 8),
        "{err:?}"
    );

    assert_eq!(sim.violations(), vec![]);
}

#[tokio::test]
async fn a_pool_patch_with_a_negative_value_is_refused_by_the_schema() {
    // Not something k8s-glue can build (the knobs are u32); checks that kube-sim enforces the
    // schema that our patches are checked against in `fixtures`.
    let (sim, client) = sim().await;
    create_cilium_node(&sim, &client, "worker-1", &["10.0.0.5"], &[]).await;
    let api: kube::Api<CiliumNode> = kube::Api::all(client);
    let patch = json!({"spec": {"ipam": {"pre-allocate": -1}}});
    let err = api
        .patch("worker-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(status) if status.code == 422));
}
