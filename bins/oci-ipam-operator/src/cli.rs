//! The command line: `oci-ipam-operator [FLAGS] [run|check|snapshot]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{Auth, Config, Flags};
use crate::controller::Controller;
use crate::error::{Error, chain};
use crate::metrics::Metrics;
use crate::plan::IpamCorePlanner;
use crate::reconcile::Engine;
use crate::{check, oci_client, server, shutdown, snapshot, telemetry};

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
    /// Probe credentials, region, VCN, subnets, permissions and Kubernetes access; print
    /// each as OK or with a fix. Exits 1 when anything needs fixing.
    Check,
    /// Write the live cluster as a planner snapshot: JSON with the policy, the subnets and
    /// every node's shape, VNICs and pool, the input of `oci-ipam-planner` (format described
    /// in docs/snapshot-format.md of the oci-ipam repository).
    Snapshot {
        /// Output file, `-` for standard output.
        #[arg(long, short, default_value = "-")]
        output: PathBuf,
    },
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

    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(config).await,
        Command::Check => return check(config).await,
        Command::Snapshot { output } => take_snapshot(config, &output).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(reason = err.category(), error = %chain(&err), "stopped");
            eprintln!("oci-ipam-operator: {}", chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// The operator: health and metrics endpoints, then the leader-elected loop until a signal.
async fn run(config: Config) -> Result<(), Error> {
    let shutdown = shutdown::on_signal();
    let metrics = Metrics::new();
    let stall = config.resync_interval.max(Duration::from_secs(60)) * 3;
    let health = server::Health::new(stall);
    health.tick();

    serve_endpoints(
        &config,
        server::router(health.clone(), metrics.clone()),
        shutdown.clone(),
    )
    .await?;

    let (engine, client) = connect(config, metrics.clone()).await?;
    tracing::info!("oci-ipam-operator started");
    Controller::new(engine, client, metrics, health)
        .run(shutdown)
        .await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn take_snapshot(config: Config, output: &std::path::Path) -> Result<(), Error> {
    let (engine, client) = connect(config, Metrics::new()).await?;
    let taken_at = now_rfc3339();
    let snapshot = snapshot::take(&engine, client, taken_at).await?;
    snapshot::write(&snapshot, output)?;
    eprintln!(
        "oci-ipam-operator: snapshot of {} node(s) written",
        snapshot.nodes.len()
    );
    Ok(())
}

async fn check(config: Config) -> ExitCode {
    let provider = credentials(&config);
    let method = auth_method(&config);
    let (access, client) = match provider {
        Ok(provider) => {
            let target = OciTarget::resolve(&config, provider.as_ref());
            let endpoint = target.endpoint(&config);
            let client = oci_client::build(
                &config,
                provider,
                target.region.as_deref(),
                &target.realm,
                Metrics::new(),
                oci_api::RetryPolicy::no_retries(),
            );
            match client {
                Ok(client) => (
                    check::OciAccess::new(Ok(method), Ok(endpoint)),
                    Some(client),
                ),
                Err(err) => (check::OciAccess::new(Ok(method), Err(chain(&err))), None),
            }
        }
        Err(err) => (
            check::OciAccess::new(Err(chain(&err)), Err("no credentials".to_owned())),
            None,
        ),
    };
    let kube = kube::Client::try_default().await.map_err(|err| chain(&err));

    let oci = client.as_ref().map(|client| client as &dyn crate::Cloud);
    let probes = check::run(&config, access, oci, kube).await;
    let mut failed = false;
    for probe in &probes {
        println!("{probe}");
        failed |= probe.needs_fixing();
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Where the OCI client sends its requests: `run`, `snapshot` and `check` all resolve it here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OciTarget {
    /// The region: `--oci-region`, else the credentials' region.
    region: Option<String>,
    /// Where the region came from, for people.
    region_from: &'static str,
    /// The region's realm when the region is a known one, else `oc1`.
    realm: String,
}

impl OciTarget {
    fn resolve(config: &Config, provider: &dyn oci_auth::CredentialProvider) -> Self {
        let (region, region_from) = match (&config.region, provider.region()) {
            (Some(region), _) => (
                Some(oci_auth::Region::resolve(region.as_str())),
                "--oci-region",
            ),
            (None, Some(region)) => (Some(region), "the credentials"),
            (None, None) => (None, "nowhere"),
        };

        let realm = region
            .as_ref()
            .and_then(oci_auth::Region::known_realm)
            .unwrap_or("oc1")
            .to_owned();
        Self {
            region: region.map(|region| region.as_str().to_owned()),
            region_from,
            realm,
        }
    }

    /// The endpoint and how it was chosen, as `check` prints it.
    fn endpoint(&self, config: &Config) -> String {
        let region = match &self.region {
            Some(region) => format!("region {region} from {}", self.region_from),
            None => "no region".to_owned(),
        };
        match (&config.endpoints.oci_api, &self.region) {
            (Some(url), _) => format!("{url} (--oci-endpoint; {region})"),
            (None, Some(name)) => match oci_api::Endpoint::for_region(name, &self.realm) {
                Ok(endpoint) => format!("{} ({region}, realm {})", endpoint.url(), self.realm),
                Err(_) => format!("{region}, realm {}", self.realm),
            },
            (None, None) => region,
        }
    }
}

/// Builds the OCI client, the Kubernetes client and the engine.
async fn connect(
    config: Config,
    metrics: Arc<Metrics>,
) -> Result<(Arc<Engine>, kube::Client), Error> {
    let provider = credentials(&config)?;
    let target = OciTarget::resolve(&config, provider.as_ref());
    let oci = oci_client::build(
        &config,
        provider,
        target.region.as_deref(),
        &target.realm,
        metrics.clone(),
        oci_api::RetryPolicy::default(),
    )?;

    let client = kube::Client::try_default()
        .await
        .map_err(|source| Error::ConnectKubernetes {
            source: Box::new(source),
        })?;

    let engine = Engine::new(
        Arc::new(oci),
        client.clone(),
        Arc::new(config),
        metrics,
        Arc::new(IpamCorePlanner),
    );
    Ok((Arc::new(engine), client))
}

/// The credential provider the configuration names.
fn credentials(config: &Config) -> Result<Arc<dyn oci_auth::CredentialProvider>, Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::BuildOciClient { source };

    let mut auth = match &config.auth {
        Auth::ConfigFile { path, profile } => {
            let mut auth =
                oci_auth::AuthConfig::new(oci_auth::AuthMethod::ConfigFile).profile(profile);
            if let Some(path) = path {
                auth = auth.config_file(path);
            }
            auth
        }
        Auth::ResourcePrincipal => {
            oci_auth::AuthConfig::new(oci_auth::AuthMethod::ResourcePrincipal)
        }
        _ => oci_auth::AuthConfig::new(oci_auth::AuthMethod::InstancePrincipal),
    };
    if let Some(url) = &config.endpoints.metadata {
        auth = auth.metadata_base_url(url.parse().map_err(|err| fail(Box::new(err)))?);
    }
    if let Some(url) = &config.endpoints.federation {
        auth = auth.federation_endpoint(url.parse().map_err(|err| fail(Box::new(err)))?);
    }
    auth.build().map_err(|err| fail(Box::new(err)))
}

/// How the credentials are obtained, for people.
fn auth_method(config: &Config) -> String {
    match &config.auth {
        Auth::ConfigFile { profile, .. } => format!("config file, profile {profile}"),
        Auth::ResourcePrincipal => "resource principal".to_owned(),
        _ => "instance principal".to_owned(),
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on the metrics address and, when it differs,
/// `/healthz` and `/readyz` on the health address.
///
/// # Errors
///
/// [`Error::ServeEndpoints`] naming the address, the flag that sets it and what to change.
async fn serve_endpoints(
    config: &Config,
    router: axum::Router,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    const ALL: &str = "/metrics, /healthz and /readyz";
    const HEALTH: &str = "/healthz and /readyz";

    let address = config.metrics_address;
    let metrics = server::serve(address, router.clone(), shutdown.clone())
        .await
        .map_err(|source| bind_failed(ALL, address, "--operator-prometheus-serve-addr", source))?;
    tracing::info!(address = %metrics, "serving /metrics, /healthz and /readyz");

    if config.health_address != config.metrics_address {
        let address = config.health_address;
        let health = server::serve(address, router, shutdown)
            .await
            .map_err(|source| bind_failed(HEALTH, address, "--operator-api-serve-addr", source))?;
        tracing::info!(address = %health, "serving /healthz and /readyz");
    }
    Ok(())
}

/// The error for an endpoint that could not listen, with the fix its cause calls for.
fn bind_failed(
    endpoints: &'static str,
    address: std::net::SocketAddr,
    flag: &str,
    source: std::io::Error,
) -> Error {
    let fix = match source.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "another process already listens on port {}; stop it or pick a free port with {flag}",
            address.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this host; use 0.0.0.0 or a local address in {flag}",
            address.ip()
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "no permission to listen on port {}; use a port above 1023 in {flag}",
                address.port()
            )
        }
        _ => format!("check the address in {flag}"),
    };
    Error::ServeEndpoints {
        endpoints,
        address,
        fix,
        source,
    }
}

/// The Lease identity when none is configured: `$POD_NAME`, else `$HOSTNAME`, else a fixed name.
fn default_identity() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "oci-ipam-operator".to_owned())
}

