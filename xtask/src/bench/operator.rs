//! `cargo xtask bench operator`: the release `oci-ipam-operator` against oci-sim and
//! kube-sim, measured against the project's API-call and memory targets.
//!
//! The simulators run in this process; the operator runs as its own process (the release
//! binary, as `cargo xtask demo` runs the debug one) so that its peak resident memory can be
//! read from `/proc/<pid>/status` (`VmHWM`). Every OCI call pays a latency drawn from
//! [`latency_model`]: reads 20–60 ms, private-IP writes 100–300 ms, VNIC attaches 200–400 ms.
//! The operator's defaults (rate limits, pre-allocate) are read from its own `--help`, so the
//! floors below follow the binary under test.
//!
//! Phases (`--phases`, all by default):
//!
//! 1. `default`: `--default-nodes` nodes (40) join at once, each with a simulated Cilium agent
//!    running `--pods` pods (6), against the operator with every setting at its default
//!    (private-IP writes 4/s, burst 20). The wall time until every node's pool meets its need
//!    (agents' pods all running, usage reported, `pool - used >= pre-allocate`) is compared
//!    with the floor the write budget sets: `(addresses needed - burst) / rate`.
//! 2. `scaled`: the same with `--nodes` nodes (500), the read and private-IP write rates
//!    multiplied by `--scale` (10), bursts kept: 500 nodes at 4 writes/s would take over 20
//!    minutes, too long for a benchmark. Then the idle window: the simulated OCI clock jumps
//!    five minutes and the bench waits `--idle-secs` (60) of wall time with the operator's
//!    resync interval at a third of that, so every node is resynced at least three times
//!    (five idle minutes at the default 5 min interval resync each node once). Mutating OCI
//!    calls and Kubernetes writes in the window are counted.
//! 3. `memory`: `--memory-nodes` nodes (5,000) whose CiliumNodes the bench writes as the agent
//!    would (no agent tasks: 5,000 watchers would swamp two cores), rate limits lifted, other
//!    settings default. Peak RSS once every pool is full, then again for a restarted operator
//!    that finds the full cluster and reads every node from OCI again (what a resync pass
//!    does, all at once).
//!
//! Calls per address come from oci-sim's counters (every call the simulator received,
//! failed ones included) over the addresses in the pools at the end of a scale-up.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube_sim::agent::AgentPhase;
use kube_sim::{AgentHandle, AgentSettings, KubeSim, NodeSpec, Verb};
use oci_sim::{Counters, FaultSettings, FaultSpec, InstanceSpec, Latency, Operation, Sim, World};
use serde_json::{Value, json};

use super::{target_dir, verdict};
use crate::process::{Failure, Result, cargo, run};

/// Options for `cargo xtask bench operator`.
#[derive(clap::Args)]
#[group(id = "operator_bench")]
pub(crate) struct Args {
    /// Nodes in the scale-up at the operator's default rate limits.
    #[arg(long, default_value_t = 40)]
    default_nodes: usize,
    /// Nodes in the scaled scale-up (followed by the idle window).
    #[arg(long, default_value_t = 500)]
    nodes: usize,
    /// Factor on the default read and private-IP write rates in the scaled scale-up.
    #[arg(long, default_value_t = 10.0)]
    scale: f64,
    /// Pods each simulated agent runs (plus its router and health addresses).
    #[arg(long, default_value_t = 6)]
    pods: usize,
    /// Wall seconds of the idle window; the operator resyncs every third of it.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Nodes in the memory run.
    #[arg(long, default_value_t = 5_000)]
    memory_nodes: usize,
    /// Use the release operator already built instead of building it first.
    #[arg(long)]
    no_build: bool,
    /// Run the operator under this program (e.g. `heaptrack`) to profile it; memory figures
    /// then describe the wrapper's process.
    #[arg(long)]
    wrap: Option<PathBuf>,
    /// Which phases to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_values_t = [Phase::Default, Phase::Scaled, Phase::Memory]
    )]
    phases: Vec<Phase>,
}

/// A phase of the operator benchmark.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Phase {
    /// Scale-up at the default rate limits.
    Default,
    /// Scale-up of `--nodes` at scaled limits, then the idle window.
    Scaled,
    /// Peak memory with `--memory-nodes` nodes.
    Memory,
}

const CLUSTER: &str = "bench";
const AD: &str = "Uocm:US-ASHBURN-AD-1";
const SHAPE: &str = "VM.Standard.E4.Flex";
/// Simulated time the idle window stands for.
const IDLE_SIMULATED: Duration = Duration::from_secs(300);
/// How long the memory run holds the converged cluster before reading the peak.
const MEMORY_HOLD: Duration = Duration::from_secs(15);
/// Cilium agents report usage at most this often in the scale-ups (Cilium's default is 15 s;
/// a shorter rate keeps the agents' share of the convergence time small).
const AGENT_UPDATE: Duration = Duration::from_secs(1);

