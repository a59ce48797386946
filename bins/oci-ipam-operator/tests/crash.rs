//! The crash test: the operator is killed at random instants while it allocates, 20 times,
//! and restarted each time. After convergence no address may be leaked (ours in OCI but in
//! no pool) or duplicated (in two pools), no in-use address may ever have left a pool (the
//! simulated agents watch for it), and the OCI calls stay within budget.

mod support;

use std::time::Duration;

use rand::{Rng, SeedableRng};
use support::Env;

const KILLS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_twenty_times_it_converges_without_leaks() {
    let mut env = Env::start("10.0.64.0/20").await;
    let spec = oci_sim::FaultSpec::none().with_lost_response(0.02);
    env.oci
        .set_faults(oci_sim::FaultSettings::seeded(11).with_default(spec))
        .expect("faults");
    for index in 0..4 {
        env.add_node(
            &format!("worker-{index}"),
            "VM.Standard.E4.Flex",
            Some(4.0),
            2,
        )
        .await;
    }
    let subnet = env.pod_subnet.clone();
    let config = env.config("op-a", &["--subnet-ids", &subnet, "--pre-allocate", "6"]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);

    for kill in 0..KILLS {
        let operator = env.start_operator(config.clone()).await;
        if kill % 4 == 0 {
            let pods = rng.gen_range(10..45);
            let node = format!("worker-{}", rng.gen_range(0..4));
            env.agent(&node).set_desired_pods(pods);
        }
        let alive = Duration::from_millis(rng.gen_range(50..600));
        tokio::time::sleep(alive).await;
        operator.kill();
    }

    for agent in &env.agents {
        agent.set_desired_pods(40);
    }
    let operator = env.start_operator(config).await;
    assert!(
        env.wait_pods(Duration::from_secs(60)).await,
        "every pod got an address"
    );
    let audit = env.wait_clean().await;
    assert!(audit.is_clean(), "{audit:?}");
    assert!(audit.violations.is_empty(), "{:?}", audit.violations);

    let counters = env.oci.counters();
    let creates = counters.successes(oci_sim::Operation::CreatePrivateIp);
    let addresses = audit.ours as u64;
    let deletes = counters.successes(oci_sim::Operation::DeletePrivateIp);
    assert!(
        creates <= addresses + deletes,
        "creates {creates} for {addresses} addresses ({deletes} deleted): duplicates were made"
    );
    let attaches = counters.successes(oci_sim::Operation::AttachVnic);
    let vnics: usize = env
        .instances
        .values()
        .map(|id| env.oci.instance(id).expect("instance").vnics.len() - 1)
        .sum();
    assert_eq!(
        attaches, vnics as u64,
        "one AttachVnic per VNIC, none duplicated"
    );

    operator.stop().await;
    env.shutdown().await;
}
