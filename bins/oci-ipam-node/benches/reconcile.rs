//! What a reconcile pass costs: the pure desired-state computation for a large node, and a
//! steady-state kernel pass (observe, diff, nothing to change) in a network namespace with
//! two secondary VNICs and 64 pool addresses (skipped without root).
//!
//! Run with `cargo bench -p oci-ipam-node`.

// Benchmark setup failing is a bug in the benchmark; it should stop loudly.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, unreachable_pub)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use oci_ipam_node::{
    Datapath, DesiredConfig, NodeInputs, OwnerProtocol, PoolAddress, ReconcileConfig,
    desired_state, reconcile,
};

/// 24 secondary VNICs with 31 addresses each (a large bare-metal node): 744 addresses.
fn large_node() -> NodeInputs {
    let vnics = (0..=24u8)
        .map(|n| support::vnic(n).with_attachment_index(u32::from(n)))
        .collect();
    let pool = (1..=24u8)
        .flat_map(|n| {
            (10..41u8).map(move |host| PoolAddress {
                ip: Ipv4Addr::new(10, 77, n, host),
                vnic: support::vnic_id(n),
            })
        })
        .collect();
    NodeInputs::new(vnics, pool)
}

fn pure(c: &mut Criterion) {
    let inputs = large_node();
    let config = DesiredConfig::default();
    let (adopted, foreign) = (BTreeMap::new(), BTreeSet::new());

    let mut group = c.benchmark_group("desired_state");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("24 vnics, 744 addresses", |b| {
        b.iter(|| desired_state(black_box(&inputs), &config, &adopted, &foreign));
    });
    group.finish();
}

fn kernel(c: &mut Criterion) {
    if !support::privileged("bench kernel/steady pass") {
        return;
    }
    let topology = support::Topology::vm(3);
    let pool: BTreeSet<PoolAddress> = (1..=2u8)
        .flat_map(|n| {
            (10..42u8).map(move |host| support::pool_entry(Ipv4Addr::new(10, 77, n, host), n))
        })
        .collect();
    let inputs = NodeInputs::new(
        vec![support::vnic(0), support::vnic(1), support::vnic(2)],
        pool,
    );
    let config = ReconcileConfig::default();
    assert!(support::reconcile_in(&topology.node, &inputs, &config).all_ready());

    // The netlink socket belongs to the namespace it was opened in, so it is opened on a
    // thread inside the node namespace and then used from here. `/proc/sys` would show this
    // thread's (the host's) namespace, so the steady passes read a copy of the sysctls the
    // first pass set; the host's sysctls are never touched.
    let (runtime, datapath) = support::in_netns(&topology.node, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let datapath = runtime
            .block_on(async { Datapath::connect(OwnerProtocol::default()) })
            .unwrap();
        (runtime, datapath)
    });
    let sysctls = std::env::temp_dir().join(format!("oci-ipam-node-bench-{}", std::process::id()));
    for link in ["eth1", "eth2"] {
        let dir = sysctls.join("net/ipv4/conf").join(link);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rp_filter"), "2\n").unwrap();
    }
    let config = ReconcileConfig::default().with_sysctl_root(sysctls.clone());

    let mut group = c.benchmark_group("kernel");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("steady pass, 2 vnics, 64 addresses", |b| {
        b.iter(|| {
            let report = runtime
                .block_on(reconcile(&datapath, &inputs, &config))
                .unwrap();
            assert!(
                report.changes.is_empty() && report.all_ready(),
                "{report:?}"
            );
        });
    });
    group.finish();
    std::fs::remove_dir_all(&sysctls).unwrap();
}

criterion_group!(benches, pure, kernel);
criterion_main!(benches);