/// Runs the operator benchmark.
pub(crate) fn bench(args: &Args) -> Result {
    if !args.no_build {
        run(
            "build the release operator",
            cargo().args(["build", "--release", "-p", "oci-ipam-operator"]),
        )?;
    }
    let path = target_dir().join("release").join("oci-ipam-operator");
    let defaults = Defaults::read(&path)?;
    let binary = Launcher {
        path,
        wrap: args.wrap.clone(),
    };
    say(&format!(
        "operator defaults: private-IP writes {}/s burst {}, reads {}/s burst {}, \
         pre-allocate {}",
        defaults.write.0, defaults.write.1, defaults.read.0, defaults.read.1, defaults.pre_allocate
    ));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| Failure(format!("starting the tokio runtime: {err}")))?;
    let workdir = target_dir().join("xtask-bench").join("operator");
    let _ = std::fs::remove_dir_all(&workdir);
    std::fs::create_dir_all(&workdir).map_err(|e| fail("creating the bench directory", e))?;

    let mut report = Report::default();
    if args.phases.contains(&Phase::Default) {
        let result = runtime.block_on(scale_phase(
            &binary,
            &defaults,
            &workdir.join("default"),
            args.default_nodes,
            args.pods,
            None,
        ));
        match result {
            Ok((scale, _)) => report.default = Some(scale),
            Err(err) => report.failures.push(format!("default: {err}")),
        }
    }
    if args.phases.contains(&Phase::Scaled) {
        let result = runtime.block_on(scale_phase(
            &binary,
            &defaults,
            &workdir.join("scaled"),
            args.nodes,
            args.pods,
            Some((args.scale, Duration::from_secs(args.idle_secs))),
        ));
        match result {
            Ok((scale, idle)) => {
                report.scaled = Some(scale);
                report.idle = idle;
            }
            Err(err) => report.failures.push(format!("scaled: {err}")),
        }
    }
    if args.phases.contains(&Phase::Memory) {
        let result = runtime.block_on(memory_phase(
            &binary,
            &defaults,
            &workdir.join("memory"),
            args.memory_nodes,
        ));
        match result {
            Ok(memory) => report.memory = Some(memory),
            Err(err) => report.failures.push(format!("memory: {err}")),
        }
    }

    let (text, ok) = report.render();
    print!("{text}");
    if ok {
        Ok(())
    } else {
        Err(Failure(
            "an operator target was missed; see the report above".to_owned(),
        ))
    }
}

/// How the operator is started: the release binary, maybe under a profiler.
struct Launcher {
    path: PathBuf,
    wrap: Option<PathBuf>,
}

/// The operator's defaults, as its `--help` prints them.
struct Defaults {
    /// Private-IP writes: per second, burst.
    write: (f64, u32),
    /// Reads: per second, burst.
    read: (f64, u32),
    /// `--pre-allocate`.
    pre_allocate: u32,
}

impl Defaults {
    fn read(binary: &Path) -> Result<Self> {
        let output = Command::new(binary)
            .arg("--help")
            .env_clear()
            .output()
            .map_err(|err| fail(&format!("running {} --help", binary.display()), err))?;
        let help = String::from_utf8_lossy(&output.stdout);
        let number = |flag: &str| -> Result<f64> {
            let text = flag_default(&help, flag)?;
            text.parse()
                .map_err(|err| Failure(format!("the default of {flag} `{text}`: {err}")))
        };

        Ok(Self {
            write: (
                number("--limit-ipam-api-private-ip-qps")?,
                number("--limit-ipam-api-private-ip-burst")? as u32,
            ),
            read: (
                number("--limit-ipam-api-read-qps")?,
                number("--limit-ipam-api-read-burst")? as u32,
            ),
            pre_allocate: number("--pre-allocate")? as u32,
        })
    }
}

/// The `[default: X]` clap prints for `flag` in a `--help` text.
fn flag_default(help: &str, flag: &str) -> Result<String> {
    let start = help
        .lines()
        .position(|line| line.trim_start().starts_with(&format!("{flag} ")))
        .ok_or_else(|| Failure(format!("the operator's --help does not list {flag}")))?;
    help.lines()
        .skip(start)
        .enumerate()
        .take_while(|(index, line)| *index == 0 || !line.trim_start().starts_with("--"))
        .find_map(|(_, line)| {
            let rest = &line[line.find("[default: ")? + "[default: ".len()..];
            Some(rest[..rest.find(']')?].to_owned())
        })
        .ok_or_else(|| Failure(format!("the operator's --help shows no default for {flag}")))
}

