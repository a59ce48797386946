//! End-to-end: the operator library against oci-sim and kube-sim over HTTP, with simulated
//! Cilium agents and a simulated node agent.

mod support;

use std::time::Duration;

use support::Env;

const SHAPE: &str = "VM.Standard.E4.Flex";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_fills_every_node() {
    let mut env = Env::start("10.0.64.0/20").await;
    for index in 0..3 {
        env.add_node(&format!("worker-{index}"), SHAPE, Some(2.0), 4).await;
    }
    let operator = env.start_operator(env.config("op-a", &["--pre-allocate", "8"])).await;

    assert!(env.wait_pods(Duration::from_secs(20)).await, "pods started");
    let full = env
        .wait_until(Duration::from_secs(20), |env| env.pools().values().all(|pool| pool.len() >= 12))
        .await;
    assert!(full, "pools: {:?}", env.pools());

    let audit = env.audit();
    assert!(audit.is_clean(), "{audit:?}");
    operator.stop().await;
    env.shutdown().await;
}
