//! The command line: `oci-ipam-operator [FLAGS] [run|check|snapshot]`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Flags};
use crate::{server, shutdown, telemetry};

/// `oci-ipam-operator`: keeps CiliumNode pools filled with OCI secondary private IPs.
#[derive(Debug, Parser)]
#[command(name = "oci-ipam-operator", version, about)]
#[non_exhaustive]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub flags: Flags,
    /// What to do (default: run the operator).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Run the operator (the default).
    Run,
}

/// Runs the command line and returns the process exit code.
pub async fn main(cli: Cli) -> ExitCode {
    let identity = default_identity();
    let config = match Config::from_flags(&cli.flags, &identity) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("oci-ipam-operator: refusing to start: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(config.log_format);

    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(config).await,
    }
}

async fn run(config: Config) -> ExitCode {
    let shutdown = shutdown::on_signal();
    let metrics = crate::metrics::Metrics::new();
    let health = server::Health::new(
        config
            .resync_interval
            .max(std::time::Duration::from_secs(60))
            * 3,
    );
    health.tick();

    let router = server::router(health.clone(), metrics.clone());
    if let Err(err) = serve_endpoints(&config, router, shutdown.clone()).await {
        tracing::error!(
            error = &err as &dyn std::error::Error,
            "cannot serve health and metrics"
        );
        return ExitCode::FAILURE;
    }

    shutdown.cancelled().await;
    ExitCode::SUCCESS
}

async fn serve_endpoints(
    config: &Config,
    router: axum::Router,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let metrics = server::serve(config.metrics_address, router.clone(), shutdown.clone()).await?;
    tracing::info!(address = %metrics, "serving /metrics, /healthz and /readyz");
    if config.health_address != config.metrics_address {
        let health = server::serve(config.health_address, router, shutdown).await?;
        tracing::info!(address = %health, "serving /healthz and /readyz");
    }
    Ok(())
}

/// The Lease identity when none is configured: `$POD_NAME`, else `$HOSTNAME`, else a fixed name.
fn default_identity() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "oci-ipam-operator".to_owned())
}
