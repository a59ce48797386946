//! `/readyz` as the module documentation of `server` states it: not ready before the control
//! loop runs, then ready on the leader and on the standby alike.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_ipam_operator::controller::Controller;
use oci_ipam_operator::metrics::Metrics;
use oci_ipam_operator::oci_client;
use oci_ipam_operator::plan::IpamCorePlanner;
use oci_ipam_operator::reconcile::Engine;
use oci_ipam_operator::server::Health;
use support::Env;
use tokio_util::sync::CancellationToken;

/// One replica's controller, not yet running, and its health.
fn replica(env: &Env, identity: &str) -> (Controller, Arc<Health>, Arc<Metrics>) {
    let config = env.config(identity, &[]);
    let metrics = Metrics::new();
    let key = oci_auth::PrivateKey::from_pem(&env.user.private_key_pem().expect("pem"), None)
        .expect("key");
    let credentials =
        oci_auth::Credentials::new(oci_auth::KeyId::from_raw(env.user.key_id()), Arc::new(key));
    let provider = Arc::new(oci_auth::StaticProvider::new(credentials));
    let oci = oci_client::build(
        &config,
        provider,
        None,
        "oc1",
        metrics.clone(),
        oci_api::RetryPolicy::no_retries(),
    )
    .expect("client");
    let engine = Arc::new(Engine::new(
        Arc::new(oci),
        env.client.clone(),
        Arc::new(config),
        metrics.clone(),
        Arc::new(IpamCorePlanner),
    ));
    let health = Health::new(Duration::from_secs(60));
    let controller = Controller::new(engine, env.client.clone(), metrics.clone(), health.clone());
    (controller, health, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_and_standby_are_ready_once_their_loops_run() {
    let env = Env::start("10.0.64.0/20").await;
    let (first, first_health, first_metrics) = replica(&env, "op-a");
    let (second, second_health, second_metrics) = replica(&env, "op-b");

    assert!(!first_health.is_ready(), "not ready before the loop runs");
    assert!(!second_health.is_ready(), "not ready before the loop runs");

    let stop = CancellationToken::new();
    let first_run = tokio::spawn(first.run(stop.clone()));
    let second_run = tokio::spawn(second.run(stop.clone()));

    let deadline = Instant::now() + Duration::from_secs(10);
    let leaders = || first_metrics.is_leader.get() + second_metrics.is_leader.get();
    let settled = || leaders() == 1 && first_health.is_ready() && second_health.is_ready();
    while !settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(leaders(), 1, "exactly one replica leads");
    assert!(first_health.is_ready(), "op-a is ready");
    assert!(second_health.is_ready(), "op-b is ready");

    stop.cancel();
    let _ = first_run.await;
    let _ = second_run.await;
    env.shutdown().await;
}
