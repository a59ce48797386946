//! Property tests for the planner's invariants, over synthetic clusters with varied policies
//! and subnets squeezed until they run out:
//!
//! - no address is promised twice: per subnet, the addresses a plan hands out never exceed
//!   what was free, and no address appears in two release actions;
//! - no VNIC gets more than `ipsPerVnic`, no node more VNICs than it may attach, at most one
//!   attach per node and none while one is in flight;
//! - a node's used addresses are never marked or released;
//! - the same input, in any node or subnet order, yields the same plan;
//! - planning, applying the plan's effects and planning again converges to a plan without
//!   actions, and a node that was not short after one plan needs nothing from the next.

// Helpers outside `#[test]` functions are test code too; failing loudly is what they are for.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipam_core::vnic_limits::{IpsPerVnic, SecondaryVnics};
use ipam_core::{
    Action, Plan, ReleaseExcess, ShortfallReason, Snapshot, SubnetId, apply, max_vnics, plan,
    synthetic,
};
use proptest::prelude::*;

/// Knobs applied on top of a synthetic cluster.
#[derive(Debug, Clone)]
struct Variation {
    nodes: usize,
    seed: u64,
    ips_per_vnic: u32,
    first_vnic_index: u32,
    pre_allocate: u32,
    min_allocate: u32,
    max_allocate: u32,
    max_above_watermark: u32,
    release: bool,
    attach: bool,
    subnet_choice: u8,
    squeeze: Vec<u8>,
    order: Vec<usize>,
}

fn variation() -> impl Strategy<Value = Variation> {
    (
        (
            1usize..40,
            any::<u64>(),
            prop_oneof![Just(31u32), Just(32), Just(64), 8u32..40],
        ),
        (
            0u32..3,
            0u32..20,
            prop_oneof![Just(0u32), 5u32..40],
            prop_oneof![Just(0u32), 20u32..150],
        ),
        (0u32..6, any::<bool>(), any::<bool>(), 0u8..3),
        (
            proptest::collection::vec(any::<u8>(), 8),
            proptest::collection::vec(any::<usize>(), 40),
        ),
    )
        .prop_map(|(a, b, c, d)| Variation {
            nodes: a.0,
            seed: a.1,
            ips_per_vnic: a.2,
            first_vnic_index: b.0,
            pre_allocate: b.1,
            min_allocate: b.2,
            max_allocate: b.3,
            max_above_watermark: c.0,
            release: c.1,
            attach: c.2,
            subnet_choice: c.3,
            squeeze: d.0,
            order: d.1,
        })
}

fn build(v: &Variation) -> Snapshot {
    let mut snapshot = synthetic(v.nodes, v.seed).unwrap();
    let policy = &mut snapshot.policy;
    policy.ips_per_vnic = IpsPerVnic::new(v.ips_per_vnic).unwrap();
    policy.first_vnic_index = v.first_vnic_index;
    policy.pre_allocate = v.pre_allocate;
    policy.min_allocate = v.min_allocate;
    policy.max_allocate = v.max_allocate;
    policy.max_above_watermark = v.max_above_watermark;
    policy.release_excess = if v.release {
        ReleaseExcess::Release
    } else {
        ReleaseExcess::Keep
    };
    policy.secondary_vnics = if v.attach {
        SecondaryVnics::Attach
    } else {
        SecondaryVnics::Never
    };
    match v.subnet_choice {
        0 => {}
        1 => policy.subnet_tags.clear(),
        _ => {
            policy.subnet_tags.clear();
            policy.subnet_ids = snapshot
                .subnets
                .iter()
                .skip(3)
                .map(|s| s.id.clone())
                .collect();
        }
    }

    // Squeeze some subnets toward exhaustion: never below what the snapshot itself holds.
    let held = held_per_subnet(&snapshot);
    for (subnet, squeeze) in snapshot.subnets.iter_mut().zip(&v.squeeze) {
        let floor = held.get(&subnet.id).copied().unwrap_or(0);
        let usable = u32::try_from(subnet.cidr.usable()).unwrap_or(u32::MAX);
        let free = usable.saturating_sub(subnet.allocated_ips.max(floor));
        let keep = match squeeze % 4 {
            0 => free,
            1 => free / 2,
            2 => u32::from(*squeeze % 20),
            _ => 0,
        };
        subnet.allocated_ips = usable - keep.min(free);
    }
    snapshot
}

