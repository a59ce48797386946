//! Operator configuration: command-line flags and environment variables, validated once.
//!
//! [`Flags`] is what clap parses (every flag also reads an `OCI_IPAM_*` environment variable);
//! [`Config::from_flags`] turns it into a [`Config`] of domain types, refusing bad or
//! contradictory settings with a [`ConfigError`] that names the flag to fix. Flag names follow
//! the Cilium operator where a Cilium counterpart exists (`--cluster-name`,
//! `--parallel-alloc-workers`, `--excess-ip-release-delay`, `--first-interface-index`,
//! `--limit-ipam-api-*`, `--leader-election-*`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Raw command-line flags and environment variables, before validation.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct Flags {
    /// How the operator authenticates to OCI.
    #[arg(
        long,
        env = "OCI_IPAM_AUTH",
        value_enum,
        default_value = "instance-principal"
    )]
    pub oci_auth: AuthMethod,

    /// OCI config file (only with `--oci-auth config-file`); default `~/.oci/config`.
    #[arg(long, env = "OCI_IPAM_OCI_CONFIG_FILE")]
    pub oci_config_file: Option<PathBuf>,

    /// Profile in the OCI config file (only with `--oci-auth config-file`); default `DEFAULT`.
    #[arg(long, env = "OCI_IPAM_OCI_PROFILE")]
    pub oci_profile: Option<String>,

    /// OCI region identifier, e.g. `us-ashburn-1`; default: from the credentials or metadata.
    #[arg(long, env = "OCI_IPAM_OCI_REGION")]
    pub oci_region: Option<String>,

    /// Compartment OCIDs to look for subnets in (comma-separated); needed with subnet tags.
    #[arg(long, env = "OCI_IPAM_OCI_COMPARTMENT_IDS", value_delimiter = ',')]
    pub oci_compartment_ids: Vec<String>,

    /// The cluster's VCN OCID; subnets outside it are never used.
    #[arg(long, env = "OCI_IPAM_OCI_VCN_ID")]
    pub oci_vcn_id: Option<String>,

    /// Subnet OCIDs for new VNICs (comma-separated); wins over every other subnet rule.
    #[arg(long, env = "OCI_IPAM_SUBNET_IDS", value_delimiter = ',')]
    pub subnet_ids: Vec<String>,

    /// Freeform tags a subnet must all carry to be used for new VNICs (`key=value,...`).
    #[arg(long, env = "OCI_IPAM_SUBNET_TAGS", value_delimiter = ',')]
    pub subnet_tags: Vec<String>,

    /// Network security group OCIDs put on every VNIC the operator attaches (at most 5).
    #[arg(long, env = "OCI_IPAM_NSG_IDS", value_delimiter = ',')]
    pub nsg_ids: Vec<String>,

    /// Default free addresses to keep on each node (`spec.ipam.pre-allocate`).
    #[arg(long, env = "OCI_IPAM_PRE_ALLOCATE", default_value_t = 8)]
    pub pre_allocate: u32,

    /// Default minimum addresses per node (`spec.ipam.min-allocate`); 0 = none.
    #[arg(long, env = "OCI_IPAM_MIN_ALLOCATE", default_value_t = 0)]
    pub min_allocate: u32,

    /// Default maximum addresses per node (`spec.ipam.max-allocate`); 0 = no limit.
    #[arg(long, env = "OCI_IPAM_MAX_ALLOCATE", default_value_t = 0)]
    pub max_allocate: u32,

    /// Default extra addresses allocated above the need (`spec.ipam.max-above-watermark`).
    #[arg(long, env = "OCI_IPAM_MAX_ABOVE_WATERMARK", default_value_t = 0)]
    pub max_above_watermark: u32,

    /// Secondary private IPs one VNIC may hold (31 is safe; some tenancies allow 32 or 64).
    #[arg(long, env = "OCI_IPAM_IPS_PER_VNIC", default_value_t = 31)]
    pub ips_per_vnic: u32,

    /// Lowest VNIC index whose addresses go to pods (0 = the primary VNIC too).
    #[arg(long, env = "OCI_IPAM_FIRST_INTERFACE_INDEX", default_value_t = 0)]
    pub first_interface_index: u32,

    /// Whether the operator attaches secondary VNICs (`disabled` = primary VNIC only).
    #[arg(
        long,
        env = "OCI_IPAM_SECONDARY_VNICS",
        value_enum,
        default_value = "enabled"
    )]
    pub secondary_vnics: SecondaryVnics,

    /// Release addresses above the node's need, through Cilium's release handshake.
    #[arg(long, env = "OCI_IPAM_RELEASE_EXCESS_IPS", default_value_t = false)]
    pub release_excess_ips: bool,

    /// How long an address must stay excess before it is marked for release.
    #[arg(long, env = "OCI_IPAM_EXCESS_IP_RELEASE_DELAY", value_parser = humantime::parse_duration)]
    pub excess_ip_release_delay: Option<Duration>,

    /// Sustained rate of OCI read calls per second.
    #[arg(long, env = "OCI_IPAM_LIMIT_READ_QPS", default_value_t = 10.0)]
    pub limit_ipam_api_read_qps: f64,

    /// Burst of OCI read calls.
    #[arg(long, env = "OCI_IPAM_LIMIT_READ_BURST", default_value_t = 20)]
    pub limit_ipam_api_read_burst: u32,

    /// Sustained rate of private-IP writes (create, delete) per second.
    #[arg(long, env = "OCI_IPAM_LIMIT_PRIVATE_IP_QPS", default_value_t = 4.0)]
    pub limit_ipam_api_private_ip_qps: f64,

    /// Burst of private-IP writes.
    #[arg(long, env = "OCI_IPAM_LIMIT_PRIVATE_IP_BURST", default_value_t = 20)]
    pub limit_ipam_api_private_ip_burst: u32,

    /// Sustained rate of VNIC attaches per second.
    #[arg(long, env = "OCI_IPAM_LIMIT_VNIC_ATTACH_QPS", default_value_t = 1.0)]
    pub limit_ipam_api_vnic_attach_qps: f64,

    /// Burst of VNIC attaches.
    #[arg(long, env = "OCI_IPAM_LIMIT_VNIC_ATTACH_BURST", default_value_t = 5)]
    pub limit_ipam_api_vnic_attach_burst: u32,

    /// Nodes worked on in parallel.
    #[arg(long, env = "OCI_IPAM_PARALLEL_ALLOC_WORKERS", default_value_t = 50)]
    pub parallel_alloc_workers: u32,

    /// How often each node's OCI state is re-read when nothing changed.
    #[arg(long, env = "OCI_IPAM_RESYNC_INTERVAL", default_value = "5m",
        value_parser = humantime::parse_duration)]
    pub resync_interval: Duration,

    /// VNIC attach timeout: an attachment still ATTACHING after this is reported on the node.
    #[arg(long, env = "OCI_IPAM_VNIC_ATTACH_TIMEOUT", default_value = "3m",
        value_parser = humantime::parse_duration)]
    pub vnic_attach_timeout: Duration,

    /// How often an attachment in flight is polled until it is ATTACHED.
    #[arg(long, env = "OCI_IPAM_VNIC_ATTACH_POLL_INTERVAL", default_value = "2s",
        value_parser = humantime::parse_duration)]
    pub vnic_attach_poll_interval: Duration,

    /// The cluster's name, written as a freeform tag on everything the operator creates.
    #[arg(long, env = "OCI_IPAM_CLUSTER_NAME")]
    pub cluster_name: Option<String>,

    /// OCI API endpoint override (e.g. a proxy or a stand-in), instead of the regional host.
    #[arg(long, env = "OCI_IPAM_OCI_ENDPOINT")]
    pub oci_endpoint: Option<String>,

    /// Instance metadata endpoint override (default `http://169.254.169.254/opc/v2`).
    #[arg(long, env = "OCI_IPAM_OCI_METADATA_ENDPOINT")]
    pub oci_metadata_endpoint: Option<String>,

    /// Federation (auth service) endpoint override for instance principals.
    #[arg(long, env = "OCI_IPAM_OCI_FEDERATION_ENDPOINT")]
    pub oci_federation_endpoint: Option<String>,

    /// Address of the Prometheus `/metrics` server.
    #[arg(
        long,
        env = "OCI_IPAM_PROMETHEUS_SERVE_ADDR",
        default_value = "0.0.0.0:9967"
    )]
    pub operator_prometheus_serve_addr: String,

    /// Address of the `/healthz` and `/readyz` server (may equal the metrics address).
    #[arg(long, env = "OCI_IPAM_API_SERVE_ADDR", default_value = "0.0.0.0:9968")]
    pub operator_api_serve_addr: String,

    /// Log format.
    #[arg(long, env = "OCI_IPAM_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,

    /// Namespace of the leader-election Lease.
    #[arg(
        long,
        env = "OCI_IPAM_LEADER_ELECTION_NAMESPACE",
        default_value = "kube-system"
    )]
    pub leader_election_namespace: String,

    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "OCI_IPAM_LEADER_ELECTION_LEASE_NAME",
        default_value = "oci-ipam-operator"
    )]
    pub leader_election_lease_name: String,

    /// This replica's identity in the Lease; default: `$POD_NAME`, else the host name.
    #[arg(long, env = "OCI_IPAM_LEADER_ELECTION_IDENTITY")]
    pub leader_election_identity: Option<String>,

    /// How long a Lease stays valid without renewal.
    #[arg(long, env = "OCI_IPAM_LEADER_ELECTION_LEASE_DURATION", default_value = "15s",
        value_parser = humantime::parse_duration)]
    pub leader_election_lease_duration: Duration,

    /// How long the leader keeps trying to renew before it steps down.
    #[arg(long, env = "OCI_IPAM_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s",
        value_parser = humantime::parse_duration)]
    pub leader_election_renew_deadline: Duration,

    /// How often replicas try to take or renew the Lease.
    #[arg(long, env = "OCI_IPAM_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s",
        value_parser = humantime::parse_duration)]
    pub leader_election_retry_period: Duration,

    /// How long an in-flight OCI call may finish after a shutdown signal.
    #[arg(long, env = "OCI_IPAM_SHUTDOWN_GRACE", default_value = "10s",
        value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
}