/// The wall-clock time as RFC 3339: the binary is the one place that reads the clock.
#[allow(clippy::disallowed_methods)]
fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Credentials that name a region and are never asked to sign (the resolution only reads
    /// the region).
    #[derive(Debug)]
    struct RegionOnly(&'static str);

    impl oci_auth::CredentialProvider for RegionOnly {
        fn credentials(
            &self,
            _now: std::time::SystemTime,
        ) -> oci_auth::BoxFuture<'_, Result<oci_auth::Credentials, oci_auth::Error>> {
            Box::pin(std::future::pending())
        }

        fn refresh(
            &self,
            _now: std::time::SystemTime,
        ) -> oci_auth::BoxFuture<'_, Result<oci_auth::Credentials, oci_auth::Error>> {
            Box::pin(std::future::pending())
        }

        fn region(&self) -> Option<oci_auth::Region> {
            Some(oci_auth::Region::resolve(self.0))
        }

        fn tenancy(&self) -> Option<oci_auth::Ocid> {
            None
        }
    }

    fn config(extra: &[&str]) -> Config {
        let mut args = vec![
            "oci-ipam-operator",
            "--cluster-name",
            "c",
            "--oci-auth",
            "config-file",
        ];
        args.extend(extra);
        let cli = Cli::try_parse_from(args).expect("flags parse");
        Config::from_flags(&cli.flags, "test").expect("valid config")
    }

    #[test]
    fn the_region_flag_wins_and_brings_its_realm() {
        let config = config(&["--oci-region", "uk-gov-london-1"]);

        let target = OciTarget::resolve(&config, &RegionOnly("us-ashburn-1"));

        assert_eq!(target.region.as_deref(), Some("uk-gov-london-1"));
        assert_eq!(target.realm, "oc4");
        let endpoint = target.endpoint(&config);
        assert!(
            endpoint.starts_with("https://iaas.uk-gov-london-1.oraclegovcloud.uk"),
            "{endpoint}"
        );
        assert!(endpoint.contains("from --oci-region"), "{endpoint}");
    }

    #[test]
    fn without_the_flag_the_credentials_region_and_its_realm_are_used() {
        let config = config(&[]);

        let target = OciTarget::resolve(&config, &RegionOnly("ap-chiyoda-1"));

        assert_eq!(target.region.as_deref(), Some("ap-chiyoda-1"));
        assert_eq!(target.realm, "oc8");
        assert!(target.endpoint(&config).contains("from the credentials"));
    }

    #[test]
    fn snapshot_help_points_at_the_format_in_the_repository() {
        let mut command = Cli::command();
        let snapshot = command
            .find_subcommand_mut("snapshot")
            .expect("the snapshot subcommand");
        let help = snapshot.render_long_help().to_string();

        assert!(help.contains("docs/snapshot-format.md"), "{help}");
        assert!(!help.contains("design.md"), "{help}");
    }
}
