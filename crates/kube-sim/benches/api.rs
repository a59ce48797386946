//! kube-sim's costs: validating and pruning a CiliumNode against Cilium's schema in process,
//! and round trips through a kube-rs client (GET, merge patch of the pool, LIST of 100 nodes).
//! Run with `cargo bench -p kube-sim`.

// Benchmark setup failures abort the run.
#![allow(
    clippy::unwrap_used,
    clippy::missing_docs_in_private_items,
    missing_docs
)]

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube_sim::schema::Schema;
use kube_sim::{KubeSim, NodeSpec, Settings};
use serde_json::{Value, json};

fn cilium_node(pool_size: u32) -> Value {
    let pool: serde_json::Map<String, Value> = (0..pool_size)
        .map(|i| {
            let ip = format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255);
            (
                ip,
                json!({"resource": "ocid1.vnic.oc1.iad.aaaa", "owner": ""}),
            )
        })
        .collect();
    json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": {"name": "w"},
        "spec": {"ipam": {"pool": pool, "pre-allocate": 8}, "oci": {"pruned": true}},
        "status": {"ipam": {"used": {}}},
    })
}

fn schema(c: &mut Criterion) {
    let crd: Value = serde_yaml::from_str(kube_sim::CILIUM_NODE_CRD_1_15_7).unwrap();
    let schema = Schema::from_json(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]);
    let object = cilium_node(256);

    c.bench_function(
        "schema/prune_and_validate_ciliumnode_256_pool_entries",
        |b| {
            b.iter(|| {
                let mut copy = object.clone();
                assert!(schema.prune_and_validate(&mut copy).is_empty());
            });
        },
    );
}

fn http(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime
        .block_on(KubeSim::start(Settings::default()))
        .unwrap();
    let client = runtime.block_on(sim.client()).unwrap();
    for i in 0..100 {
        sim.add_node(&NodeSpec::oci(&format!("n{i:03}"), "ocid1.instance.oc1..x"))
            .unwrap();
    }
    let gvk = GroupVersionKind::gvk("cilium.io", "v2", "CiliumNode");
    let cilium_nodes: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "ciliumnodes"),
    );
    let object: DynamicObject = serde_json::from_value(cilium_node(64)).unwrap();
    runtime
        .block_on(cilium_nodes.create(&Default::default(), &object))
        .unwrap();
    let nodes: Api<Node> = Api::all(client);

    c.bench_function("http/get_ciliumnode_64_pool_entries", |b| {
        b.iter(|| runtime.block_on(cilium_nodes.get("w")).unwrap());
    });

    let mut toggle = 0_u32;
    c.bench_function("http/merge_patch_ciliumnode_pool", |b| {
        b.iter(|| {
            toggle += 1;
            let patch = Patch::Merge(json!({"spec": {"ipam": {"pre-allocate": toggle % 50}}}));
            runtime
                .block_on(cilium_nodes.patch("w", &PatchParams::default(), &patch))
                .unwrap()
        });
    });

    c.bench_function("http/list_100_nodes", |b| {
        b.iter(|| {
            runtime
                .block_on(nodes.list(&ListParams::default()))
                .unwrap()
        });
    });
}

criterion_group!(benches, schema, http);
criterion_main!(benches);
