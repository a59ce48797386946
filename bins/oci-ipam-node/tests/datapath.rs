//! The agent's reconcile on a real kernel: network namespaces stand in for a node with a
//! primary and two secondary VNICs, its pods, and the VCN router with OCI's source check.
//! Every claim is shown with real TCP connections between the namespaces.

mod support;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use oci_ipam_node::reconcile::NotReadyReason;
use oci_ipam_node::{
    AttachmentMode, NodeInputs, OwnerProtocol, PoolAddress, Readiness, ReconcileConfig,
};
use support::{
    REMOTE, Topology, ip, ip_in, pool_entry, privileged, read_sysctl, reconcile_in, route_dev,
    routes, rules, tcp_exchange, vnic,
};

const POD0: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 20);
const POD1: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 20);
const POD2: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 20);

fn owner() -> String {
    OwnerProtocol::default().get().to_string()
}

fn inputs(pool: &[PoolAddress]) -> NodeInputs {
    NodeInputs::new(
        vec![vnic(0), vnic(1), vnic(2)],
        pool.iter().cloned().collect(),
    )
}

fn owned_rules(ns: &str) -> Vec<support::Rule> {
    rules(ns)
        .into_iter()
        .filter(|r| r.protocol == owner())
        .collect()
}

#[test]
fn secondary_vnic_traffic_leaves_and_returns_through_its_own_vnic() {
    if !privileged("secondary_vnic_traffic_leaves_and_returns_through_its_own_vnic") {
        return;
    }
    let mut topology = Topology::vm(3);
    let pod0 = topology.add_pod("p0", POD0, 0);
    let pod1 = topology.add_pod("p1", POD1, 1);
    let pod2 = topology.add_pod("p2", POD2, 2);
    let vcn = topology.vcn.clone();
    let node = topology.node.clone();

    // Without the agent, primary-VNIC pods work and secondary-VNIC pods do not: their
    // packets leave through eth0 and the VCN's source check drops them.
    assert_eq!(tcp_exchange(&pod0, &vcn, REMOTE), Ok(IpAddr::V4(POD0)));
    assert!(
        tcp_exchange(&pod1, &vcn, REMOTE).is_err(),
        "pod1 worked without the agent"
    );
    assert!(
        tcp_exchange(&vcn, &pod2, POD2).is_err(),
        "pod2 reachable without the agent"
    );
    assert_eq!(
        route_dev(&node, &REMOTE.to_string(), &POD1.to_string(), "lxcp1"),
        "eth0"
    );

    let config = ReconcileConfig::default().with_mtu(Some(9000));
    let pool = [
        pool_entry(POD0, 0),
        pool_entry(POD1, 1),
        pool_entry(POD2, 2),
    ];
    let report = reconcile_in(&node, &inputs(&pool), &config);

    assert!(report.all_ready(), "{report:#?}");
    assert_eq!(report.changes.rules_added, 5);
    assert_eq!(report.changes.routes_added, 4);
    assert_eq!(report.changes.links_updated, 2);
    assert_eq!(report.changes.sysctls_written, 2);
    let table1 = report.vnics[&vnic(1).id].table.expect("table").get();
    let table2 = report.vnics[&vnic(2).id].table.expect("table").get();
    assert_eq!((table1, table2), (11, 12));

    // Outbound: the kernel routes pod1's traffic out of eth1 and pod2's out of eth2, and
    // the VCN (which drops anything arriving on the wrong VNIC) accepts it, unmasqueraded.
    assert_eq!(
        route_dev(&node, &REMOTE.to_string(), &POD1.to_string(), "lxcp1"),
        "eth1"
    );
    assert_eq!(
        route_dev(&node, &REMOTE.to_string(), &POD2.to_string(), "lxcp2"),
        "eth2"
    );
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
    assert_eq!(tcp_exchange(&pod2, &vcn, REMOTE), Ok(IpAddr::V4(POD2)));
    assert_eq!(tcp_exchange(&pod0, &vcn, REMOTE), Ok(IpAddr::V4(POD0)));

    // Inbound: the VCN delivers to the owning VNIC and the answer comes back through it
    // (the VCN's source check would drop an answer arriving on any other link).
    assert_eq!(tcp_exchange(&vcn, &pod1, POD1), Ok(IpAddr::V4(REMOTE)));
    assert_eq!(tcp_exchange(&vcn, &pod2, POD2), Ok(IpAddr::V4(REMOTE)));

    // Pods on the same node talk directly, whatever VNIC their addresses belong to (the
    // priority-20 rules win over the priority-111 ones).
    assert_eq!(
        route_dev(&node, &POD0.to_string(), &POD1.to_string(), "lxcp1"),
        "lxcp0"
    );
    assert_eq!(
        route_dev(&node, &POD2.to_string(), &POD1.to_string(), "lxcp1"),
        "lxcp2"
    );
    assert_eq!(tcp_exchange(&pod1, &pod0, POD0), Ok(IpAddr::V4(POD1)));

    // The node itself still reaches the pods through the main table (rule priority 20).
    assert_eq!(
        tcp_exchange(&node, &pod1, POD1),
        Ok(IpAddr::V4(Ipv4Addr::new(169, 254, 1, 1)))
    );

    for link in ["eth1", "eth2"] {
        assert_eq!(
            read_sysctl(&node, &format!("net/ipv4/conf/{link}/rp_filter")),
            "2"
        );
        let shown = ip(&["-n", &node, "link", "show", link]);
        assert!(
            shown.contains("mtu 9000") && shown.contains("state UP"),
            "{shown}"
        );
    }
    let owned: BTreeSet<(u64, String, String, String)> = owned_rules(&node)
        .into_iter()
        .map(|r| (r.priority, r.src, r.dst, r.table))
        .collect();
    let expected: BTreeSet<(u64, String, String, String)> = [
        (20, "all".into(), "10.77.0.20".into(), "main".into()),
        (20, "all".into(), "10.77.1.20".into(), "main".into()),
        (20, "all".into(), "10.77.2.20".into(), "main".into()),
        (111, "10.77.1.20".into(), String::new(), "11".into()),
        (111, "10.77.2.20".into(), String::new(), "12".into()),
    ]
    .into_iter()
    .collect();
    assert_eq!(owned, expected);
}

