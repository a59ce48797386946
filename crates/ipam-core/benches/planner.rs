//! Parse time and plan time at 1,000 and 10,000 nodes, in one run.
//!
//! Design §9 sets the target: planning a 10,000-node snapshot costs at most a quarter of
//! parsing it. The snapshot is the synthetic cluster `cargo xtask gen-snapshot` writes (same
//! generator, seed 42, pretty-printed JSON), parsed with [`ipam_core::parse_snapshot`] as the
//! planner CLI does. `cargo xtask bench planner` runs this and reports the ratio.

// Benchmark setup failing is a bug in the benchmark; it should stop loudly.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

const SIZES: [usize; 2] = [1_000, 10_000];

fn planner(c: &mut Criterion) {
    for nodes in SIZES {
        let snapshot = ipam_core::synthetic(nodes, 42).unwrap();
        let text = serde_json::to_string_pretty(&snapshot).unwrap();

        let mut group = c.benchmark_group(format!("planner/{nodes}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(if nodes > 1_000 { 4 } else { 2 }));

        group.bench_function("parse", |b| {
            b.iter(|| ipam_core::parse_snapshot(black_box(&text)).unwrap());
        });
        group.bench_function("plan", |b| b.iter(|| ipam_core::plan(black_box(&snapshot))));
        group.finish();
    }
}

criterion_group!(benches, planner);
criterion_main!(benches);