/// How the operator authenticates to OCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum AuthMethod {
    /// The instance's certificate from the metadata service (the in-cluster default).
    InstancePrincipal,
    /// An API key from an OCI config file and profile.
    ConfigFile,
    /// A resource principal from `OCI_RESOURCE_PRINCIPAL_*` variables.
    ResourcePrincipal,
}

/// Whether secondary VNICs are attached and used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum SecondaryVnics {
    /// Attach VNICs when the existing ones are full (needs the node agent for routing).
    Enabled,
    /// Use only the primary VNIC's secondary addresses; no node agent needed.
    Disabled,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable text.
    Text,
}

/// What the operator does with addresses above a node's need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExcessRelease {
    /// Keep them (Cilium's default).
    Keep,
    /// Release those that stayed excess for this long, through the handshake.
    After(Duration),
}

/// The validated operator configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// How to authenticate to OCI.
    pub auth: Auth,
    /// Region override.
    pub region: Option<Region>,
    /// Compartments searched for subnets.
    pub compartments: Vec<Ocid>,
    /// The cluster's VCN, if pinned.
    pub vcn: Option<Ocid>,
    /// Which subnets new VNICs go into.
    pub subnets: SubnetSelector,
    /// NSGs for new VNICs.
    pub nsg_ids: Vec<Ocid>,
    /// Pool defaults for nodes without their own values.
    pub pool: PoolDefaults,
    /// Secondary addresses per VNIC.
    pub ips_per_vnic: u32,
    /// Lowest VNIC index used for pods.
    pub first_vnic_index: u32,
    /// Whether secondary VNICs are attached.
    pub secondary_vnics: SecondaryVnics,
    /// Excess release policy.
    pub release: ExcessRelease,
    /// Rate limits per class of OCI call.
    pub rate_limits: RateLimits,
    /// Parallel node workers.
    pub workers: usize,
    /// Per-node resync interval.
    pub resync_interval: Duration,
    /// Attach timeout.
    pub vnic_attach_timeout: Duration,
    /// Attach poll interval.
    pub vnic_attach_poll_interval: Duration,
    /// Cluster name for tags.
    pub cluster: ClusterName,
    /// Endpoint overrides.
    pub endpoints: Endpoints,
    /// Metrics listen address.
    pub metrics_address: SocketAddr,
    /// Health listen address.
    pub health_address: SocketAddr,
    /// Log format.
    pub log_format: LogFormat,
    /// Leader election settings.
    pub leader_election: LeaderElection,
    /// Grace period for in-flight calls at shutdown.
    pub shutdown_grace: Duration,
}