#[test]
fn removed_address_loses_its_rules_and_detached_vnic_its_table() {
    if !privileged("removed_address_loses_its_rules_and_detached_vnic_its_table") {
        return;
    }
    let mut topology = Topology::vm(3);
    let pod1 = topology.add_pod("p1", POD1, 1);
    let pod2 = topology.add_pod("p2", POD2, 2);
    let vcn = topology.vcn.clone();
    let node = topology.node.clone();
    let config = ReconcileConfig::default();

    let both = inputs(&[pool_entry(POD1, 1), pool_entry(POD2, 2)]);
    assert!(reconcile_in(&node, &both, &config).all_ready());
    assert_eq!(tcp_exchange(&pod2, &vcn, REMOTE), Ok(IpAddr::V4(POD2)));

    let only_pod1 = inputs(&[pool_entry(POD1, 1)]);
    let report = reconcile_in(&node, &only_pod1, &config);

    assert!(report.all_ready(), "{report:#?}");
    assert_eq!(report.changes.rules_deleted, 2);
    assert_eq!(report.changes.rules_added, 0);
    assert!(
        owned_rules(&node)
            .iter()
            .all(|r| !r.src.contains("10.77.2.20"))
    );
    assert!(
        owned_rules(&node)
            .iter()
            .all(|r| !r.dst.contains("10.77.2.20"))
    );
    assert!(
        tcp_exchange(&pod2, &vcn, REMOTE).is_err(),
        "removed address still routed"
    );
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));

    // VNIC 2 detached (gone from the metadata): its table's routes go too.
    let detached = NodeInputs::new(vec![vnic(0), vnic(1)], only_pod1.pool.clone());
    let report = reconcile_in(&node, &detached, &config);

    assert_eq!(report.changes.routes_deleted, 2);
    assert!(
        routes(&node).iter().all(|r| !r.contains("table 12")),
        "{:?}",
        routes(&node)
    );
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
}

