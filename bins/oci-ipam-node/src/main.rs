//! `oci-ipam-node`: the node agent. Parses flags (or their environment variables), sets up
//! logging, and runs [`oci_ipam_node::agent::run`] until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use oci_ipam_node::agent::{AgentConfig, AttachmentChoice};
use oci_ipam_node::desired::DEFAULT_FIRST_TABLE;
use oci_ipam_node::netlink::DEFAULT_OWNER_PROTOCOL;
use oci_ipam_node::reconcile::error_chain;
use oci_ipam_node::{
    AttachmentMode, DesiredConfig, EgressMode, Ipv4Cidr, OwnerProtocol, ReconcileConfig,
};
use tracing_subscriber::fmt::MakeWriter;

/// Makes addresses on secondary OCI VNICs usable: per-VNIC routing tables and per-address
/// policy rules, reconciled against the node's CiliumNode pool.
#[derive(Debug, Parser)]
#[command(name = "oci-ipam-node", version)]
struct Args {
    /// This node's name (the Node, CiliumNode and OciNetworkNode name).
    #[arg(long, env = "NODE_NAME")]
    node_name: String,

    /// The instance metadata service base URL.
    #[arg(long, env = "OCI_METADATA_BASE_URL", default_value = oci_api::DEFAULT_METADATA_URL)]
    metadata_url: String,

    /// How secondary VNICs appear: `auto` reads the shape (BM.* = bare metal).
    #[arg(long, env = "OCI_IPAM_ATTACHMENT", value_enum, default_value_t = Attachment::Auto)]
    attachment: Attachment,

    /// Bare metal: the physical NIC names in `nicIndex` order (default: NIC 0 is the link of
    /// the primary VNIC).
    #[arg(long, env = "OCI_IPAM_PHYSICAL_NICS", value_delimiter = ',')]
    physical_nics: Vec<String>,

    /// Which traffic from a secondary-VNIC address uses the VNIC: `all`, or `vcn` (only the
    /// `--vcn-cidrs`; use when Cilium masquerades other traffic).
    #[arg(long, env = "OCI_IPAM_EGRESS", value_enum, default_value_t = Egress::All)]
    egress: Egress,

    /// The VCN's CIDRs, for `--egress vcn`.
    #[arg(long, env = "OCI_IPAM_VCN_CIDRS", value_delimiter = ',')]
    vcn_cidrs: Vec<Ipv4Cidr>,

    /// MTU for secondary VNIC links; 0 leaves the MTU as it is.
    #[arg(long, env = "OCI_IPAM_MTU", default_value_t = 9000)]
    mtu: u32,

    /// The first routing table ID given to a secondary VNIC.
    #[arg(long, env = "OCI_IPAM_FIRST_TABLE", default_value_t = DEFAULT_FIRST_TABLE)]
    first_table: u32,

    /// The routing protocol number marking the agent's rules and routes.
    #[arg(long, env = "OCI_IPAM_OWNER_PROTOCOL", default_value_t = DEFAULT_OWNER_PROTOCOL)]
    owner_protocol: u8,

    /// Time between passes when nothing changes (also the metadata cache lifetime).
    #[arg(
        long,
        env = "OCI_IPAM_RESYNC",
        default_value = "30s",
        value_parser = humantime::parse_duration
    )]
    resync: Duration,

    /// Where `net/ipv4/conf/<link>/rp_filter` lives (a writable host mount in a container).
    #[arg(
        long,
        env = "OCI_IPAM_SYSCTL_ROOT",
        default_value = oci_ipam_node::sysctl::DEFAULT_SYSCTL_ROOT
    )]
    sysctl_root: std::path::PathBuf,

    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "OCI_IPAM_LISTEN", default_value = "0.0.0.0:9969")]
    listen: SocketAddr,

    /// Log format.
    #[arg(long, env = "OCI_IPAM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Attachment {
    Auto,
    Vm,
    BareMetal,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Egress {
    All,
    Vcn,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);

    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("oci-ipam-node: {message}");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("oci-ipam-node: failed to start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };

    let result = runtime.block_on(oci_ipam_node::agent::run(
        config,
        Arc::new(k8s_glue::SystemClock),
        shutdown_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = error_chain(&err), "Agent stopped");
            ExitCode::FAILURE
        }
    }
}

fn config(args: &Args) -> Result<AgentConfig, String> {
    let metadata = oci_api::MetadataEndpoint::parse(&args.metadata_url)
        .map_err(|err| format!("--metadata-url: {}", error_chain(&err)))?;
    let owner = OwnerProtocol::try_new(args.owner_protocol)
        .map_err(|err| format!("--owner-protocol: {err}"))?;

    let egress = match args.egress {
        Egress::All => EgressMode::AllDestinations,
        Egress::Vcn if args.vcn_cidrs.is_empty() => {
            return Err("--egress vcn needs --vcn-cidrs (the VCN's CIDR blocks)".to_owned());
        }
        Egress::Vcn => EgressMode::VcnOnly(args.vcn_cidrs.clone()),
    };
    let attachment = match args.attachment {
        Attachment::Auto => AttachmentChoice::FromShape,
        Attachment::Vm => AttachmentChoice::Fixed(AttachmentMode::VirtualMachine),
        Attachment::BareMetal => AttachmentChoice::Fixed(AttachmentMode::BareMetal),
    };

    let desired = DesiredConfig::default()
        .with_egress(egress)
        .with_first_table(args.first_table);
    let reconcile = ReconcileConfig::default()
        .with_desired(desired)
        .with_mtu((args.mtu != 0).then_some(args.mtu))
        .with_physical_nics(args.physical_nics.clone())
        .with_sysctl_root(args.sysctl_root.clone());

    let mut config = AgentConfig::new(&args.node_name);
    config.metadata = metadata;
    config.reconcile = reconcile;
    config.attachment = attachment;
    config.owner = owner;
    config.resync = args.resync;
    config.listen = args.listen;
    Ok(config)
}

