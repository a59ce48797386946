//! The OciNetworkNode CRD: the checked-in YAML is current, kube-sim accepts it, and the
//! operator's and node agent's writes round-trip.

use std::time::Duration;

use k8s_glue::crd::{
    CONDITION_READY, OciNetworkNodeSpec, OciNetworkNodes, VnicOrigin, VnicRecord, VnicState,
    VnicStatus, crd_yaml,
};
use k8s_glue::ipam::{PENDING_VNIC_OWNER, gate_pool};
use k8s_glue::{AllocationIp, Error, OciNetworkNode, Ocid};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube_sim::NodeSpec;
use pretty_assertions::assert_eq;

use crate::{VNIC_A, VNIC_B, eventually, instance_of, repo_path, sim};

/// Where `cargo xtask gen` writes the CRD.
const CRD_PATH: &str = "deploy/crds/ocinetworknodes.oci-ipam.io.yaml";

#[test]
fn the_checked_in_crd_is_what_the_types_generate() {
    let checked_in = std::fs::read_to_string(repo_path(CRD_PATH)).unwrap_or_default();
    assert!(
        checked_in == crd_yaml().unwrap(),
        "{CRD_PATH} is out of date with crates/k8s-glue/src/crd.rs; run `cargo xtask gen`"
    );
}

fn ocid(text: &str) -> Ocid {
    text.parse().unwrap()
}

fn spec() -> OciNetworkNodeSpec {
    let mut primary = VnicRecord::new(
        ocid(VNIC_A),
        ocid("ocid1.vnicattachment.oc1.phx.a"),
        0,
        ocid("ocid1.subnet.oc1.phx.s"),
    );
    primary.mac_address = Some("02:00:17:00:00:0A".parse().unwrap());
    primary.subnet_cidr = Some("10.0.0.0/24".parse().unwrap());
    primary.virtual_router_ip = Some("10.0.0.1".parse().unwrap());
    primary.primary_ip = Some("10.0.0.2".parse().unwrap());

    let mut spec = OciNetworkNodeSpec::new(ocid(&instance_of("worker-1")), "VM.Standard.E4.Flex");
    spec.availability_domain = Some("Uocm:PHX-AD-1".into());
    spec.max_vnic_attachments = Some(2);
    spec.vnics = vec![primary];
    spec
}

#[tokio::test]
async fn operator_and_node_agent_writes_round_trip_and_follow_the_node() {
    let (sim, client) = sim().await;
    sim.register_crd_yaml(&crd_yaml().unwrap()).unwrap();
    sim.add_node(&NodeSpec::oci("worker-1", &instance_of("worker-1")))
        .unwrap();
    let node = Api::<Node>::all(client.clone())
        .get("worker-1")
        .await
        .unwrap();
    let onns = OciNetworkNodes::new(client.clone());

    // The operator records the instance, then a second VNIC it attached.
    let created = onns
        .apply_spec(&OciNetworkNode::for_node(&node, spec()).unwrap())
        .await
        .unwrap();
    assert_eq!(created.spec, spec());

    let mut with_secondary = spec();
    let mut secondary = VnicRecord::new(
        ocid(VNIC_B),
        ocid("ocid1.vnicattachment.oc1.phx.b"),
        1,
        ocid("ocid1.subnet.oc1.phx.s"),
    );
    secondary.origin = VnicOrigin::Created;
    secondary.vlan_tag = Some(1077);
    with_secondary.vnics.push(secondary);
    let updated = onns
        .apply_spec(&OciNetworkNode::for_node(&node, with_secondary.clone()).unwrap())
        .await
        .unwrap();
    assert_eq!(updated.spec, with_secondary);
    assert!(!updated.vnic_ready(VNIC_B));

    // Until the node agent reports the secondary VNIC ready, its addresses are gated.
    let mut pool = k8s_glue::cilium::AllocationMap::new();
    pool.insert("10.0.0.5".parse().unwrap(), AllocationIp::on(VNIC_A));
    pool.insert("10.0.0.6".parse().unwrap(), AllocationIp::on(VNIC_B));
    gate_pool(&mut pool, |vnic| updated.vnic_ready(vnic));
    assert_eq!(pool[&"10.0.0.6".parse().unwrap()].owner, PENDING_VNIC_OWNER);
    assert!(pool[&"10.0.0.5".parse().unwrap()].owner.is_empty());

    // The node agent reports, racing one conflicting write.
    sim.store().inject_conflicts("ocinetworknodes", 1);
    let now = "2026-12-03T10:00:00Z".parse().unwrap();
    let reported = onns
        .update_status("worker-1", |status| {
            let mut ready = VnicStatus::new(ocid(VNIC_B), VnicState::Ready);
            ready.interface = Some("ens5".into());
            ready.route_table = Some(11);
            status.vnics = vec![ready];
            status.set_condition(
                CONDITION_READY,
                "True",
                "VnicsReady",
                "1 secondary VNIC ready",
                now,
            );
        })
        .await
        .unwrap();
    assert!(reported.vnic_ready(VNIC_B));
    assert_eq!(
        reported.spec, with_secondary,
        "a status write leaves the spec alone"
    );
    let status = reported.status.clone().unwrap();
    assert_eq!(
        status.condition(CONDITION_READY).unwrap().reason,
        "VnicsReady"
    );
    assert_eq!(status.vnics[0].interface.as_deref(), Some("ens5"));

    gate_pool(&mut pool, |vnic| reported.vnic_ready(vnic));
    assert!(pool.values().all(|entry| entry.owner.is_empty()));

    // A spec write leaves the status alone, and removes what the new spec leaves unset.
    let mut shrunk = with_secondary;
    shrunk.availability_domain = None;
    shrunk.max_vnic_attachments = None;
    let rewritten = onns
        .apply_spec(&OciNetworkNode::for_node(&node, shrunk.clone()).unwrap())
        .await
        .unwrap();
    assert_eq!(rewritten.status, reported.status);
    assert_eq!(rewritten.spec, shrunk);

    // The object goes with its Node.
    sim.delete_node("worker-1").unwrap();
    eventually(
        "the OciNetworkNode is garbage-collected",
        Duration::from_secs(5),
        || async { onns.get("worker-1").await.unwrap().is_none() },
    )
    .await;
}

#[tokio::test]
async fn a_status_report_for_a_missing_object_names_it() {
    let (sim, client) = sim().await;
    sim.register_crd_yaml(&crd_yaml().unwrap()).unwrap();

    let err = OciNetworkNodes::new(client)
        .update_status("worker-9", |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::GetOciNetworkNode { node, .. } if node == "worker-9"),
        "{err:?}"
    );
}