#[test]
fn restart_adopts_existing_state_and_leaves_foreign_rules_alone() {
    if !privileged("restart_adopts_existing_state_and_leaves_foreign_rules_alone") {
        return;
    }
    let mut topology = Topology::vm(3);
    let pod1 = topology.add_pod("p1", POD1, 1);
    let vcn = topology.vcn.clone();
    let node = topology.node.clone();
    let config = ReconcileConfig::default();

    // Someone else's rules, one with the very selector the agent will use, and someone
    // else's routes; plus a stale rule carrying our mark, left by an earlier run.
    ip_in(&node, "rule add from 10.77.1.20 lookup 100 pref 111");
    ip_in(&node, "rule add to 10.77.5.5 lookup main pref 20");
    ip_in(&node, "route add 10.77.8.0/24 dev eth0 table 100");
    ip_in(&node, "route add 10.77.7.0/24 dev eth0 table 11");
    ip_in(
        &node,
        &format!(
            "rule add from 10.77.3.3 lookup 11 pref 111 protocol {}",
            owner()
        ),
    );
    let foreign_before: Vec<support::Rule> = rules(&node)
        .into_iter()
        .filter(|r| r.protocol != owner())
        .collect();

    let pool = inputs(&[pool_entry(POD1, 1)]);
    let first = reconcile_in(&node, &pool, &config);
    assert!(first.all_ready(), "{first:#?}");
    assert_eq!(first.changes.rules_deleted, 1, "the stale owned rule goes");
    let table = first.vnics[&vnic(1).id].table.expect("table").get();
    assert_eq!(
        table, 10,
        "table 11 (VNIC 1's preferred one) holds someone else's route"
    );

    let rules_after_first = rules(&node);
    let routes_after_first = routes(&node);

    // A restart: a new process (here: a new netlink connection) with the VNICs listed in
    // another order and without attachment indexes must keep the tables it finds.
    let mut reordered: Vec<_> = pool.vnics.iter().rev().cloned().collect();
    for v in &mut reordered {
        v.attachment_index = None;
    }
    let restarted = NodeInputs::new(reordered, pool.pool.clone());
    let second = reconcile_in(&node, &restarted, &config);

    assert!(second.all_ready(), "{second:#?}");
    assert!(
        second.changes.is_empty(),
        "restart changed {:?}",
        second.changes
    );
    assert_eq!(
        second.vnics[&vnic(1).id].table,
        first.vnics[&vnic(1).id].table
    );
    assert_eq!(rules(&node), rules_after_first);
    assert_eq!(routes(&node), routes_after_first);

    let owned = owned_rules(&node);
    let unique: BTreeSet<_> = owned.iter().cloned().collect();
    assert_eq!(
        owned.len(),
        unique.len(),
        "duplicate owned rules: {owned:?}"
    );
    assert_eq!(owned.len(), 2);

    let foreign_after: Vec<support::Rule> = rules(&node)
        .into_iter()
        .filter(|r| r.protocol != owner())
        .collect();
    assert_eq!(foreign_after, foreign_before);
    assert!(
        routes(&node)
            .iter()
            .any(|r| r.contains("10.77.8.0/24") && r.contains("table 100"))
    );
    let foreign_in_11 = |r: &String| r.contains("10.77.7.0/24") && r.contains("table 11");
    assert!(routes(&node).iter().any(foreign_in_11));

    // The agent's rule (priority 111, added after the foreign one) still steers pod1.
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
}

#[test]
fn vcn_only_egress_keeps_off_vcn_traffic_on_the_main_table() {
    if !privileged("vcn_only_egress_keeps_off_vcn_traffic_on_the_main_table") {
        return;
    }
    let mut topology = Topology::vm(2);
    let pod1 = topology.add_pod("p1", POD1, 1);
    let vcn = topology.vcn.clone();
    let node = topology.node.clone();
    let egress = oci_ipam_node::EgressMode::VcnOnly(vec!["10.77.9.0/24".parse().expect("cidr")]);
    let config = ReconcileConfig::default()
        .with_desired(oci_ipam_node::DesiredConfig::default().with_egress(egress));

    let inputs = NodeInputs::new(vec![vnic(0), vnic(1)], [pool_entry(POD1, 1)].into());
    assert!(reconcile_in(&node, &inputs, &config).all_ready());

    assert_eq!(
        route_dev(&node, &REMOTE.to_string(), &POD1.to_string(), "lxcp1"),
        "eth1"
    );
    assert_eq!(
        route_dev(&node, "192.0.2.1", &POD1.to_string(), "lxcp1"),
        "eth0"
    );
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
}