fn held_per_subnet(snapshot: &Snapshot) -> HashMap<SubnetId, u32> {
    let mut held = HashMap::new();
    for node in &snapshot.nodes {
        for vnic in &node.vnics {
            *held.entry(vnic.subnet_id.clone()).or_default() += 1 + vnic.secondary_ips.len() as u32;
        }
    }
    held
}

fn shuffled(snapshot: &Snapshot, order: &[usize]) -> Snapshot {
    let mut copy = snapshot.clone();
    for (i, pick) in order.iter().enumerate() {
        let len = copy.nodes.len();
        if len > 1 {
            copy.nodes.swap(i % len, pick % len);
        }
        let len = copy.subnets.len();
        copy.subnets.swap(i % len, pick % len);
    }
    copy
}

/// Addresses each subnet gives to the plan's assignments and attaches.
fn consumed(snapshot: &Snapshot, plan: &Plan) -> HashMap<SubnetId, u64> {
    let vnic_subnet: HashMap<_, _> = snapshot
        .nodes
        .iter()
        .flat_map(|node| {
            node.vnics
                .iter()
                .map(|vnic| (vnic.id.clone(), vnic.subnet_id.clone()))
        })
        .collect();

    let mut taken: HashMap<SubnetId, u64> = HashMap::new();
    for node in &plan.nodes {
        for action in &node.actions {
            match action {
                Action::AssignPrivateIps { vnic_id, count } => {
                    *taken.entry(vnic_subnet[vnic_id].clone()).or_default() += u64::from(*count);
                }
                Action::AttachVnic {
                    subnet_id,
                    then_assign,
                    ..
                } => {
                    *taken.entry(subnet_id.clone()).or_default() += 1 + u64::from(*then_assign);
                }
                _ => {}
            }
        }
    }
    taken
}