/// OCI's latencies as the bench models them (OCI publishes none): reads tens of
/// milliseconds, private-IP writes a few hundred, attaches a little more.
fn latency_model() -> FaultSettings {
    let spec = |min_ms, max_ms| FaultSpec::none().with_latency(Latency::Uniform { min_ms, max_ms });
    let write = spec(100, 300);
    let attach = spec(200, 400);

    FaultSettings::seeded(7)
        .with_default(spec(20, 60))
        .with_operation(Operation::CreatePrivateIp, write)
        .with_operation(Operation::UpdatePrivateIp, write)
        .with_operation(Operation::DeletePrivateIp, write)
        .with_operation(Operation::AttachVnic, attach)
        .with_operation(Operation::DetachVnic, attach)
        .with_operation(Operation::Metadata, FaultSpec::none())
        .with_operation(Operation::Federate, FaultSpec::none())
}

/// The simulators and what the operator needs to reach them.
struct Env {
    oci: Sim,
    kube: KubeSim,
    compartment: String,
    node_subnet: String,
    pod_subnet: String,
    config: PathBuf,
    workdir: PathBuf,
}

impl Env {
    async fn start(workdir: &Path) -> Result<Self> {
        std::fs::create_dir_all(workdir).map_err(|e| fail("creating the phase directory", e))?;
        let mut world = World::new("us-ashburn-1");
        let compartment = world.add_compartment("oci-ipam-bench");
        let vcn = world.add_vcn(&compartment, "10.0.0.0/14");
        // Secondary addresses go on the primary VNICs, in the node subnet: room for 5,000
        // nodes with their pools.
        let node_subnet = world.add_subnet(&vcn, &compartment, "10.0.0.0/16");
        let pod_subnet = world.add_subnet(&vcn, &compartment, "10.1.0.0/16");
        world.faults = latency_model();

        let (oci, kube) = crate::demo::start_stand_ins(world).await?;
        let user = oci
            .create_user("oci-ipam-operator", None)
            .map_err(|e| fail("creating the OCI user", e))?;
        let files = user
            .write_config(&workdir.join("oci"))
            .map_err(|e| fail("writing the OCI config", e))?;

        Ok(Self {
            oci,
            kube,
            compartment,
            node_subnet,
            pod_subnet,
            config: files.config,
            workdir: workdir.to_owned(),
        })
    }

    /// Launches an instance and its Node; returns the instance OCID and the Node's uid.
    fn add_node(&self, name: &str) -> Result<(String, String)> {
        let spec = InstanceSpec::new(&self.compartment, SHAPE, Some(4.0), AD, &self.node_subnet)
            .with_display_name(name);
        let instance = self
            .oci
            .add_instance(spec)
            .map_err(|e| fail("launching an instance", e))?;
        let node = self
            .kube
            .add_node(&NodeSpec::oci(name, &instance))
            .map_err(|e| fail("adding a Node", e))?;
        let uid = node["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((instance, uid))
    }

    /// Pool and `used` sizes and the pre-allocate of a CiliumNode.
    fn pool(&self, name: &str, default_pre: u32) -> Option<PoolState> {
        let node = self.kube.cilium_node(name)?;
        let len = |value: &Value| value.as_object().map_or(0, serde_json::Map::len);
        Some(PoolState {
            pool: len(&node["spec"]["ipam"]["pool"]),
            used: len(&node["status"]["ipam"]["used"]),
            pre_allocate: node["spec"]["ipam"]["pre-allocate"]
                .as_u64()
                .map_or(default_pre as usize, |pre| pre as usize),
        })
    }
}

struct PoolState {
    pool: usize,
    used: usize,
    pre_allocate: usize,
}

impl PoolState {
    fn need(&self) -> usize {
        self.used + self.pre_allocate
    }
}

/// The operator process under test.
struct Operator {
    child: Child,
    port: u16,
}

impl Operator {
    fn launch(binary: &Launcher, env: &Env, log_name: &str, extra: &[String]) -> Result<Self> {
        let port = free_port()?;
        let log = std::fs::File::create(env.workdir.join(log_name))
            .map_err(|err| fail("creating the operator log", err))?;
        let address = format!("127.0.0.1:{port}");

        let mut command = match &binary.wrap {
            Some(wrap) => {
                let mut command = Command::new(wrap);
                command.arg(&binary.path);
                command
            }
            None => Command::new(&binary.path),
        };
        let child = command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", env.kube.kubeconfig_path())
            .env("RUST_LOG", "info")
            .args(["--cluster-name", CLUSTER, "--oci-auth", "config-file"])
            .arg("--oci-config-file")
            .arg(&env.config)
            .args(["--oci-endpoint", &env.oci.endpoint()])
            .args(["--subnet-ids", &env.pod_subnet])
            .args(["--leader-election-identity", "bench-operator"])
            .args(["--log-format", "text"])
            .args(["--operator-prometheus-serve-addr", &address])
            .args(["--operator-api-serve-addr", &address])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|err| fail("launching oci-ipam-operator", err))?;
        say(&format!(
            "operator pid {} (log {})",
            child.id(),
            env.workdir.join(log_name).display()
        ));
        Ok(Self { child, port })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the operator exited.
    fn check_alive(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(Failure(format!(
                "the operator exited ({status}); see its log under target/xtask-bench/operator"
            ))),
            _ => Ok(()),
        }
    }

