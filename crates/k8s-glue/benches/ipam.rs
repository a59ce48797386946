//! What one CiliumNode costs the operator on each watch event and each write: deserializing
//! it, and building the merge patches of a one-address change, for pools of 64 and 1024.
//!
//! Run with `cargo bench -p k8s-glue --bench ipam`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_glue::ipam::{IpamFields, patches};
use k8s_glue::{AllocationIp, CiliumNode};
use serde_json::{Map, Value, json};

fn node_json(addresses: u32) -> String {
    let address = |i: u32| Ipv4Addr::from(0x0a00_0000 + i).to_string();
    let pool: Map<String, Value> = (0..addresses)
        .map(|i| (address(i), json!({"resource": "ocid1.vnic.oc1.phx.a"})))
        .collect();
    let used: Map<String, Value> = (0..addresses / 2)
        .map(|i| {
            (
                address(i),
                json!({"owner": format!("default/pod-{i}"), "resource": "ocid1.vnic.oc1.phx.a"}),
            )
        })
        .collect();

    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNode",
        "metadata": {"name": "worker-1", "resourceVersion": "1"},
        "spec": {"ipam": {"pool": pool, "pre-allocate": 8}, "addresses": [{"ip": "10.0.0.1", "type": "InternalIP"}]},
        "status": {"ipam": {"used": used}},
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    for addresses in [64, 1024] {
        let text = node_json(addresses);
        c.bench_function(
            &format!("deserialize CiliumNode, {addresses} addresses"),
            |b| {
                b.iter(|| serde_json::from_str::<CiliumNode>(black_box(&text)).unwrap());
            },
        );

        let node: CiliumNode = serde_json::from_str(&text).unwrap();
        c.bench_function(
            &format!("patches for one new address, {addresses} addresses"),
            |b| {
                b.iter(|| {
                    let before = IpamFields::of(black_box(&node));
                    let mut after = before.clone();
                    after.pool.insert(
                        IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
                        AllocationIp::on("ocid1.vnic.oc1.phx.b"),
                    );
                    patches(&before, &after)
                });
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
