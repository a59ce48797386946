//! `cargo xtask demo`: the real operator binary against simulated OCI and Kubernetes.
//!
//! It starts oci-sim (with a little latency) and kube-sim in this process, writes an OCI
//! config file with a fresh API key and a kubeconfig, builds and launches
//! `oci-ipam-operator` over HTTP against both, then plays a cluster's life: nodes of mixed
//! shapes join with simulated Cilium agents whose pods ramp up, pods churn, half the nodes
//! leave. A simulated node agent reports secondary VNICs ready. Progress prints every
//! second; a summary ends the run: addresses allocated and released, VNICs attached, OCI
//! calls per address, time to converge, pods that waited, and an audit for leaked or
//! duplicated addresses. Everything stays on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_glue::crd::{OciNetworkNodes, VnicRole, VnicState, VnicStatus};
use kube_sim::{AgentHandle, AgentSettings, KubeSim, NodeSpec};
use oci_sim::{InstanceSpec, Operation, Sim, World};
use tokio_util::sync::CancellationToken;

use crate::process::{Failure, Result, cargo, run, workspace_root};

/// Options for `cargo xtask demo`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Nodes to scale up to.
    #[arg(long, default_value_t = 8)]
    nodes: usize,
    /// Pods per node after the ramp (more than ~30 needs a second VNIC).
    #[arg(long, default_value_t = 40)]
    pods: usize,
    /// Pods replaced per node in each churn round.
    #[arg(long, default_value_t = 8)]
    churn: usize,
    /// Churn rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The operator's private-IP write budget (calls per second). OCI publishes no limit;
    /// the operator's default is 4, the demo's is higher so it finishes in under a minute.
    #[arg(long, default_value_t = 40.0)]
    qps: f64,
    /// Give up waiting for convergence after this many seconds per phase.
    #[arg(long, default_value_t = 45)]
    timeout: u64,
}

const CLUSTER: &str = "demo";
const AD: &str = "Uocm:US-ASHBURN-AD-1";
const SHAPES: [(&str, Option<f64>); 4] = [
    ("VM.Standard.E4.Flex", Some(2.0)),
    ("VM.Standard.E4.Flex", Some(4.0)),
    ("VM.Standard3.Flex", Some(4.0)),
    ("VM.Standard2.4", None),
];

/// Runs the demo.
pub(crate) fn demo(args: &Args) -> Result {
    run(
        "build the operator",
        cargo().args(["build", "-p", "oci-ipam-operator"]),
    )?;
    let binary = target_dir().join("debug").join("oci-ipam-operator");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| Failure(format!("starting the tokio runtime: {err}")))?;
    runtime.block_on(play(args, binary))
}

struct Cluster {
    oci: Sim,
    kube: KubeSim,
    compartment: String,
    node_subnet: String,
    agents: BTreeMap<String, AgentHandle>,
    instances: BTreeMap<String, String>,
}