    /// One metric's value (the first sample whose line starts with `name`).
    async fn metric(&self, name: &str) -> Option<f64> {
        let port = self.port;
        let text = tokio::task::spawn_blocking(move || scrape(port))
            .await
            .ok()??;
        text.lines().find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// Waits until the operator leads (its caches start with the term).
    async fn wait_leading(&mut self) -> Result {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            self.check_alive()?;
            if self.metric("oci_ipam_is_leader").await == Some(1.0) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Failure(
            "the operator did not take the Lease within 60 s; see its log".to_owned(),
        ))
    }

    /// SIGTERM, as Kubernetes stops a pod, then a kill after 15 s.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Known gap: if xtask itself is killed, the operator process outlives it (a parent-death
// signal needs unsafe code); stop it by the pid the bench prints when it launches it.
impl Drop for Operator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// The Prometheus text of the operator on `port`, over one plain HTTP GET.
fn scrape(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = Vec::new();
    // A read timeout still leaves what arrived; the server closes after one answer.
    let _ = stream.read_to_end(&mut body);
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// `VmHWM` and `VmRSS` of a process, in KiB.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|line| {
            line.strip_prefix(name)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// User plus system CPU seconds a process used so far (clock ticks of 1/100 s, Linux's
/// `USER_HZ` on every architecture Rust targets).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// What a scale-up measured.
struct Scale {
    nodes: usize,
    pods: usize,
    write: (f64, u32),
    read: (f64, u32),
    converged: bool,
    wall: Duration,
    /// Σ (used + pre-allocate) over the nodes at convergence.
    needed: usize,
    /// Σ pool sizes at convergence.
    in_pools: usize,
    counters: Counters,
    operator_cpu: f64,
}

impl Scale {
    /// The time the write budget needs for `needed` addresses, the burst going first.
    fn floor(&self) -> f64 {
        (self.needed as f64 - f64::from(self.write.1)).max(0.0) / self.write.0
    }

    fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.floor()
    }

    fn read_calls(&self) -> u64 {
        READS.iter().map(|op| self.counters.total(*op)).sum()
    }
}

/// What the idle window measured.
struct Idle {
    wall: Duration,
    resync: Duration,
    counters: Counters,
    reconciles: f64,
    kube_writes: BTreeMap<String, u64>,
}

/// What the memory run measured.
struct Memory {
    nodes: usize,
    addresses: usize,
    converge: Duration,
    /// Peak and current RSS (KiB) after convergence.
    steady: (u64, u64),
    /// Peak and current RSS (KiB) of a restarted operator that reconciled every node once.
    restart: Option<(u64, u64)>,
    restart_converge: Option<Duration>,
}

const READS: [Operation; 9] = [
    Operation::GetVnic,
    Operation::ListVnicAttachments,
    Operation::GetVnicAttachment,
    Operation::GetPrivateIp,
    Operation::ListPrivateIps,
    Operation::GetSubnet,
    Operation::ListSubnets,
    Operation::GetVcn,
    Operation::GetInstance,
];

const MUTATING: [Operation; 7] = [
    Operation::AttachVnic,
    Operation::DetachVnic,
    Operation::CreatePrivateIp,
    Operation::UpdatePrivateIp,
    Operation::DeletePrivateIp,
    Operation::CreateIpv6,
    Operation::DeleteIpv6,
];

fn total_calls(counters: &Counters) -> u64 {
    Operation::ALL.iter().map(|op| counters.total(*op)).sum()
}

fn mutating_calls(counters: &Counters) -> u64 {
    MUTATING.iter().map(|op| counters.total(*op)).sum()
}

/// A scale-up (and, with `scaled`, the idle window after it).
async fn scale_phase(
    binary: &Launcher,
    defaults: &Defaults,
    workdir: &Path,
    nodes: usize,
    pods: usize,
    scaled: Option<(f64, Duration)>,
) -> Result<(Scale, Option<Idle>)> {
    let env = Env::start(workdir).await?;
    let (write, read, extra) = match scaled {
        None => (defaults.write, defaults.read, Vec::new()),
        Some((factor, idle)) => {
            let write = (defaults.write.0 * factor, defaults.write.1);
            let read = (defaults.read.0 * factor, defaults.read.1);
            let resync = (idle / 3).max(Duration::from_secs(1));
            let extra = vec![
                "--limit-ipam-api-private-ip-qps".to_owned(),
                write.0.to_string(),
                "--limit-ipam-api-read-qps".to_owned(),
                read.0.to_string(),
                "--resync-interval".to_owned(),
                format!("{}s", resync.as_secs()),
            ];
            (write, read, extra)
        }
    };
    let label = if scaled.is_some() {
        "scaled"
    } else {
        "default"
    };
    say(&format!(
        "{label}: {nodes} nodes x {pods} pods, private-IP writes {}/s burst {}, reads {}/s \
         burst {}{}",
        write.0,
        write.1,
        read.0,
        read.1,
        if extra.is_empty() {
            ", every other setting default".to_owned()
        } else {
            format!(" ({})", extra.join(" "))
        }
    ));

    let mut operator = Operator::launch(binary, &env, "operator.log", &extra)?;
    operator.wait_leading().await?;
    env.oci.reset_counters();
    let cpu_before = cpu_seconds(operator.pid()).unwrap_or(0.0);

    let needed_guess = nodes * (pods + 2 + defaults.pre_allocate as usize);
    let floor_guess = needed_guess as f64 / write.0;
    let timeout = Duration::from_secs_f64(floor_guess * 3.0 + 120.0);

    let started = Instant::now();
    let mut agents = Vec::with_capacity(nodes);
    for index in 0..nodes {
        let name = format!("node-{index:04}");
        env.add_node(&name)?;
        let settings = AgentSettings::fast(AGENT_UPDATE)
            .desired_pods(pods)
            .seed(index as u64);
        let agent = env
            .kube
            .start_agent(&name, settings)
            .await
            .map_err(|e| fail("starting an agent", e))?;
        agents.push((name, agent));
    }
    say(&format!(
        "{label}: {nodes} nodes and agents started in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let mut last_print = Instant::now();
    let (converged, needed, in_pools) = loop {
        operator.check_alive()?;
        let (met, needed, in_pools) = survey(&env, &agents, pods, defaults.pre_allocate);
        if met == nodes {
            break (true, needed, in_pools);
        }
        if started.elapsed() > timeout {
            break (false, needed, in_pools);
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            let counters = env.oci.counters();
            say(&format!(
                "{label}: {:>5.0} s  nodes met {met:>5}/{nodes}  addresses {in_pools:>6}/{needed:<6} \
                 CreatePrivateIp {:>6}  OCI calls {:>7}",
                started.elapsed().as_secs_f64(),
                counters.total(Operation::CreatePrivateIp),
                total_calls(&counters),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let wall = started.elapsed();
    let counters = env.oci.counters();
    let operator_cpu = cpu_seconds(operator.pid()).unwrap_or(0.0) - cpu_before;
    let scale = Scale {
        nodes,
        pods,
        write,
        read,
        converged,
        wall,
        needed,
        in_pools,
        counters,
        operator_cpu,
    };
    say(&format!(
        "{label}: {} in {:.1} s (floor {:.1} s, ratio {:.3}); {} addresses, {} CreatePrivateIp \
         calls",
        if converged {
            "converged"
        } else {
            "did NOT converge"
        },
        wall.as_secs_f64(),
        scale.floor(),
        scale.ratio(),
        in_pools,
        scale.counters.total(Operation::CreatePrivateIp)
    ));

    let idle = match scaled {
        Some((_, window)) if converged => Some(idle_window(&env, &mut operator, window).await?),
        _ => None,
    };
    operator.stop();
    let violations = env.kube.violations();
    if !violations.is_empty() {
        return Err(Failure(format!(
            "{label}: agents saw {} violations, the first: {:?}",
            violations.len(),
            violations[0]
        )));
    }
    Ok((scale, idle))
}

/// Nodes whose need is met, Σ need, Σ pool sizes.
fn survey(
    env: &Env,
    agents: &[(String, AgentHandle)],
    pods: usize,
    pre: u32,
) -> (usize, usize, usize) {
    let mut met = 0;
    let mut needed = 0;
    let mut in_pools = 0;
    for (name, agent) in agents {
        let Some(state) = env.pool(name, pre) else {
            continue;
        };
        let stats = agent.stats();
        let reported = state.used == agent.allocations().len();
        needed += state.need();
        in_pools += state.pool;
        if stats.phase == AgentPhase::Running
            && stats.pods_running == pods
            && stats.pods_pending == 0
            && reported
            && state.pool >= state.need()
        {
            met += 1;
        }
    }
    (met, needed, in_pools)
}

/// Counts what the operator does while nothing changes.
async fn idle_window(env: &Env, operator: &mut Operator, window: Duration) -> Result<Idle> {
    let resync = (window / 3).max(Duration::from_secs(1));
    say(&format!(
        "idle: OCI clock +{} s, then {} s of wall time (operator resync every {} s)",
        IDLE_SIMULATED.as_secs(),
        window.as_secs(),
        resync.as_secs()
    ));
    env.oci.reset_counters();
    let kube_before = env.kube.store().request_counts();
    let reconciles_before = operator.metric("oci_ipam_reconciles_total").await;
    env.oci.clock().advance(IDLE_SIMULATED);

    let started = Instant::now();
    while started.elapsed() < window {
        operator.check_alive()?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let counters = env.oci.counters();
    let reconciles_after = operator.metric("oci_ipam_reconciles_total").await;
    let kube_after = env.kube.store().request_counts();
    let mut kube_writes = BTreeMap::new();
    for ((verb, plural), count) in &kube_after {
        if matches!(
            verb,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete
        ) {
            let before = kube_before
                .get(&(*verb, plural.clone()))
                .copied()
                .unwrap_or(0);
            if *count > before {
                kube_writes.insert(format!("{verb:?} {plural}"), count - before);
            }
        }
    }
    Ok(Idle {
        wall: started.elapsed(),
        resync,
        counters,
        reconciles: reconciles_after.unwrap_or(0.0) - reconciles_before.unwrap_or(0.0),
        kube_writes,
    })
}

/// Peak memory of the operator managing `nodes` nodes.
async fn memory_phase(
    binary: &Launcher,
    defaults: &Defaults,
    workdir: &Path,
    nodes: usize,
) -> Result<Memory> {
    let env = Env::start(workdir).await?;
    let extra: Vec<String> = [
        "--limit-ipam-api-private-ip-qps",
        "1000",
        "--limit-ipam-api-private-ip-burst",
        "100",
        "--limit-ipam-api-read-qps",
        "1000",
        "--limit-ipam-api-read-burst",
        "100",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    say(&format!(
        "memory: {nodes} nodes without agents ({})",
        extra.join(" ")
    ));
    let mut operator = Operator::launch(binary, &env, "operator.log", &extra)?;
    operator.wait_leading().await?;

    let started = Instant::now();
    let cilium_nodes = env
        .kube
        .store()
        .find_type("cilium.io", "v2", "ciliumnodes")
        .map_err(|e| fail("finding the CiliumNode type", e))?;
    let mut names = Vec::with_capacity(nodes);
    for index in 0..nodes {
        let name = format!("node-{index:05}");
        let (_, uid) = env.add_node(&name)?;
        let object = json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNode",
            "metadata": {"name": name,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                              "name": name, "uid": uid}]},
            "spec": {"addresses": [], "bootid": format!("{index:016x}-bench")},
        });
        env.kube
            .store()
            .create(&cilium_nodes, None, object)
            .map_err(|e| fail("creating a CiliumNode", e))?;
        names.push(name);
    }
    say(&format!(
        "memory: {nodes} nodes created in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let timeout = Duration::from_secs(900);
    let addresses = wait_pools(
        &env,
        &mut operator,
        &names,
        defaults.pre_allocate,
        started,
        timeout,
    )
    .await?;
    let converge = started.elapsed();
    say(&format!(
        "memory: every pool full after {:.1} s; holding {} s",
        converge.as_secs_f64(),
        MEMORY_HOLD.as_secs()
    ));
    let hold = Instant::now();
    while hold.elapsed() < MEMORY_HOLD {
        operator.check_alive()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let steady = memory_of(operator.pid())
        .ok_or_else(|| Failure("cannot read the operator's /proc status".to_owned()))?;
    say(&format!(
        "memory: VmHWM {:.1} MiB, VmRSS {:.1} MiB; restarting the operator",
        steady.0 as f64 / 1024.0,
        steady.1 as f64 / 1024.0
    ));

    operator.stop();
    let mut operator = Operator::launch(binary, &env, "operator-restart.log", &extra)?;
    operator.wait_leading().await?;
    let restarted = Instant::now();
    let mut restart = None;
    let mut restart_converge = None;
    while restarted.elapsed() < timeout {
        operator.check_alive()?;
        let reconciles = operator
            .metric("oci_ipam_reconciles_total")
            .await
            .unwrap_or(0.0);
        if reconciles >= nodes as f64 {
            restart_converge = Some(restarted.elapsed());
            tokio::time::sleep(Duration::from_secs(10)).await;
            restart = memory_of(operator.pid());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    operator.stop();

    Ok(Memory {
        nodes,
        addresses,
        converge,
        steady,
        restart,
        restart_converge,
    })
}

/// Waits until every pool holds pre-allocate addresses; returns Σ pool sizes.
async fn wait_pools(
    env: &Env,
    operator: &mut Operator,
    names: &[String],
    pre: u32,
    started: Instant,
    timeout: Duration,
) -> Result<usize> {
    let mut last_print = Instant::now();
    loop {
        operator.check_alive()?;
        let mut full = 0;
        let mut addresses = 0;
        for name in names {
            if let Some(state) = env.pool(name, pre) {
                addresses += state.pool;
                if state.pool >= state.need() {
                    full += 1;
                }
            }
        }
        if full == names.len() {
            return Ok(addresses);
        }
        if started.elapsed() > timeout {
            return Err(Failure(format!(
                "memory: only {full} of {} pools filled in {} s",
                names.len(),
                timeout.as_secs()
            )));
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            let rss = memory_of(operator.pid()).map_or(0, |(_, rss)| rss);
            say(&format!(
                "memory: {:>5.0} s  pools full {full:>5}/{}  addresses {addresses:>6}  \
                 operator RSS {:.1} MiB",
                started.elapsed().as_secs_f64(),
                names.len(),
                rss as f64 / 1024.0
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Everything measured, rendered as the final table.
#[derive(Default)]
struct Report {
    default: Option<Scale>,
    scaled: Option<Scale>,
    idle: Option<Idle>,
    memory: Option<Memory>,
    /// Phases that could not finish, with why.
    failures: Vec<String>,
}

impl Report {
    fn render(&self) -> (String, bool) {
        let mut ok = self.failures.is_empty();
        let mut text = String::from(
            "\noperator benchmark (release oci-ipam-operator, oci-sim latency: reads 20-60 ms, \
             private-IP writes 100-300 ms, attaches 200-400 ms)\n",
        );

        for (title, scale) in [
            ("scale-up at default limits", &self.default),
            ("scale-up at scaled limits", &self.scaled),
        ] {
            let Some(scale) = scale else {
                continue;
            };
            let ratio_ok = scale.converged && scale.ratio() <= 1.1;
            let created = scale.counters.total(Operation::CreatePrivateIp);
            let per_address = |calls: u64| calls as f64 / scale.in_pools.max(1) as f64;
            let creates_ok = scale.converged && per_address(created) <= 1.0;
            ok &= ratio_ok && creates_ok;
            text.push_str(&format!(
                "\n{title}: {} nodes x {} pods, writes {}/s burst {}, reads {}/s burst {}\n",
                scale.nodes, scale.pods, scale.write.0, scale.write.1, scale.read.0, scale.read.1
            ));
            text.push_str(&format!(
                "  {:<44} {}\n",
                "converged",
                if scale.converged {
                    "yes"
                } else {
                    "NO (timed out)"
                }
            ));
            text.push_str(&format!(
                "  {:<44} {}\n",
                "addresses needed (used + pre-allocate)", scale.needed
            ));
            text.push_str(&format!(
                "  {:<44} {}\n",
                "addresses in pools", scale.in_pools
            ));
            text.push_str(&format!(
                "  {:<44} {:.1} s\n",
                "wall time to converge",
                scale.wall.as_secs_f64()
            ));
            text.push_str(&format!(
                "  {:<44} {:.1} s\n",
                "write floor (needed - burst) / rate",
                scale.floor()
            ));
            text.push_str(&format!(
                "  {:<44} {:.3}  target <= 1.1: {}\n",
                "wall / floor",
                scale.ratio(),
                verdict(ratio_ok)
            ));
            text.push_str(&format!(
                "  {:<44} {} ({:.1} s at {}/s)\n",
                "read calls (time they need at the read rate)",
                scale.read_calls(),
                scale.read_calls() as f64 / scale.read.0,
                scale.read.0
            ));
            text.push_str(&format!(
                "  {:<44} {:.3}  target 1.0: {}\n",
                "CreatePrivateIp calls per address",
                per_address(created),
                verdict(creates_ok)
            ));
            text.push_str(&format!(
                "  {:<44} {:.3}\n",
                "mutating calls per address",
                per_address(mutating_calls(&scale.counters))
            ));
            text.push_str(&format!(
                "  {:<44} {:.3} ({})\n",
                "OCI calls per address (total)",
                per_address(total_calls(&scale.counters)),
                total_calls(&scale.counters)
            ));
            text.push_str(&format!(
                "  {:<44} {}\n",
                "calls by operation",
                by_operation(&scale.counters)
            ));
            text.push_str(&format!(
                "  {:<44} {:.1} s\n",
                "operator CPU (user + system)", scale.operator_cpu
            ));
        }

        if let Some(idle) = &self.idle {
            let mutating = mutating_calls(&idle.counters);
            let idle_ok = mutating == 0;
            ok &= idle_ok;
            text.push_str(&format!(
                "\nidle after the scaled scale-up: OCI clock +{} s, {:.0} s wall, resync every {} s\n",
                IDLE_SIMULATED.as_secs(),
                idle.wall.as_secs_f64(),
                idle.resync.as_secs()
            ));
            text.push_str(&format!(
                "  {:<44} {:.0}\n",
                "node reconciles in the window", idle.reconciles
            ));
            text.push_str(&format!(
                "  {:<44} {mutating}  target 0: {}\n",
                "mutating OCI calls",
                verdict(idle_ok)
            ));
            text.push_str(&format!(
                "  {:<44} {} ({})\n",
                "OCI calls in total",
                total_calls(&idle.counters),
                by_operation(&idle.counters)
            ));
            let writes: Vec<String> = idle
                .kube_writes
                .iter()
                .map(|(what, count)| format!("{what} {count}"))
                .collect();
            text.push_str(&format!(
                "  {:<44} {}\n",
                "Kubernetes writes (operator and agents)",
                if writes.is_empty() {
                    "none".to_owned()
                } else {
                    writes.join(", ")
                }
            ));
        }

        if let Some(memory) = &self.memory {
            let mib = |kib: u64| kib as f64 / 1024.0;
            let peak = memory
                .restart
                .map_or(memory.steady.0, |restart| restart.0.max(memory.steady.0));
            let memory_ok = mib(peak) <= 128.0;
            ok &= memory_ok;
            text.push_str(&format!(
                "\nmemory: {} nodes, {} addresses in pools, pools full after {:.1} s\n",
                memory.nodes,
                memory.addresses,
                memory.converge.as_secs_f64()
            ));
            text.push_str(&format!(
                "  {:<44} {:.1} MiB (VmRSS now {:.1} MiB)\n",
                "peak RSS after the scale-up",
                mib(memory.steady.0),
                mib(memory.steady.1)
            ));
            match (memory.restart, memory.restart_converge) {
                (Some(restart), Some(after)) => text.push_str(&format!(
                    "  {:<44} {:.1} MiB (VmRSS {:.1} MiB; every node reconciled in {:.1} s)\n",
                    "peak RSS of a restart on the full cluster",
                    mib(restart.0),
                    mib(restart.1),
                    after.as_secs_f64()
                )),
                _ => text.push_str(&format!(
                    "  {:<44} not measured (timed out)\n",
                    "peak RSS of a restart on the full cluster"
                )),
            }
            text.push_str(&format!(
                "  {:<44} {:.1} MiB  target <= 128 MiB: {}\n",
                "peak RSS",
                mib(peak),
                verdict(memory_ok)
            ));
        }
        for failure in &self.failures {
            text.push_str(&format!("\nphase FAILED: {failure}\n"));
        }
        (text, ok)
    }
}

fn by_operation(counters: &Counters) -> String {
    Operation::ALL
        .iter()
        .filter_map(|op| {
            let total = counters.total(*op);
            (total > 0).then(|| format!("{} {total}", op.name()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail("free port", e))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| fail("free port", e))
}

fn say(line: &str) {
    println!("bench operator: {line}");
}

fn fail(what: &str, err: impl std::fmt::Display) -> Failure {
    Failure(format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_defaults_are_read_from_clap_help() {
        let help = "Options:\n      --pre-allocate <PRE_ALLOCATE>\n          Default free \
                    addresses\n          \n          [env: OCI_IPAM_PRE_ALLOCATE=]\n          \
                    [default: 8]\n\n      --limit-ipam-api-read-qps <QPS>\n          Reads \
                    [default: 10]\n";

        assert_eq!(flag_default(help, "--pre-allocate").expect("found"), "8");
        assert_eq!(
            flag_default(help, "--limit-ipam-api-read-qps").expect("found"),
            "10"
        );
        assert!(flag_default(help, "--missing").is_err());
    }

    #[test]
    fn the_floor_lets_the_burst_go_first() {
        let scale = Scale {
            nodes: 1,
            pods: 0,
            write: (4.0, 20),
            read: (10.0, 20),
            converged: true,
            wall: Duration::from_secs(99),
            needed: 420,
            in_pools: 420,
            counters: Counters::default(),
            operator_cpu: 0.0,
        };

        assert!((scale.floor() - 100.0).abs() < 1e-9);
        assert!((scale.ratio() - 0.99).abs() < 1e-9);
    }
}
