//! Real-shaped CiliumNodes of both Cilium versions deserialize without loss, and every patch
//! k8s-glue builds conforms to both versions' schemas.

use std::net::IpAddr;

use k8s_glue::cilium::AllocationMap;
use k8s_glue::ipam::{IpamFields, gate_pool, patches};
use k8s_glue::{AllocationIp, CiliumNode, ReleaseState};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::schema::{Mode, check};
use crate::{VNIC_B, cilium_schema};

const V1_15: &str = include_str!("data/ciliumnode-v1.15.7-crd-mode.json");
const V1_20: &str = include_str!("data/ciliumnode-v1.20.0-dev-eni-mode.json");

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn fixtures_conform_to_their_cilium_schema() {
    for (fixture, version) in [(V1_15, "1.15.7"), (V1_20, "1.20.0-dev")] {
        let value: Value = serde_json::from_str(fixture).unwrap();
        let problems = check(&value, &cilium_schema(version), Mode::Object);
        assert!(problems.is_empty(), "{version}: {problems:#?}");
    }
}

#[test]
fn a_cilium_1_15_node_reads_with_our_fields_typed_and_round_trips_unchanged() {
    let original: Value = serde_json::from_str(V1_15).unwrap();
    let node: CiliumNode = serde_json::from_value(original.clone()).unwrap();

    assert_eq!(
        node.spec.instance_id.as_deref(),
        Some("ocid1.instance.oc1.phx.anyhqljtexampleinstance")
    );
    assert_eq!(node.spec.ipam.pool.len(), 7);
    assert_eq!(
        node.spec.ipam.pool[&ip("10.0.20.40")].owner,
        "oci-ipam:vnic-not-ready"
    );
    assert_eq!(node.spec.ipam.pre_allocate, Some(8));
    assert_eq!(node.spec.ipam.min_allocate, Some(4));
    assert_eq!(node.spec.ipam.max_allocate, None);
    assert_eq!(node.spec.ipam.max_above_watermark, Some(2));
    assert_eq!(node.used()[&ip("10.0.10.150")].owner, "router");
    assert_eq!(
        node.release_ips()[&ip("10.0.10.160")],
        ReleaseState::ReadyForRelease
    );
    assert!(node.spec.other.contains_key("addresses"));

    let fields = IpamFields::of(&node);
    assert_eq!(fields.operator_error, None);

    assert_eq!(serde_json::to_value(&node).unwrap(), original);
}

#[test]
fn a_cilium_1_20_eni_node_reads_and_round_trips_unchanged() {
    let original: Value = serde_json::from_str(V1_20).unwrap();
    let node: CiliumNode = serde_json::from_value(original.clone()).unwrap();

    assert_eq!(
        node.spec.instance_id.as_deref(),
        Some("i-0a9b8c7d6e5f40312")
    );
    assert_eq!(node.spec.ipam.pool.len(), 3);
    assert!(node.spec.ipam.other.contains_key("ipv6-pool"));
    assert_eq!(node.used().len(), 2);
    assert_eq!(
        IpamFields::of(&node).operator_error.as_deref(),
        Some("unable to assign static IP: no matching tags")
    );
    let status = node.status.as_ref().unwrap();
    assert!(status.other.contains_key("eni"));
    assert!(status.ipam.other.contains_key("ipv6-used"));

    assert_eq!(serde_json::to_value(&node).unwrap(), original);
}

/// A named change to a CiliumNode's IPAM fields.
type Change = (&'static str, fn(&mut IpamFields));

/// Representative changes the operator makes, from each fixture's state.
fn changes() -> Vec<Change> {
    vec![
        ("claim the instance", |f| {
            f.instance_id = Some("ocid1.instance.oc1.phx.other".into())
        }),
        ("add addresses", |f| {
            f.pool.insert(ip("10.0.30.5"), AllocationIp::on(VNIC_B));
            f.pool.insert(ip("10.0.30.6"), AllocationIp::on(VNIC_B));
        }),
        ("gate every VNIC", |f| {
            gate_pool(&mut f.pool, |_| false);
        }),
        ("open every VNIC", |f| {
            gate_pool(&mut f.pool, |_| true);
        }),
        ("drop a free address", |f| {
            let free: Vec<IpAddr> = f
                .pool
                .keys()
                .copied()
                .filter(|a| a.to_string().ends_with(".153") || a.to_string().ends_with(".232"))
                .collect();
            for address in free {
                f.pool.remove(&address);
            }
        }),
        ("set every knob", |f| {
            f.pre_allocate = Some(16);
            f.min_allocate = Some(0);
            f.max_allocate = Some(62);
            f.max_above_watermark = Some(4);
        }),
        ("clear every knob", |f| {
            f.pre_allocate = None;
            f.min_allocate = None;
            f.max_allocate = None;
            f.max_above_watermark = None;
        }),
        ("mark, then release", |f| {
            f.release_ips
                .insert(ip("10.0.10.153"), ReleaseState::MarkedForRelease);
            f.release_ips
                .insert(ip("10.0.10.160"), ReleaseState::Released);
        }),
        ("forget a handshake", |f| f.release_ips.clear()),
        ("report an error", |f| {
            f.operator_error = Some("subnet ocid1.subnet.oc1.phx.s is full".into())
        }),
        ("clear the error", |f| f.operator_error = None),
        ("empty the pool", |f| f.pool = AllocationMap::new()),
    ]
}

#[test]
fn every_patch_conforms_to_both_cilium_schemas() {
    let schemas = [cilium_schema("1.15.7"), cilium_schema("1.20.0-dev")];
    let mut unexercised: std::collections::BTreeSet<&str> =
        changes().iter().map(|(what, _)| *what).collect();

    for fixture in [V1_15, V1_20] {
        let node: CiliumNode = serde_json::from_str(fixture).unwrap();
        for (what, change) in changes() {
            let before = IpamFields::of(&node);
            let mut after = before.clone();
            change(&mut after);

            let patches = patches(&before, &after);
            for patch in [patches.status, patches.spec].into_iter().flatten() {
                let mut patch = patch;
                patch["metadata"] = json!({"resourceVersion": "1"});
                for schema in &schemas {
                    let problems = check(&patch, schema, Mode::MergePatch);
                    assert!(problems.is_empty(), "{what}: {patch}: {problems:#?}");
                }
                unexercised.remove(what);
            }
        }
    }

    assert!(
        unexercised.is_empty(),
        "changes that produced no patch: {unexercised:?}"
    );
}

#[test]
fn the_checker_catches_what_the_api_server_would_refuse_or_prune() {
    let schema = cilium_schema("1.15.7");
    let bad = [
        json!({"spec": {"ipam": {"pre-allocate": -1}}}),
        json!({"spec": {"oci": {"vnics": {}}}}),
        json!({"spec": {"ipam": {"pool": {"10.0.0.1": {"owner": 7}}}}}),
        json!({"status": {"ipam": {"release-ips": {"10.0.0.1": "gone"}}}}),
    ];
    for patch in bad {
        assert!(
            !check(&patch, &schema, Mode::MergePatch).is_empty(),
            "{patch}"
        );
    }
}