/// OCI authentication, with its method-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// Instance principal.
    InstancePrincipal,
    /// Config file and profile.
    ConfigFile {
        /// The config file, `None` for the SDK default location.
        path: Option<PathBuf>,
        /// The profile name.
        profile: String,
    },
    /// Resource principal.
    ResourcePrincipal,
}

/// Where VNICs the operator attaches get their subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubnetSelector {
    /// Exactly these subnets.
    Ids(Vec<Ocid>),
    /// Subnets of the VCN carrying all of these freeform tags.
    Tags(BTreeMap<String, String>),
    /// The node's own subnet, then the subnet with most free addresses in its AD.
    NodeSubnet,
}

/// Pool defaults, Cilium's `spec.ipam` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolDefaults {
    /// `pre-allocate`.
    pub pre_allocate: u32,
    /// `min-allocate` (0 = none).
    pub min_allocate: u32,
    /// `max-allocate` (0 = none).
    pub max_allocate: u32,
    /// `max-above-watermark`.
    pub max_above_watermark: u32,
}

/// A token bucket's rate and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Bucket {
    /// Sustained calls per second.
    pub qps: f64,
    /// Calls that may go at once after an idle period.
    pub burst: u32,
}

impl Bucket {
    /// A bucket; validation happens in [`Config::from_flags`].
    #[must_use]
    pub const fn new(qps: f64, burst: u32) -> Self {
        Self { qps, burst }
    }
}

/// Rate limits per class of OCI call.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimits {
    /// Reads (get, list).
    pub read: Bucket,
    /// Private-IP creates and deletes.
    pub private_ip_write: Bucket,
    /// VNIC attaches.
    pub vnic_attach: Bucket,
}