fn check_invariants(snapshot: &Snapshot, plan: &Plan) {
    let policy = &snapshot.policy;
    let ips_per_vnic = u64::from(policy.ips_per_vnic.get());

    // Subnets: never over-committed, and the plan's own bookkeeping agrees.
    let taken = consumed(snapshot, plan);
    for subnet in &plan.subnets {
        let before = snapshot
            .subnets
            .iter()
            .find(|s| s.id == subnet.id)
            .unwrap()
            .free();
        let used = taken.get(&subnet.id).copied().unwrap_or(0);
        assert!(
            used <= before,
            "subnet {} gives {used} of {before}",
            subnet.id
        );
        assert_eq!(subnet.free_before, before);
        assert!(subnet.free_after >= before - used);
    }

    let nodes: HashMap<_, _> = snapshot.nodes.iter().map(|n| (n.name.clone(), n)).collect();
    let mut released: HashSet<Ipv4Addr> = HashSet::new();
    for node_plan in &plan.nodes {
        let node = nodes[&node_plan.name];
        let used: HashSet<Ipv4Addr> = node.used.iter().copied().collect();
        let mut attaches = 0;

        for action in &node_plan.actions {
            match action {
                Action::AssignPrivateIps { vnic_id, count } => {
                    let vnic = node.vnics.iter().find(|v| v.id == *vnic_id).unwrap();
                    assert!(
                        vnic.index >= policy.first_vnic_index,
                        "assign below first index"
                    );
                    assert!(vnic.secondary_ips.len() as u64 + u64::from(*count) <= ips_per_vnic);
                    assert!(*count > 0);
                }
                Action::AttachVnic {
                    index, then_assign, ..
                } => {
                    attaches += 1;
                    assert!(u64::from(*then_assign) <= ips_per_vnic);
                    assert!(*index >= policy.first_vnic_index.max(1));
                    assert!(node.vnics.iter().all(|v| v.index != *index), "index taken");
                    assert_eq!(node.attaching_vnics, 0, "attach while one is in flight");
                    assert_eq!(policy.secondary_vnics, SecondaryVnics::Attach);
                    let limit = max_vnics(node).unwrap().max_vnics;
                    assert!(node.vnics.len() < limit as usize, "VNIC limit exceeded");
                }
                Action::MarkForRelease { ips } => {
                    for ip in ips {
                        assert!(!used.contains(ip), "used address {ip} marked");
                        assert!(released.insert(*ip), "{ip} in two release actions");
                    }
                }
                Action::ReleasePrivateIps { vnic_id, ips } => {
                    let vnic = node.vnics.iter().find(|v| v.id == *vnic_id).unwrap();
                    for ip in ips {
                        assert!(!used.contains(ip), "used address {ip} released");
                        assert!(vnic.secondary_ips.contains(ip), "{ip} is not on {vnic_id}");
                        assert!(released.insert(*ip), "{ip} in two release actions");
                    }
                }
                other => panic!("unexpected action {other:?}"),
            }
        }
        assert!(attaches <= 1, "{} attaches on {}", attaches, node_plan.name);

        // A `vnicLimit` shortfall means the VNICs are full: none keeps room that a full
        // subnet left empty (that is `subnetExhausted`).
        if let Some(shortfall) = &node_plan.shortfall
            && shortfall.reason == ShortfallReason::VnicLimit
        {
            for vnic in node.pool_vnics(policy) {
                let assigned: u64 = node_plan
                    .actions
                    .iter()
                    .map(|action| match action {
                        Action::AssignPrivateIps { vnic_id, count } if *vnic_id == vnic.id => {
                            u64::from(*count)
                        }
                        _ => 0,
                    })
                    .sum();
                assert!(
                    vnic.secondary_ips.len() as u64 + assigned >= ips_per_vnic,
                    "{} has room: {}",
                    vnic.id,
                    shortfall.message
                );
            }
        }
    }
}

fn allocation_actions(plan: &Plan, node: &str) -> usize {
    plan.nodes
        .iter()
        .filter(|n| n.name.as_str() == node)
        .flat_map(|n| &n.actions)
        .filter(|a| {
            matches!(
                a,
                Action::AssignPrivateIps { .. } | Action::AttachVnic { .. }
            )
        })
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn plans_keep_every_invariant(v in variation()) {
        let snapshot = build(&v);
        let first = plan(&snapshot);
        check_invariants(&snapshot, &first);

        // Deterministic, and independent of the order nodes and subnets are listed in.
        prop_assert_eq!(&first, &plan(&snapshot.clone()));
        prop_assert_eq!(&first, &plan(&shuffled(&snapshot, &v.order)));
    }

    #[test]
    fn planning_converges(v in variation()) {
        let mut state = build(&v);
        let first = plan(&state);

        for round in 0..64 {
            let current = plan(&state);
            check_invariants(&state, &current);
            if current.nodes.iter().all(|n| n.actions.is_empty()) {
                break;
            }
            prop_assert!(round < 63, "no fixed point after 64 rounds");

            let next = apply(&state, &current).unwrap();
            if round == 0 {
                // A node the first plan fully served needs no new addresses next time.
                let second = plan(&next);
                // Releases shrink the pool, so nodes that release are left out.
                let settled = first.nodes.iter().filter(|n| {
                    n.shortfall.is_none()
                        && !n.actions.iter().any(|a| matches!(a, Action::ReleasePrivateIps { .. }))
                });
                for node in settled {
                    prop_assert_eq!(allocation_actions(&second, node.name.as_str()), 0,
                        "{} asked again", node.name);
                }
            }
            state = next;
        }

        // The applied state never places an address twice.
        let mut seen = HashSet::new();
        for node in &state.nodes {
            for vnic in &node.vnics {
                prop_assert!(seen.insert(vnic.primary_ip));
                for ip in &vnic.secondary_ips {
                    prop_assert!(seen.insert(*ip), "{} placed twice", ip);
                }
            }
        }
    }
}
