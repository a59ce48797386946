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
        env.add_node(&format!("worker-{index}"), SHAPE, Some(2.0), 4)
            .await;
    }
    let operator = env
        .start_operator(env.config("op-a", &["--pre-allocate", "8"]))
        .await;

    assert!(env.wait_pods(Duration::from_secs(20)).await, "pods started");
    let full = env
        .wait_until(Duration::from_secs(20), |env| {
            env.pools().values().all(|pool| pool.len() >= 12)
        })
        .await;
    assert!(full, "pools: {:?}", env.pools());

    // A create whose pool write is still on its way is not a leak: wait for it to land.
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    operator.stop().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_beyond_one_vnic_attaches_and_gates() {
    let mut env = Env::start("10.0.64.0/20").await;
    env.add_node("big", SHAPE, Some(4.0), 5).await;
    let subnet = env.pod_subnet.clone();
    let config = env.config("op-a", &["--subnet-ids", &subnet, "--pre-allocate", "8"]);
    let operator = env.start_operator(config).await;
    assert!(env.wait_pods(Duration::from_secs(20)).await);

    env.agent("big").set_desired_pods(45);
    let attached = env
        .wait_until(Duration::from_secs(30), |env| {
            let instance = &env.instances["big"];
            let view = env.oci.instance(instance).expect("instance");
            view.vnics.len() >= 2 && env.agent("big").stats().pods_running == 45
        })
        .await;
    assert!(attached, "stats {:?}", env.agent("big").stats());

    let node = env.kube.cilium_node("big").expect("CiliumNode");
    let pool = node["spec"]["ipam"]["pool"].as_object().expect("pool");
    let resources: std::collections::BTreeSet<&str> = pool
        .values()
        .filter_map(|entry| entry["resource"].as_str())
        .collect();
    assert!(
        resources.len() >= 2,
        "addresses on several VNICs: {resources:?}"
    );

    let record = env
        .kube
        .store()
        .object("ocinetworknodes.oci-ipam.io", "", "big")
        .expect("OciNetworkNode");
    assert!(
        record["spec"]["vnics"]
            .as_array()
            .is_some_and(|vnics| vnics.len() >= 2)
    );

    let counters = env.oci.counters();
    let attaches = counters.successes(oci_sim::Operation::AttachVnic);
    let vnics = env
        .oci
        .instance(&env.instances["big"])
        .expect("instance")
        .vnics
        .len() as u64;
    assert_eq!(attaches, vnics - 1, "one AttachVnic per secondary VNIC");
    let creates = counters.successes(oci_sim::Operation::CreatePrivateIp);
    assert_eq!(
        creates as usize,
        env.audit().ours,
        "one CreatePrivateIp per address"
    );

    // A create whose pool write is still on its way is not a leak: wait for it to land.
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    operator.stop().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_exhaustion_is_reported() {
    let mut env = Env::start("10.0.64.0/28").await;
    env.add_node("small", SHAPE, Some(4.0), 2).await;
    let subnet = env.pod_subnet.clone();
    let config = env.config(
        "op-a",
        &[
            "--subnet-ids",
            &subnet,
            "--first-interface-index",
            "1",
            "--pre-allocate",
            "20",
        ],
    );
    let operator = env.start_operator(config).await;

    let reported = env
        .wait_until(Duration::from_secs(30), |env| {
            env.kube.cilium_node("small").is_some_and(|node| {
                node["status"]["ipam"]["operator-status"]["error"]
                    .as_str()
                    .is_some()
            })
        })
        .await;
    assert!(reported, "operator-status.error set");

    let node = env.kube.cilium_node("small").expect("node");
    let error = node["status"]["ipam"]["operator-status"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.to_lowercase().contains("subnet"),
        "error names the subnet: {error}"
    );

    let warned = env
        .wait_until(Duration::from_secs(10), |env| {
            env.kube
                .store()
                .objects("events.events.k8s.io")
                .iter()
                .any(|event| {
                    event["type"] == "Warning"
                        && event["reason"]
                            .as_str()
                            .is_some_and(|reason| reason.contains("Subnet"))
                })
        })
        .await;
    assert!(
        warned,
        "a Warning Event: {:?}",
        env.kube.store().objects("events.events.k8s.io")
    );

    let metrics = operator.metrics.encode().expect("metrics");
    assert!(
        metrics
            .contains("oci_ipam_node_blocked{target_node=\"small\",reason=\"subnetExhausted\"} 1"),
        "{metrics}"
    );
    operator.stop().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_is_released_through_the_handshake() {
    let mut env = Env::start("10.0.64.0/20").await;
    env.add_node("shrink", SHAPE, Some(2.0), 20).await;
    let config = env.config(
        "op-a",
        &[
            "--pre-allocate",
            "4",
            "--release-excess-ips",
            "--excess-ip-release-delay",
            "300ms",
        ],
    );
    let operator = env.start_operator(config).await;
    assert!(env.wait_pods(Duration::from_secs(20)).await);
    let before = env.pools()["shrink"].len();

    env.agent("shrink").set_desired_pods(2);
    let shrunk = env
        .wait_until(Duration::from_secs(30), |env| {
            env.pools()["shrink"].len() <= 10
        })
        .await;
    assert!(
        shrunk,
        "pool went from {before} to {:?}",
        env.pools()["shrink"].len()
    );

    let stats = env.agent("shrink").stats();
    assert!(stats.release_acks > 0, "{stats:?}");
    let deletes = env
        .oci
        .counters()
        .successes(oci_sim::Operation::DeletePrivateIp);
    assert!(deletes > 0);
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    operator.stop().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_nodes_are_forgotten() {
    let mut env = Env::start("10.0.64.0/20").await;
    env.add_node("stay", SHAPE, Some(2.0), 3).await;
    env.add_node("leave", SHAPE, Some(2.0), 3).await;
    let operator = env.start_operator(env.config("op-a", &[])).await;
    assert!(env.wait_pods(Duration::from_secs(20)).await);

    env.remove_node("leave");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls_after = env.oci.counters().total(oci_sim::Operation::GetInstance);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let metrics = operator.metrics.encode().expect("metrics");
    assert!(!metrics.contains("target_node=\"leave\""), "{metrics}");
    assert_eq!(
        env.oci.counters().total(oci_sim::Operation::GetInstance),
        calls_after,
        "no calls for the removed instance"
    );
    // A create whose pool write is still on its way is not a leak: wait for it to land.
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    operator.stop().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_stops() {
    let mut env = Env::start("10.0.64.0/20").await;
    env.add_node("first", SHAPE, Some(2.0), 3).await;
    let a = env.start_operator(env.config("op-a", &[])).await;
    assert!(env.wait_pods(Duration::from_secs(20)).await);
    let b = env.start_operator(env.config("op-b", &[])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.metrics.is_leader.get(), 1);
    assert_eq!(b.metrics.is_leader.get(), 0);

    a.stop().await;
    env.add_node("second", SHAPE, Some(2.0), 3).await;
    assert!(
        env.wait_pods(Duration::from_secs(20)).await,
        "the standby served the new node"
    );
    assert_eq!(b.metrics.is_leader.get(), 1);

    // A create whose pool write is still on its way is not a leak: wait for it to land.
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    b.stop().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_realistic_faults() {
    let mut env = Env::start("10.0.64.0/20").await;
    let spec = oci_sim::FaultSpec::none()
        .with_too_many_requests(0.05)
        .with_internal_error(0.02)
        .with_lost_response(0.02)
        .with_hang(0.01, Duration::from_millis(300));
    env.oci
        .set_faults(oci_sim::FaultSettings::seeded(7).with_default(spec))
        .expect("faults");
    for index in 0..3 {
        env.add_node(&format!("worker-{index}"), SHAPE, Some(4.0), 20)
            .await;
    }
    let subnet = env.pod_subnet.clone();
    let operator = env
        .start_operator(env.config("op-a", &["--subnet-ids", &subnet]))
        .await;

    assert!(
        env.wait_pods(Duration::from_secs(40)).await,
        "pods started despite faults"
    );
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    assert!(
        env.oci
            .counters()
            .injected(oci_sim::Operation::CreatePrivateIp)
            > 0
    );
    operator.stop().await;
    env.shutdown().await;
}
