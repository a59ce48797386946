//! How many calls per second the simulator sustains on this machine, over loopback HTTP.
//!
//! - `get_instance_presigned/8`: eight keep-alive connections replaying requests signed
//!   once (the server still parses and verifies every signature), so the client costs
//!   little and the number is the simulator's own capacity;
//! - `get_instance_signed/1`: one connection, a fresh RSA signature per request: the full
//!   round trip (sign + HTTP + verify + parse) one SDK-like client sees;
//! - `create_delete_private_ip/4`: four connections, each iteration a CreatePrivateIp and a
//!   DeletePrivateIp, both freshly signed.
//!
//! Run with `cargo bench -p oci-sim --bench sim_throughput`.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;

use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;
use http::HeaderMap;
use http::Method;
use oci_auth::KeyId;
use oci_auth::PrivateKey;
use oci_auth::SignableBody;
use oci_auth::SignableRequest;
use oci_auth::SigningParams;
use oci_sim::Sim;
use oci_sim::World;

#[allow(clippy::disallowed_methods)]
fn now() -> SystemTime {
    SystemTime::now()
}

struct Signer {
    key_id: KeyId,
    key: PrivateKey,
}

impl Signer {
    fn sign(&self, method: &Method, url: &url::Url, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let request = SignableRequest::new(method, url, &headers, SignableBody::Bytes(body));
        oci_auth::sign(&request, SigningParams::new(&self.key_id, &self.key, now()))
            .unwrap()
            .apply_to(&mut headers);
        headers
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = World::sample(1);
    let instance = world.instances[0].id.clone();
    let (sim, signer) = runtime.block_on(async {
        let sim = Sim::start(world).await.unwrap();
        let user = sim.create_user("bench", None).unwrap();
        let key = PrivateKey::from_pem(&user.private_key_pem().unwrap(), None).unwrap();
        (
            sim,
            Arc::new(Signer {
                key_id: KeyId::from_raw(user.key_id()),
                key,
            }),
        )
    });
    sim.set_secondary_ips_per_vnic(u32::MAX);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let get_url = url::Url::parse(&format!("{}/instances/{instance}", sim.api_base_url())).unwrap();

    let mut group = c.benchmark_group("oci-sim");
    group.throughput(Throughput::Elements(1));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));

    let presigned = signer.sign(&Method::GET, &get_url, b"");
    group.bench_function("get_instance_presigned/8", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                let mut tasks = Vec::new();
                for worker in 0..8u64 {
                    let (http, url, headers) = (http.clone(), get_url.clone(), presigned.clone());
                    let count = iters / 8 + u64::from(worker < iters % 8);
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..count {
                            let response = http
                                .get(url.clone())
                                .headers(headers.clone())
                                .send()
                                .await
                                .unwrap();
                            assert_eq!(response.status(), 200);
                            let _ = response.bytes().await.unwrap();
                        }
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
                started.elapsed()
            })
        });
    });

    group.bench_function("get_instance_signed/1", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let headers = signer.sign(&Method::GET, &get_url, b"");
                    let response = http
                        .get(get_url.clone())
                        .headers(headers)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    let body: serde_json::Value = response.json().await.unwrap();
                    assert!(body["id"].is_string());
                }
                started.elapsed()
            })
        });
    });

    let vnic = runtime.block_on(async {
        let view = sim.instance(&instance).unwrap();
        view.vnics[0].id.clone()
    });
    let create_url = url::Url::parse(&format!("{}/privateIps", sim.api_base_url())).unwrap();
    group.throughput(Throughput::Elements(2));
    group.bench_function("create_delete_private_ip/4", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                let mut tasks = Vec::new();
                for worker in 0..4u64 {
                    let (http, signer, create_url) =
                        (http.clone(), signer.clone(), create_url.clone());
                    let body = serde_json::json!({ "vnicId": vnic }).to_string();
                    let count = iters / 4 + u64::from(worker < iters % 4);
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..count {
                            let headers = signer.sign(&Method::POST, &create_url, body.as_bytes());
                            let response = http
                                .post(create_url.clone())
                                .headers(headers)
                                .body(body.clone())
                                .send()
                                .await
                                .unwrap();
                            assert_eq!(response.status(), 200);
                            let ip: serde_json::Value = response.json().await.unwrap();
                            let id = ip["id"].as_str().unwrap();
                            let url = create_url.join(&format!("privateIps/{id}")).unwrap();
                            let headers = signer.sign(&Method::DELETE, &url, b"");
                            let response = http.delete(url).headers(headers).send().await.unwrap();
                            assert_eq!(response.status(), 204);
                        }
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
                started.elapsed()
            })
        });
    });
    group.finish();

    let counters = sim.counters();
    eprintln!(
        "served: GetInstance {}, CreatePrivateIp {}, DeletePrivateIp {}",
        counters.successes(oci_sim::Operation::GetInstance),
        counters.successes(oci_sim::Operation::CreatePrivateIp),
        counters.successes(oci_sim::Operation::DeletePrivateIp)
    );
    drop(sim);
}

criterion_group!(benches, bench);
criterion_main!(benches);