fn init_logging(format: LogFormat) {
    if init_logging_to(format, std::io::stderr).is_err() {
        eprintln!("oci-ipam-node: a log subscriber was already installed");
    }
}

/// Where netlink-packet-route (0.25, under rtnetlink 0.18) warns, on every link dump and for
/// every link, that the kernel sent a per-link attribute longer than the crate knows
/// (`IFLA_INET6_CONF` grew to 240 bytes on recent kernels). The agent reads none of these
/// attributes, and later releases of the crate log this at debug, so it is held to errors.
const NETLINK_SIZE_NOTICES: &str = "netlink_packet_route::link::buffer_tool";

/// `RUST_LOG` (default `info`), with netlink-packet-route's size notices held to errors unless
/// `RUST_LOG` names netlink-packet-route itself.
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let rust_log = rust_log
        .map(str::trim)
        .filter(|directives| !directives.is_empty());
    let filter = rust_log
        .and_then(|directives| tracing_subscriber::EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    if rust_log.is_some_and(|directives| directives.contains("netlink_packet_route")) {
        return filter;
    }
    match format!("{NETLINK_SIZE_NOTICES}=error").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// Why a log subscriber could not be installed (one already was).
type InitError = Box<dyn std::error::Error + Send + Sync>;

/// Installs the global subscriber writing to `writer`, in the operator's shapes: text lines,
/// or JSON objects with the event's fields at the top level (no `fields` object) beside
/// `timestamp`, `level`, `target` and the current span.
fn init_logging_to<W>(format: LogFormat, writer: W) -> Result<(), InitError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let rust_log = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log_filter(rust_log.as_deref()))
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Log lines written by the subscriber under test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Self;

        fn make_writer(&'w self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    // The only test here that installs the global subscriber (and the `log` bridge), as the
    // binary does: the agent's own warnings pass, netlink-packet-route's size notices do not.
    #[test]
    fn link_dumps_log_no_netlink_size_warnings_and_our_warnings_stay() {
        let captured = Captured::default();
        init_logging_to(LogFormat::Json, captured.clone()).unwrap();

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let links = runtime.block_on(async {
            let datapath = oci_ipam_node::Datapath::connect(OwnerProtocol::default())?;
            datapath.links().await
        });
        assert!(!links.unwrap().is_empty(), "at least loopback");
        tracing::warn!(target: "oci_ipam_node::agent", node = "worker-0", "VNIC not ready");

        let logs = captured.text();
        assert!(!logs.contains("NLA attribute holds more"), "{logs}");
        assert!(logs.contains("VNIC not ready"), "{logs}");
    }

    #[test]
    fn the_filter_holds_only_the_size_notices_and_yields_to_an_explicit_request() {
        use tracing::Level;
        use tracing_subscriber::layer::SubscriberExt;

        // Whether a warning with `target` is written under `RUST_LOG=rust_log`.
        let warns = |rust_log: Option<&str>, target: &str| {
            let captured = Captured::default();
            let subscriber = tracing_subscriber::registry()
                .with(log_filter(rust_log))
                .with(tracing_subscriber::fmt::layer().with_writer(captured.clone()));
            tracing::subscriber::with_default(subscriber, || match target {
                NETLINK_SIZE_NOTICES => {
                    tracing::event!(target: NETLINK_SIZE_NOTICES, Level::WARN, "size")
                }
                "netlink_packet_route::link::link_info" => {
                    tracing::event!(
                        target: "netlink_packet_route::link::link_info",
                        Level::WARN,
                        "size"
                    )
                }
                _ => tracing::event!(target: "oci_ipam_node::agent", Level::WARN, "size"),
            });
            !captured.text().is_empty()
        };

        assert!(!warns(None, NETLINK_SIZE_NOTICES));
        assert!(!warns(Some("debug"), NETLINK_SIZE_NOTICES));
        assert!(warns(None, "oci_ipam_node::agent"));
        assert!(warns(Some(""), "oci_ipam_node::agent"));
        assert!(warns(Some("warn"), "oci_ipam_node::agent"));
        // Other warnings of the crate still show.
        assert!(warns(None, "netlink_packet_route::link::link_info"));
        // Asking for the crate by name shows its notices.
        assert!(warns(
            Some("info,netlink_packet_route=debug"),
            NETLINK_SIZE_NOTICES
        ));
    }
}