/// Endpoint overrides; `None` means the real regional or link-local endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// OCI API base URL (with or without `/20160918`).
    pub oci_api: Option<String>,
    /// Metadata service base URL.
    pub metadata: Option<String>,
    /// Federation endpoint.
    pub federation: Option<String>,
}

/// Leader election settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderElection {
    /// Lease namespace.
    pub namespace: String,
    /// Lease name.
    pub lease_name: String,
    /// This replica's identity.
    pub identity: String,
    /// Lease validity.
    pub lease_duration: Duration,
    /// Renew deadline.
    pub renew_deadline: Duration,
    /// Retry period.
    pub retry_period: Duration,
}

/// An OCI resource identifier (`ocid1.<type>.<realm>...`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ocid(String);

impl Ocid {
    /// Parses an OCID, checking its resource type when `kind` is given.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `flag` when the text is not an OCID of that type.
    pub fn parse(flag: &'static str, text: &str, kinds: &[&str]) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = text.split('.').collect();
        let well_formed = parts.len() >= 4
            && parts[0] == "ocid1"
            && parts
                .iter()
                .all(|part| !part.is_empty() || part == &parts[3])
            && parts.last().is_some_and(|unique| !unique.is_empty())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !well_formed {
            return Err(ConfigError::invalid(
                flag,
                text,
                "expected an OCID such as ocid1.subnet.oc1..<id>",
            ));
        }
        if !kinds.is_empty() && !kinds.contains(&parts[1]) {
            return Err(ConfigError::invalid(
                flag,
                text,
                &format!(
                    "expected an OCID of type {}, not {}",
                    kinds.join(" or "),
                    parts[1]
                ),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The OCID text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An OCI region identifier such as `us-ashburn-1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    /// The region text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The cluster name used in freeform tags (1-63 of `a-z 0-9 -`, starting with a letter or digit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterName(String);

impl ClusterName {
    /// Parses a cluster name.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming `--cluster-name`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let valid = !text.is_empty()
            && text.len() <= 63
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !text.starts_with('-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ConfigError::invalid(
                "--cluster-name",
                text,
                "use 1-63 lowercase letters, digits and dashes, not starting with a dash",
            ))
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A setting the operator refuses to start with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that cannot be used.
    #[error("invalid {flag} {value:?}: {fix}")]
    Invalid {
        /// The flag (its `OCI_IPAM_*` variable is equivalent).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What to do instead.
        fix: String,
    },
    /// Two settings that cannot hold together.
    #[error("{flag} contradicts {other}: {fix}")]
    Contradiction {
        /// The first flag.
        flag: &'static str,
        /// The flag it contradicts.
        other: &'static str,
        /// What to do instead.
        fix: String,
    },
    /// A required setting that is absent.
    #[error("{flag} is required: {fix}")]
    Missing {
        /// The flag.
        flag: &'static str,
        /// Why and how to set it.
        fix: String,
    },
}

impl ConfigError {
    fn invalid(flag: &'static str, value: &str, fix: &str) -> Self {
        Self::Invalid {
            flag,
            value: value.to_owned(),
            fix: fix.to_owned(),
        }
    }

    fn contradiction(flag: &'static str, other: &'static str, fix: &str) -> Self {
        Self::Contradiction {
            flag,
            other,
            fix: fix.to_owned(),
        }
    }

    /// The flag to fix.
    #[must_use]
    pub fn flag(&self) -> &'static str {
        match self {
            Self::Invalid { flag, .. }
            | Self::Contradiction { flag, .. }
            | Self::Missing { flag, .. } => flag,
        }
    }
}

impl Config {
    /// Validates flags into a configuration.
    ///
    /// `default_identity` is used for the Lease holder when no identity flag is given (the
    /// binary passes `$POD_NAME` or the host name).
    ///
    /// # Errors
    ///
    /// The first bad or contradictory setting, naming its flag.
    pub fn from_flags(flags: &Flags, default_identity: &str) -> Result<Self, ConfigError> {
        let auth = auth(flags)?;

        let region = flags.oci_region.as_deref().map(region).transpose()?;

        let compartments = flags
            .oci_compartment_ids
            .iter()
            .map(|id| Ocid::parse("--oci-compartment-ids", id, &["compartment", "tenancy"]))
            .collect::<Result<Vec<_>, _>>()?;

        let vcn = flags
            .oci_vcn_id
            .as_deref()
            .map(|id| Ocid::parse("--oci-vcn-id", id, &["vcn"]))
            .transpose()?;

        let subnets = subnet_selector(flags, vcn.as_ref(), &compartments)?;

        let nsg_ids = flags
            .nsg_ids
            .iter()
            .map(|id| Ocid::parse("--nsg-ids", id, &["networksecuritygroup"]))
            .collect::<Result<Vec<_>, _>>()?;
        if nsg_ids.len() > 5 {
            return Err(ConfigError::invalid(
                "--nsg-ids",
                &flags.nsg_ids.join(","),
                "OCI allows at most 5 network security groups per VNIC",
            ));
        }
        if !nsg_ids.is_empty() && flags.secondary_vnics == SecondaryVnics::Disabled {
            return Err(ConfigError::contradiction(
                "--nsg-ids",
                "--secondary-vnics=disabled",
                "NSGs apply only to VNICs the operator attaches; drop one of them",
            ));
        }

        let pool = pool_defaults(flags)?;

        if !(1..=64).contains(&flags.ips_per_vnic) {
            return Err(ConfigError::invalid(
                "--ips-per-vnic",
                &flags.ips_per_vnic.to_string(),
                "OCI allows 1 to 64 secondary private IPs per VNIC; 31 is safe everywhere",
            ));
        }
        if flags.first_interface_index > 0 && flags.secondary_vnics == SecondaryVnics::Disabled {
            return Err(ConfigError::contradiction(
                "--first-interface-index",
                "--secondary-vnics=disabled",
                "with secondary VNICs disabled only VNIC 0 exists; set the index to 0",
            ));
        }
        if flags.first_interface_index > 255 {
            return Err(ConfigError::invalid(
                "--first-interface-index",
                &flags.first_interface_index.to_string(),
                "no OCI shape attaches more than 512 VNICs; use a small index such as 1",
            ));
        }

        let release = match (flags.release_excess_ips, flags.excess_ip_release_delay) {
            (false, None) => ExcessRelease::Keep,
            (false, Some(_)) => {
                return Err(ConfigError::contradiction(
                    "--excess-ip-release-delay",
                    "--release-excess-ips=false",
                    "the delay only applies when excess release is on; set --release-excess-ips",
                ));
            }
            (true, delay) => ExcessRelease::After(delay.unwrap_or(Duration::from_secs(180))),
        };

        let rate_limits = RateLimits {
            read: bucket(
                "--limit-ipam-api-read-qps",
                "--limit-ipam-api-read-burst",
                flags.limit_ipam_api_read_qps,
                flags.limit_ipam_api_read_burst,
            )?,
            private_ip_write: bucket(
                "--limit-ipam-api-private-ip-qps",
                "--limit-ipam-api-private-ip-burst",
                flags.limit_ipam_api_private_ip_qps,
                flags.limit_ipam_api_private_ip_burst,
            )?,
            vnic_attach: bucket(
                "--limit-ipam-api-vnic-attach-qps",
                "--limit-ipam-api-vnic-attach-burst",
                flags.limit_ipam_api_vnic_attach_qps,
                flags.limit_ipam_api_vnic_attach_burst,
            )?,
        };

        if !(1..=1000).contains(&flags.parallel_alloc_workers) {
            return Err(ConfigError::invalid(
                "--parallel-alloc-workers",
                &flags.parallel_alloc_workers.to_string(),
                "use 1 to 1000 workers",
            ));
        }
        positive("--resync-interval", flags.resync_interval)?;
        positive("--vnic-attach-timeout", flags.vnic_attach_timeout)?;
        positive(
            "--vnic-attach-poll-interval",
            flags.vnic_attach_poll_interval,
        )?;

        let cluster = match flags.cluster_name.as_deref() {
            Some(name) => ClusterName::parse(name)?,
            None => {
                return Err(ConfigError::Missing {
                    flag: "--cluster-name",
                    fix: "the name tags every VNIC and address the operator creates; \
                          set it (or OCI_IPAM_CLUSTER_NAME) to the cluster's name"
                        .to_owned(),
                });
            }
        };

        let endpoints = Endpoints {
            oci_api: endpoint("--oci-endpoint", flags.oci_endpoint.as_deref())?,
            metadata: endpoint(
                "--oci-metadata-endpoint",
                flags.oci_metadata_endpoint.as_deref(),
            )?,
            federation: endpoint(
                "--oci-federation-endpoint",
                flags.oci_federation_endpoint.as_deref(),
            )?,
        };
        if endpoints.federation.is_some() && auth != Auth::InstancePrincipal {
            return Err(ConfigError::contradiction(
                "--oci-federation-endpoint",
                "--oci-auth",
                "the federation endpoint is used only with --oci-auth instance-principal",
            ));
        }

        let metrics_address = socket_address(
            "--operator-prometheus-serve-addr",
            &flags.operator_prometheus_serve_addr,
        )?;
        let health_address =
            socket_address("--operator-api-serve-addr", &flags.operator_api_serve_addr)?;

        let leader_election = leader_election(flags, default_identity)?;
        positive("--shutdown-grace", flags.shutdown_grace)?;

        Ok(Self {
            auth,
            region,
            compartments,
            vcn,
            subnets,
            nsg_ids,
            pool,
            ips_per_vnic: flags.ips_per_vnic,
            first_vnic_index: flags.first_interface_index,
            secondary_vnics: flags.secondary_vnics,
            release,
            rate_limits,
            workers: flags.parallel_alloc_workers as usize,
            resync_interval: flags.resync_interval,
            vnic_attach_timeout: flags.vnic_attach_timeout,
            vnic_attach_poll_interval: flags.vnic_attach_poll_interval,
            cluster,
            endpoints,
            metrics_address,
            health_address,
            log_format: flags.log_format,
            leader_election,
            shutdown_grace: flags.shutdown_grace,
        })
    }
}

fn auth(flags: &Flags) -> Result<Auth, ConfigError> {
    match flags.oci_auth {
        AuthMethod::ConfigFile => {
            let profile = flags
                .oci_profile
                .clone()
                .unwrap_or_else(|| "DEFAULT".to_owned());
            if profile.is_empty() || profile.contains(['[', ']']) {
                return Err(ConfigError::invalid(
                    "--oci-profile",
                    &profile,
                    "name a profile section of the OCI config file, e.g. DEFAULT",
                ));
            }
            Ok(Auth::ConfigFile {
                path: flags.oci_config_file.clone(),
                profile,
            })
        }
        method => {
            if flags.oci_config_file.is_some() {
                return Err(ConfigError::contradiction(
                    "--oci-config-file",
                    "--oci-auth",
                    "a config file is read only with --oci-auth config-file",
                ));
            }
            if flags.oci_profile.is_some() {
                return Err(ConfigError::contradiction(
                    "--oci-profile",
                    "--oci-auth",
                    "a profile is read only with --oci-auth config-file",
                ));
            }
            Ok(match method {
                AuthMethod::ResourcePrincipal => Auth::ResourcePrincipal,
                _ => Auth::InstancePrincipal,
            })
        }
    }
}

fn region(text: &str) -> Result<Region, ConfigError> {
    let parts: Vec<&str> = text.split('-').collect();
    let valid = parts.len() >= 3
        && parts.iter().all(|part| !part.is_empty())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(Region(text.to_owned()))
    } else {
        Err(ConfigError::invalid(
            "--oci-region",
            text,
            "use a region identifier such as us-ashburn-1",
        ))
    }
}

fn subnet_selector(
    flags: &Flags,
    vcn: Option<&Ocid>,
    compartments: &[Ocid],
) -> Result<SubnetSelector, ConfigError> {
    if !flags.subnet_ids.is_empty() && !flags.subnet_tags.is_empty() {
        return Err(ConfigError::contradiction(
            "--subnet-ids",
            "--subnet-tags",
            "explicit subnets and a tag selector exclude each other; keep one",
        ));
    }
    if !flags.subnet_ids.is_empty() {
        let ids = flags
            .subnet_ids
            .iter()
            .map(|id| Ocid::parse("--subnet-ids", id, &["subnet"]))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(SubnetSelector::Ids(ids));
    }
    if flags.subnet_tags.is_empty() {
        return Ok(SubnetSelector::NodeSubnet);
    }

    let mut tags = BTreeMap::new();
    for pair in &flags.subnet_tags {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(ConfigError::invalid(
                "--subnet-tags",
                pair,
                "write tags as key=value",
            ));
        };
        if key.is_empty() {
            return Err(ConfigError::invalid(
                "--subnet-tags",
                pair,
                "a tag key cannot be empty",
            ));
        }
        tags.insert(key.to_owned(), value.to_owned());
    }
    if vcn.is_none() {
        return Err(ConfigError::Missing {
            flag: "--oci-vcn-id",
            fix: "subnets are selected by tag within one VCN; set --oci-vcn-id".to_owned(),
        });
    }
    if compartments.is_empty() {
        return Err(ConfigError::Missing {
            flag: "--oci-compartment-ids",
            fix: "tagged subnets are listed per compartment; set --oci-compartment-ids".to_owned(),
        });
    }
    Ok(SubnetSelector::Tags(tags))
}

fn pool_defaults(flags: &Flags) -> Result<PoolDefaults, ConfigError> {
    let pool = PoolDefaults {
        pre_allocate: flags.pre_allocate,
        min_allocate: flags.min_allocate,
        max_allocate: flags.max_allocate,
        max_above_watermark: flags.max_above_watermark,
    };
    if pool.max_allocate > 0 && pool.min_allocate > pool.max_allocate {
        return Err(ConfigError::contradiction(
            "--min-allocate",
            "--max-allocate",
            "the minimum cannot exceed the maximum",
        ));
    }
    if pool.max_allocate > 0 && pool.pre_allocate > pool.max_allocate {
        return Err(ConfigError::contradiction(
            "--pre-allocate",
            "--max-allocate",
            "a node cannot keep more free addresses than its maximum",
        ));
    }
    if pool.pre_allocate == 0 && pool.min_allocate == 0 {
        return Err(ConfigError::invalid(
            "--pre-allocate",
            "0",
            "with --min-allocate 0 too, new nodes would never get an address; use at least 1",
        ));
    }
    Ok(pool)
}

fn bucket(
    qps_flag: &'static str,
    burst_flag: &'static str,
    qps: f64,
    burst: u32,
) -> Result<Bucket, ConfigError> {
    if !qps.is_finite() || qps <= 0.0 || qps > 10_000.0 {
        return Err(ConfigError::invalid(
            qps_flag,
            &qps.to_string(),
            "use a rate above 0 and at most 10000",
        ));
    }
    if burst == 0 {
        return Err(ConfigError::invalid(
            burst_flag,
            "0",
            "the burst must allow at least one call",
        ));
    }
    Ok(Bucket { qps, burst })
}

fn positive(flag: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(ConfigError::invalid(
            flag,
            "0s",
            "use a duration above zero, such as 30s",
        ))
    } else {
        Ok(())
    }
}

fn endpoint(flag: &'static str, value: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(text) = value else {
        return Ok(None);
    };
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !text.contains(char::is_whitespace) =>
        {
            Ok(Some(text.trim_end_matches('/').to_owned()))
        }
        _ => Err(ConfigError::invalid(
            flag,
            text,
            "use an http:// or https:// URL with a host",
        )),
    }
}

fn socket_address(flag: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::invalid(flag, text, "use host:port, e.g. 0.0.0.0:9967 or [::]:9967")
    })
}

fn leader_election(flags: &Flags, default_identity: &str) -> Result<LeaderElection, ConfigError> {
    let identity = flags
        .leader_election_identity
        .clone()
        .unwrap_or_else(|| default_identity.to_owned());
    if identity.is_empty() {
        return Err(ConfigError::Missing {
            flag: "--leader-election-identity",
            fix: "set it, or POD_NAME through the downward API".to_owned(),
        });
    }
    for (flag, value) in [
        (
            "--leader-election-namespace",
            &flags.leader_election_namespace,
        ),
        (
            "--leader-election-lease-name",
            &flags.leader_election_lease_name,
        ),
    ] {
        let valid = !value.is_empty()
            && value.len() <= 253
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            return Err(ConfigError::invalid(
                flag,
                value,
                "use a Kubernetes object name",
            ));
        }
    }
    positive(
        "--leader-election-retry-period",
        flags.leader_election_retry_period,
    )?;
    if flags.leader_election_renew_deadline <= flags.leader_election_retry_period {
        return Err(ConfigError::contradiction(
            "--leader-election-renew-deadline",
            "--leader-election-retry-period",
            "the renew deadline must be longer than the retry period",
        ));
    }
    if flags.leader_election_lease_duration <= flags.leader_election_renew_deadline {
        return Err(ConfigError::contradiction(
            "--leader-election-lease-duration",
            "--leader-election-renew-deadline",
            "the lease must outlive the renew deadline, or two leaders could overlap",
        ));
    }
    Ok(LeaderElection {
        namespace: flags.leader_election_namespace.clone(),
        lease_name: flags.leader_election_lease_name.clone(),
        identity,
        lease_duration: flags.leader_election_lease_duration,
        renew_deadline: flags.leader_election_renew_deadline,
        retry_period: flags.leader_election_retry_period,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        flags: Flags,
    }

    const SUBNET: &str = "ocid1.subnet.oc1.iad.aaaa";

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["probe"];
        if !args.contains(&"--cluster-name") {
            argv.extend_from_slice(&["--cluster-name", "prod"]);
        }
        argv.extend_from_slice(args);
        let probe = Probe::try_parse_from(argv).expect("clap accepts the flags");
        Config::from_flags(&probe.flags, "pod-a")
    }

    fn refused_flag(args: &[&str]) -> &'static str {
        parse(args).expect_err("the setting must be refused").flag()
    }

    #[test]
    fn defaults_follow_cilium() {
        let config = parse(&[]).expect("defaults are valid");

        assert_eq!(config.auth, Auth::InstancePrincipal);
        assert_eq!(config.pool.pre_allocate, 8);
        assert_eq!(config.ips_per_vnic, 31);
        assert_eq!(config.release, ExcessRelease::Keep);
        assert_eq!(config.rate_limits.private_ip_write, Bucket::new(4.0, 20));
        assert_eq!(config.workers, 50);
        assert_eq!(config.subnets, SubnetSelector::NodeSubnet);
        assert_eq!(config.leader_election.identity, "pod-a");
        assert_eq!(config.metrics_address.port(), 9967);
    }

    #[test]
    fn config_file_auth_takes_file_and_profile() {
        let config = parse(&[
            "--oci-auth",
            "config-file",
            "--oci-config-file",
            "/x/config",
        ])
        .expect("valid");

        assert_eq!(
            config.auth,
            Auth::ConfigFile {
                path: Some("/x/config".into()),
                profile: "DEFAULT".to_owned()
            }
        );
    }

    #[test]
    fn release_delay_defaults_to_three_minutes() {
        let config = parse(&["--release-excess-ips"]).expect("valid");

        assert_eq!(
            config.release,
            ExcessRelease::After(Duration::from_secs(180))
        );
    }

    #[test]
    fn missing_cluster_name_is_refused() {
        let probe = Probe::try_parse_from(["probe"]).expect("clap accepts");

        let err = Config::from_flags(&probe.flags, "pod").expect_err("refused");

        assert_eq!(err.flag(), "--cluster-name");
        assert!(err.to_string().contains("OCI_IPAM_CLUSTER_NAME"));
    }

    #[test]
    fn every_bad_setting_names_its_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--cluster-name", "Prod_1"], "--cluster-name"),
            (&["--oci-profile", "DEFAULT"], "--oci-profile"),
            (&["--oci-config-file", "/x"], "--oci-config-file"),
            (&["--oci-region", "ashburn"], "--oci-region"),
            (
                &["--oci-compartment-ids", "ocid1.vcn.oc1..x"],
                "--oci-compartment-ids",
            ),
            (&["--oci-vcn-id", "vcn-1"], "--oci-vcn-id"),
            (&["--subnet-ids", "ocid1.vcn.oc1..x"], "--subnet-ids"),
            (
                &["--subnet-ids", SUBNET, "--subnet-tags", "a=b"],
                "--subnet-ids",
            ),
            (&["--subnet-tags", "pods"], "--subnet-tags"),
            (&["--subnet-tags", "role=pods"], "--oci-vcn-id"),
            (&["--nsg-ids", "ocid1.subnet.oc1..x"], "--nsg-ids"),
            (
                &["--min-allocate", "20", "--max-allocate", "10"],
                "--min-allocate",
            ),
            (
                &["--pre-allocate", "20", "--max-allocate", "10"],
                "--pre-allocate",
            ),
            (&["--pre-allocate", "0"], "--pre-allocate"),
            (&["--ips-per-vnic", "0"], "--ips-per-vnic"),
            (&["--ips-per-vnic", "65"], "--ips-per-vnic"),
            (
                &[
                    "--first-interface-index",
                    "1",
                    "--secondary-vnics",
                    "disabled",
                ],
                "--first-interface-index",
            ),
            (
                &["--excess-ip-release-delay", "1m"],
                "--excess-ip-release-delay",
            ),
            (
                &["--limit-ipam-api-read-qps", "0"],
                "--limit-ipam-api-read-qps",
            ),
            (
                &["--limit-ipam-api-private-ip-qps", "NaN"],
                "--limit-ipam-api-private-ip-qps",
            ),
            (
                &["--limit-ipam-api-vnic-attach-burst", "0"],
                "--limit-ipam-api-vnic-attach-burst",
            ),
            (
                &["--parallel-alloc-workers", "0"],
                "--parallel-alloc-workers",
            ),
            (&["--resync-interval", "0s"], "--resync-interval"),
            (&["--oci-endpoint", "iaas.example.com"], "--oci-endpoint"),
            (
                &[
                    "--oci-federation-endpoint",
                    "http://127.0.0.1:1",
                    "--oci-auth",
                    "resource-principal",
                ],
                "--oci-federation-endpoint",
            ),
            (
                &["--operator-prometheus-serve-addr", "localhost"],
                "--operator-prometheus-serve-addr",
            ),
            (
                &["--leader-election-namespace", "Kube_System"],
                "--leader-election-namespace",
            ),
            (
                &["--leader-election-renew-deadline", "20s"],
                "--leader-election-lease-duration",
            ),
            (
                &["--leader-election-retry-period", "10s"],
                "--leader-election-renew-deadline",
            ),
        ];

        for (args, flag) in cases {
            assert_eq!(refused_flag(args), *flag, "args {args:?}");
        }
    }

    #[test]
    fn nsgs_need_secondary_vnics() {
        let nsg = "ocid1.networksecuritygroup.oc1.iad.aaaa";

        assert!(parse(&["--nsg-ids", nsg]).is_ok());
        assert_eq!(
            refused_flag(&["--nsg-ids", nsg, "--secondary-vnics", "disabled"]),
            "--nsg-ids"
        );
    }

    #[test]
    fn subnet_tags_parse_with_vcn_and_compartment() {
        let config = parse(&[
            "--subnet-tags",
            "role=pods,env=prod",
            "--oci-vcn-id",
            "ocid1.vcn.oc1.iad.aaaa",
            "--oci-compartment-ids",
            "ocid1.compartment.oc1..bbbb",
        ])
        .expect("valid");

        let SubnetSelector::Tags(tags) = config.subnets else {
            panic!("expected a tag selector");
        };
        assert_eq!(tags.get("role").map(String::as_str), Some("pods"));
        assert_eq!(tags.len(), 2);
    }

    #[test]
    fn endpoints_lose_trailing_slash() {
        let config = parse(&["--oci-endpoint", "http://127.0.0.1:8080/"]).expect("valid");

        assert_eq!(
            config.endpoints.oci_api.as_deref(),
            Some("http://127.0.0.1:8080")
        );
    }
}
