//! `kube-sim`: the Kubernetes API stand-in as a process, for demos and for running the real
//! binaries against it. It serves on 127.0.0.1 (ephemeral port), copies its kubeconfig to
//! `--kubeconfig`, optionally creates nodes with simulated Cilium agents, prints the URL and
//! serves until interrupted. Drive it further through the control API (`/kube-sim/v1/...`,
//! see the `kube_sim::control` docs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kube_sim::{AgentSettings, Auth, CiliumCrd, KubeSim, NodeSpec, Settings};

/// Kubernetes API stand-in with simulated Cilium agents (ipam: crd).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Where to write the kubeconfig for clients.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Which CiliumNode CRD to serve.
    #[arg(long, value_parser = ["1.15.7", "1.20.0-dev"], default_value = "1.15.7")]
    cilium_crd: String,
    /// Require this bearer token (it is written into the kubeconfig).
    #[arg(long, env = "KUBE_SIM_TOKEN")]
    token: Option<String>,
    /// Extra CustomResourceDefinition files (YAML or JSON) to register.
    #[arg(long = "crd")]
    crds: Vec<PathBuf>,
    /// Nodes to create at start (`worker-1` ...), each with a simulated agent.
    #[arg(long, default_value_t = 0)]
    nodes: usize,
    /// Pods per node at start.
    #[arg(long, default_value_t = 0)]
    pods: usize,
    /// The agents' status update rate (`ipam-cilium-node-update-rate`).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15s")]
    update_rate: Duration,
    /// Seed of the agents' random sources.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("kube-sim: {err}");
            let mut source = std::error::Error::source(err.as_ref());
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let crd = match args.cilium_crd.as_str() {
        "1.20.0-dev" => CiliumCrd::V1_20_0Dev,
        _ => CiliumCrd::V1_15_7,
    };
    let auth = args.token.map_or(Auth::None, Auth::Token);
    let sim = KubeSim::start(Settings::default().cilium_crd(crd).auth(auth)).await?;

    for path in &args.crds {
        let document = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read CRD file {}: {err}", path.display()))?;
        sim.register_crd_yaml(&document)?;
    }
    std::fs::write(&args.kubeconfig, sim.kubeconfig_yaml())
        .map_err(|err| format!("cannot write {}: {err}", args.kubeconfig.display()))?;

    for index in 1..=args.nodes {
        let name = format!("worker-{index}");
        let ocid = format!("ocid1.instance.oc1.iad.kubesim{index:06}");
        let ip = format!("10.0.{}.{}", index / 250, index % 250 + 2);
        sim.add_node(&NodeSpec::oci(&name, &ocid).internal_ip(&ip))?;
        let settings = AgentSettings::default()
            .status_update_interval(args.update_rate)
            .seed(args.seed)
            .desired_pods(args.pods);
        sim.start_agent(&name, settings).await?;
    }

    println!(
        "kube-sim serving {} (kubeconfig {})",
        sim.base_url(),
        args.kubeconfig.display()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
