//! `oci-sim --world FILE --listen ADDR`: serve a world file until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use oci_sim::Sim;
use oci_sim::World;

/// A stand-in for the parts of OCI that oci-ipam uses: core API, metadata service and
/// federation, on one loopback listener.
#[derive(Debug, Parser)]
#[command(name = "oci-sim", version)]
struct Args {
    /// World file (JSON; see docs/oci-sim.md).
    #[arg(long)]
    world: PathBuf,
    /// Address to listen on; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:8419")]
    listen: SocketAddr,
    /// Also create an administrator user and write its OCI config and key into this
    /// directory, so SDKs and the CLI can authenticate at once.
    #[arg(long)]
    write_user_config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("oci-sim: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), oci_sim::SimError> {
    let world = World::from_file(&args.world)?;
    let instances: Vec<String> = world.instances.iter().map(|i| i.id.clone()).collect();
    let sim = Sim::start_on(world, args.listen).await?;

    tracing::info!(
        endpoint = %sim.endpoint(),
        federation = %sim.federation_url(),
        "oci-sim serving"
    );
    for instance in &instances {
        tracing::info!(instance = %instance, imds = %sim.metadata_base_url(instance), "instance");
    }
    if let Some(dir) = &args.write_user_config {
        let user = sim.create_user("admin", None)?;
        let files = user.write_config(dir)?;
        tracing::info!(config = %files.config.display(), user = %user.user, "wrote OCI config");
    }

    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}