async fn play(args: &Args, binary: PathBuf) -> Result {
    let started = Instant::now();
    let workdir = target_dir().join("xtask-demo");
    let _ = std::fs::remove_dir_all(&workdir);
    std::fs::create_dir_all(&workdir).map_err(|err| fail("creating target/xtask-demo", err))?;

    let (mut cluster, pod_subnet) = start_cluster().await?;
    let user = cluster
        .oci
        .create_user("oci-ipam-operator", None)
        .map_err(|e| fail("user", e))?;
    let files = user
        .write_config(&workdir.join("oci"))
        .map_err(|e| fail("OCI config", e))?;
    say(&format!(
        "oci-sim on {}, kube-sim on {}; OCI config {}, kubeconfig {}",
        cluster.oci.endpoint(),
        cluster.kube.base_url(),
        files.config.display(),
        cluster.kube.kubeconfig_path().display()
    ));

    let node_agent = CancellationToken::new();
    let client = cluster
        .kube
        .client()
        .await
        .map_err(|e| fail("kube client", e))?;
    tokio::spawn(simulate_node_agents(client, node_agent.clone()));

    let metrics_port = free_port()?;
    let mut operator = launch(
        args,
        &binary,
        &cluster,
        &files.config,
        &pod_subnet,
        metrics_port,
        &workdir,
    )?;
    say(&format!(
        "operator pid {} (metrics http://127.0.0.1:{metrics_port}/metrics, log {})",
        operator.id(),
        workdir.join("operator.log").display()
    ));

    say(&format!(
        "scale up: {} nodes of mixed shapes, {} pods each",
        args.nodes, args.pods
    ));
    let scale_started = Instant::now();
    for index in 0..args.nodes {
        let (shape, ocpus) = SHAPES[index % SHAPES.len()];
        add_node(
            &mut cluster,
            &format!("node-{index:02}"),
            shape,
            ocpus,
            args.pods,
        )
        .await?;
    }
    let converged = wait_converged(&cluster, args.pods, args.timeout, &mut operator).await?;
    let converge_time = scale_started.elapsed();
    say(&format!(
        "scale-up {} in {:.1} s",
        if converged {
            "converged"
        } else {
            "did NOT converge"
        },
        converge_time.as_secs_f64()
    ));

    for round in 1..=args.rounds {
        say(&format!(
            "churn round {round}: {} pods replaced on every node",
            args.churn
        ));
        for agent in cluster.agents.values() {
            agent.churn(args.churn);
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        wait_converged(&cluster, args.pods, args.timeout, &mut operator).await?;
    }

    let fewer = args.pods / 2;
    say(&format!(
        "pods scale down to {fewer} per node: excess addresses go back via the handshake"
    ));
    for agent in cluster.agents.values() {
        agent.set_desired_pods(fewer);
    }
    wait_converged(&cluster, fewer, args.timeout, &mut operator).await?;
    wait_released(&cluster, fewer, args.timeout).await;

    let leaving: Vec<String> = cluster
        .agents
        .keys()
        .skip(args.nodes / 2)
        .cloned()
        .collect();
    say(&format!("scale down: {} nodes leave", leaving.len()));
    for name in &leaving {
        if let Some(instance) = cluster.instances.remove(name) {
            cluster
                .oci
                .terminate_instance(&instance)
                .map_err(|e| fail("terminate", e))?;
        }
        cluster
            .kube
            .delete_node(name)
            .map_err(|e| fail("delete node", e))?;
        cluster.agents.remove(name);
    }
    wait_converged(&cluster, fewer, args.timeout, &mut operator).await?;

    let summary = summarise(&cluster, &pod_subnet, converge_time);
    stop(&mut operator);
    node_agent.cancel();
    print!("{summary}");
    say(&format!(
        "demo finished in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    if !converged {
        return Err(Failure(
            "the cluster did not converge; see the operator log".into(),
        ));
    }
    Ok(())
}

/// Starts oci-sim with `world` and kube-sim with our CRD registered, both on loopback.
pub(crate) async fn start_stand_ins(world: World) -> Result<(Sim, KubeSim)> {
    let oci = Sim::start(world)
        .await
        .map_err(|e| fail("starting oci-sim", e))?;
    let kube = KubeSim::start(kube_sim::Settings::default())
        .await
        .map_err(|e| fail("starting kube-sim", e))?;
    let crd = k8s_glue::crd::crd_yaml().map_err(|e| fail("rendering the CRD", e))?;
    kube.register_crd_yaml(&crd)
        .map_err(|e| fail("registering the CRD", e))?;
    Ok((oci, kube))
}

async fn start_cluster() -> Result<(Cluster, String)> {
    let mut world = World::new("us-ashburn-1");
    let compartment = world.add_compartment("oci-ipam-demo");
    let vcn = world.add_vcn(&compartment, "10.0.0.0/16");
    let node_subnet = world.add_subnet(&vcn, &compartment, "10.0.0.0/22");
    let pod_subnet = world.add_subnet(&vcn, &compartment, "10.0.64.0/18");
    world.attach = oci_sim::AttachSettings::new(300, 100, 0.0);
    let latency = oci_sim::Latency::Uniform {
        min_ms: 5,
        max_ms: 25,
    };
    world.faults = oci_sim::FaultSettings::seeded(1)
        .with_default(oci_sim::FaultSpec::none().with_latency(latency));

    let (oci, kube) = start_stand_ins(world).await?;

    let cluster = Cluster {
        oci,
        kube,
        compartment,
        node_subnet,
        agents: BTreeMap::new(),
        instances: BTreeMap::new(),
    };
    Ok((cluster, pod_subnet))
}

fn launch(
    args: &Args,
    binary: &std::path::Path,
    cluster: &Cluster,
    config: &std::path::Path,
    pod_subnet: &str,
    metrics_port: u16,
    workdir: &std::path::Path,
) -> Result<Child> {
    let log = std::fs::File::create(workdir.join("operator.log"))
        .map_err(|err| fail("creating the operator log", err))?;
    let qps = args.qps.to_string();
    let burst = (args.qps as u32).max(1).to_string();

    Command::new(binary)
        .env("KUBECONFIG", cluster.kube.kubeconfig_path())
        .env("RUST_LOG", "info")
        .args(["--cluster-name", CLUSTER, "--oci-auth", "config-file"])
        .arg("--oci-config-file")
        .arg(config)
        .args([
            "--oci-endpoint",
            &cluster.oci.endpoint(),
            "--subnet-ids",
            pod_subnet,
        ])
        .args([
            "--limit-ipam-api-private-ip-qps",
            &qps,
            "--limit-ipam-api-private-ip-burst",
            &burst,
        ])
        .args([
            "--limit-ipam-api-read-qps",
            "200",
            "--limit-ipam-api-read-burst",
            "200",
        ])
        .args([
            "--limit-ipam-api-vnic-attach-qps",
            "5",
            "--limit-ipam-api-vnic-attach-burst",
            "5",
        ])
        .args([
            "--resync-interval",
            "30s",
            "--vnic-attach-poll-interval",
            "100ms",
        ])
        .args(["--release-excess-ips", "--excess-ip-release-delay", "2s"])
        .args([
            "--leader-election-identity",
            "demo-operator",
            "--log-format",
            "text",
        ])
        .args([
            "--operator-prometheus-serve-addr",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .args([
            "--operator-api-serve-addr",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|err| fail("launching oci-ipam-operator", err))
}

async fn add_node(
    cluster: &mut Cluster,
    name: &str,
    shape: &str,
    ocpus: Option<f64>,
    pods: usize,
) -> Result {
    let spec = InstanceSpec::new(&cluster.compartment, shape, ocpus, AD, &cluster.node_subnet)
        .with_display_name(name);
    let instance = cluster
        .oci
        .add_instance(spec)
        .map_err(|e| fail("launch an instance", e))?;
    cluster
        .kube
        .add_node(&NodeSpec::oci(name, &instance))
        .map_err(|e| fail("add a Node", e))?;
    let settings = AgentSettings::fast(Duration::from_millis(500)).desired_pods(pods);
    let agent = cluster
        .kube
        .start_agent(name, settings)
        .await
        .map_err(|e| fail("agent", e))?;
    cluster.agents.insert(name.to_owned(), agent);
    cluster.instances.insert(name.to_owned(), instance);
    Ok(())
}

/// Waits until pools shrank to about what `pods` pods need (pre-allocate 8 spare).
async fn wait_released(cluster: &Cluster, pods: usize, timeout: u64) {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    while Instant::now() < deadline {
        let pool: usize = cluster
            .agents
            .values()
            .map(|agent| agent.stats().pool_size)
            .sum();
        let released = cluster.oci.counters().successes(Operation::DeletePrivateIp);
        if pool <= (pods + 8 + 2) * cluster.agents.len() {
            say(&format!(
                "  pools shrank to {pool} addresses ({released} released)"
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints progress every second until every agent runs `pods` pods with none pending.
async fn wait_converged(
    cluster: &Cluster,
    pods: usize,
    timeout: u64,
    operator: &mut Child,
) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        if let Ok(Some(status)) = operator.try_wait() {
            return Err(Failure(format!(
                "the operator exited ({status}); see its log"
            )));
        }
        let (running, pending, pool) = cluster.agents.values().fold((0, 0, 0), |acc, agent| {
            let stats = agent.stats();
            (
                acc.0 + stats.pods_running,
                acc.1 + stats.pods_pending,
                acc.2 + stats.pool_size,
            )
        });
        let counters = cluster.oci.counters();
        say(&format!(
            "  nodes {:>3}  pods {:>5}/{:<5} pending {:>4}  pool {:>5}  VNICs attached {:>3}  \
             OCI calls {:>6}",
            cluster.agents.len(),
            running,
            pods * cluster.agents.len(),
            pending,
            pool,
            counters.successes(Operation::AttachVnic),
            Operation::ALL
                .iter()
                .map(|op| counters.total(*op))
                .sum::<u64>(),
        ));
        if running == pods * cluster.agents.len() && pending == 0 {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn summarise(cluster: &Cluster, pod_subnet: &str, converge: Duration) -> String {
    let counters = cluster.oci.counters();
    let created = counters.successes(Operation::CreatePrivateIp);
    let deleted = counters.successes(Operation::DeletePrivateIp);
    let attached = counters.successes(Operation::AttachVnic);
    let total: u64 = Operation::ALL.iter().map(|op| counters.total(*op)).sum();
    let mutating = counters.mutating_successes();
    let waited: u64 = cluster
        .agents
        .values()
        .map(|agent| agent.stats().failed_pod_starts)
        .sum();
    let violations = cluster.kube.violations();

    let mut pools: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in cluster.agents.keys() {
        let pool = cluster
            .kube
            .cilium_node(name)
            .and_then(|node| node["spec"]["ipam"]["pool"].as_object().cloned())
            .map(|pool| pool.keys().cloned().collect())
            .unwrap_or_default();
        pools.insert(name.clone(), pool);
    }
    let in_pools: usize = pools.values().map(BTreeSet::len).sum();
    let unique: BTreeSet<&String> = pools.values().flatten().collect();
    let ours: Vec<_> = cluster
        .oci
        .subnet_private_ips(pod_subnet)
        .into_iter()
        .chain(cluster.oci.subnet_private_ips(&cluster.node_subnet))
        .filter(|ip| {
            !ip.is_primary
                && ip.freeform_tags.get("oci-ipam-cluster").map(String::as_str) == Some(CLUSTER)
        })
        .collect();
    let leaked = ours
        .iter()
        .filter(|ip| !unique.contains(&ip.address.to_string()))
        .count();

    let per_address = |calls: u64| {
        if created == 0 {
            0.0
        } else {
            calls as f64 / created as f64
        }
    };
    let writes = per_address(created + attached);
    let all = per_address(total);
    let other_writes = mutating - created - attached - deleted;
    format!(
        "\nsummary\n\
         \x20 addresses allocated (CreatePrivateIp)  {created}\n\
         \x20 addresses released (DeletePrivateIp)   {deleted}\n\
         \x20 VNICs attached (AttachVnic)            {attached}\n\
         \x20 create+attach calls per address        {writes:.2}\n\
         \x20 OCI calls in total (per address)       {total} ({all:.2})\n\
         \x20 other mutating calls                   {other_writes}\n\
         \x20 time to converge after scale-up        {:.1} s\n\
         \x20 pod start retries (no free address yet) {waited}\n\
         \x20 addresses in pools / ours in OCI       {in_pools} / {}\n\
         \x20 leaked / duplicated                    {leaked} / {}\n\
         \x20 in-use addresses dropped (agents)      {}\n",
        converge.as_secs_f64(),
        ours.len(),
        in_pools - unique.len(),
        violations.len(),
    )
}

/// The node agent's part: every VNIC recorded in an OciNetworkNode is reported Ready.
async fn simulate_node_agents(client: kube::Client, stop: CancellationToken) {
    let records = OciNetworkNodes::new(client);
    while !stop.is_cancelled() {
        if let Ok(list) = records.api().list(&Default::default()).await {
            for record in list.items {
                let name = record.metadata.name.clone().unwrap_or_default();
                let ready: BTreeSet<String> = record
                    .status
                    .iter()
                    .flat_map(|status| status.vnics.iter())
                    .filter(|vnic| vnic.state == VnicState::Ready)
                    .map(|vnic| vnic.vnic_id.to_string())
                    .collect();
                let missing: Vec<_> = record
                    .spec
                    .vnics
                    .iter()
                    .filter(|vnic| !ready.contains(vnic.vnic_id.as_str()))
                    .collect();
                if missing.is_empty() {
                    continue;
                }

                let written = records
                    .update_status(&name, |status| {
                        for vnic in &missing {
                            status.vnics.retain(|known| known.vnic_id != vnic.vnic_id);
                            status
                                .vnics
                                .push(VnicStatus::new(vnic.vnic_id.clone(), VnicState::Ready));
                        }
                    })
                    .await;

                // What a real node agent's Ready report changes: the operator ungates the
                // secondary VNIC's addresses, and pods start on them.
                if written.is_ok() {
                    for vnic in missing
                        .iter()
                        .filter(|vnic| vnic.role == VnicRole::Secondary)
                    {
                        say(&format!(
                            "  node agent on {name}: secondary VNIC {} (index {}) ready; its \
                             addresses go to pods",
                            short_ocid(vnic.vnic_id.as_str()),
                            vnic.index,
                        ));
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asks the operator to stop (SIGTERM), as Kubernetes would, and waits for it.
fn stop(operator: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &operator.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = operator.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = operator.kill();
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail("free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| fail("free port", e))?
        .port();
    Ok(port)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The last characters of an OCID: enough to tell a demo's VNICs apart.
fn short_ocid(ocid: &str) -> String {
    let tail: String = ocid.chars().rev().take(8).collect();
    format!("...{}", tail.chars().rev().collect::<String>())
}

fn say(line: &str) {
    println!("demo: {line}");
}

fn fail(what: &str, err: impl std::fmt::Display) -> Failure {
    Failure(format!("{what}: {err}"))
}
