//! One full round trip (sign + HTTP over loopback + parse) against `oci-sim`.
//!
//! `cargo bench -p oci-api --bench round_trip`; the median per call is criterion's estimate.

// Benchmark set-up failures are fatal; there is no caller to return them to.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use oci_api::prelude::*;
use oci_api::{Client, Endpoint, RateLimits, RetryPolicy};
use oci_auth::{Credentials, KeyId, PrivateKey, SignableBody, SignableRequest, StaticProvider};
use oci_sim::{Sim, World};

const KEY_PEM: &str = include_str!("../tests/data/test-key.pem");

fn round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let world = World::sample(1);
    let sim = runtime.block_on(Sim::start(world.clone())).unwrap();
    let key = PrivateKey::from_pem(KEY_PEM, None).unwrap();
    let user = "ocid1.user.oc1..benchuser";
    let fingerprint = sim
        .register_api_key(user, &key.public_key().to_pem())
        .unwrap();
    let key_id = KeyId::from_raw(format!("{}/{user}/{fingerprint}", sim.tenancy()));
    let client = Client::builder()
        .endpoint(Endpoint::parse(&sim.endpoint()).unwrap())
        .credentials(Arc::new(StaticProvider::new(Credentials::new(
            key_id,
            Arc::new(key),
        ))))
        .rate_limits(RateLimits::unlimited())
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let subnet: SubnetId = world.instances[0].subnet_id.parse().unwrap();
    let compartment: CompartmentId = world.compartments[0].id.parse().unwrap();
    let instance: InstanceId = world.instances[0].id.parse().unwrap();
    let attachments = ListVnicAttachmentsRequest::of_instance(compartment, instance);

    let mut group = c.benchmark_group("oci_api_round_trip");
    let signer = Credentials::new(
        KeyId::from_raw("ocid1.tenancy.oc1..t/ocid1.user.oc1..u/00:11"),
        Arc::new(PrivateKey::from_pem(KEY_PEM, None).unwrap()),
    );
    let url = url::Url::parse(&format!("{}/20160918/subnets/{subnet}", sim.endpoint())).unwrap();
    let headers = http::HeaderMap::new();
    group.bench_function("sign only (share of a call)", |b| {
        b.iter(|| {
            let request =
                SignableRequest::new(&http::Method::GET, &url, &headers, SignableBody::Bytes(&[]));
            signer
                .sign(&request, std::time::SystemTime::UNIX_EPOCH)
                .unwrap()
        });
    });
    group.bench_function("GetSubnet", |b| {
        b.iter(|| runtime.block_on(client.get_subnet(&subnet)).unwrap());
    });
    group.bench_function("ListVnicAttachments page", |b| {
        b.iter(|| {
            runtime
                .block_on(client.list_vnic_attachments_page(&attachments, None))
                .unwrap()
        });
    });
    group.finish();

    runtime.block_on(sim.shutdown());
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