#[test]
fn ambiguous_and_missing_links_are_reported_not_guessed() {
    if !privileged("ambiguous_and_missing_links_are_reported_not_guessed") {
        return;
    }
    let topology = Topology::vm(2);
    let node = topology.node.clone();
    ip(&[
        "-n",
        &node,
        "link",
        "add",
        "name",
        "twin",
        "address",
        &support::mac(1),
        "type",
        "veth",
        "peer",
        "name",
        "twinpeer",
    ]);

    let inputs = NodeInputs::new(
        vec![vnic(0), vnic(1), vnic(2)],
        [pool_entry(POD1, 1)].into(),
    );
    let report = reconcile_in(&node, &inputs, &ReconcileConfig::default());

    let reason = |n: u8| match &report.vnics[&vnic(n).id].readiness {
        Readiness::NotReady { reason, .. } => Some(*reason),
        Readiness::Ready => None,
    };
    assert_eq!(reason(0), None);
    assert_eq!(reason(1), Some(NotReadyReason::AmbiguousLink));
    assert_eq!(reason(2), Some(NotReadyReason::LinkNotFound));
    assert_eq!(report.changes.routes_added, 0);
    assert!(ip(&["-n", &node, "link", "show", "eth1"]).contains("state DOWN"));
}

#[test]
fn bare_metal_vnics_get_macvlan_and_vlan_links() {
    if !privileged("bare_metal_vnics_get_macvlan_and_vlan_links") {
        return;
    }
    if !support::kernel_has_vlan() {
        // A missing kernel feature is not a missing package: CI cannot install it, so this
        // test skips (loudly) even under CI on kernels built without 802.1Q.
        eprintln!("skipping bare_metal_vnics_get_macvlan_and_vlan_links: kernel lacks 802.1Q");
        return;
    }
    let mut topology = Topology::bare_metal(3);
    let pod1 = topology.add_pod("p1", POD1, 1);
    let pod2 = topology.add_pod("p2", POD2, 2);
    let vcn = topology.vcn.clone();
    let node = topology.node.clone();
    let config = ReconcileConfig::default().with_attachment(AttachmentMode::BareMetal);
    let vnics = vec![
        vnic(0),
        vnic(1).with_vlan_tag(101),
        vnic(2).with_vlan_tag(102),
    ];
    let inputs = NodeInputs::new(
        vnics.clone(),
        [pool_entry(POD1, 1), pool_entry(POD2, 2)].into(),
    );

    let report = reconcile_in(&node, &inputs, &config);

    assert!(report.all_ready(), "{report:#?}");
    assert_eq!(report.changes.links_created, 4);
    assert_eq!(report.vnics[&vnic(1).id].link.as_deref(), Some("ociv101"));
    assert_eq!(
        route_dev(&node, &REMOTE.to_string(), &POD2.to_string(), "lxcp2"),
        "ociv102"
    );
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
    assert_eq!(tcp_exchange(&vcn, &pod2, POD2), Ok(IpAddr::V4(REMOTE)));

    let again = reconcile_in(&node, &inputs, &config);
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    // VNIC 2 detached: its VLAN and macvlan links go.
    let fewer = NodeInputs::new(vnics[..2].to_vec(), [pool_entry(POD1, 1)].into());
    let report = reconcile_in(&node, &fewer, &config);
    assert_eq!(report.changes.links_deleted, 2);
    let links = ip(&["-n", &node, "-o", "link", "show"]);
    assert!(
        !links.contains("ociv102") && !links.contains("ocim102"),
        "{links}"
    );
    assert_eq!(tcp_exchange(&pod1, &vcn, REMOTE), Ok(IpAddr::V4(POD1)));
}
