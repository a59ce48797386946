//! The running simulator and its in-process control and inspection API.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;

use oci_auth::PrivateKey;
use rsa::pkcs8::EncodePrivateKey as _;
use rsa::pkcs8::LineEnding;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::error::SimError;
use crate::faults::Counters;
use crate::faults::FaultInjector;
use crate::faults::FaultSettings;
use crate::identity::Identity;
use crate::model::AttachmentState;
use crate::server::Shared;
use crate::state::State;
use crate::state::User;
use crate::world::AttachSettings;
use crate::world::InstanceSpec;
use crate::world::World;
use crate::world::mint_ocid;

/// A running simulator. Dropping it stops the listener.
#[derive(Debug)]
pub struct Sim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Sim {
    /// Starts a simulator for `world` on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    /// [`SimError::ValidateWorld`] for an inconsistent world, [`SimError::Listen`] when no
    /// port can be bound.
    pub async fn start(world: World) -> Result<Self, SimError> {
        Self::start_on(world, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator for `world` on `addr`.
    ///
    /// # Errors
    /// As [`Sim::start`].
    pub async fn start_on(world: World, addr: SocketAddr) -> Result<Self, SimError> {
        let clock = SimClock::new();
        let state = State::from_world(&world, clock.now())?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(FaultInjector::new(world.faults.clone())),
            counters: Mutex::new(Counters::default()),
            clock,
            identity: Identity::default(),
        });

        let listener = crate::server::bind(addr)
            .await
            .map_err(|source| SimError::Listen { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Listen { addr, source })?;
        let shutdown = CancellationToken::new();
        let router = crate::server::router(shared.clone());
        let task = tokio::spawn(crate::server::serve(listener, router, shutdown.clone()));
        tracing::debug!(%addr, "oci-sim listening");

        Ok(Self {
            addr,
            shared,
            shutdown,
            task: Some(task),
        })
    }

    /// The listening address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service endpoint SDK clients take (`http://127.0.0.1:PORT`); the core API lives
    /// under `/20160918` below it.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The core API base URL, `http://127.0.0.1:PORT/20160918`.
    #[must_use]
    pub fn api_base_url(&self) -> String {
        format!("{}/20160918", self.endpoint())
    }

    /// The metadata base URL of one instance, standing in for
    /// `http://169.254.169.254/opc/v2` (what `OCI_METADATA_BASE_URL` takes).
    #[must_use]
    pub fn metadata_base_url(&self, instance_id: &str) -> String {
        format!("{}/imds/{instance_id}/opc/v2", self.endpoint())
    }

    /// The federation URL, standing in for `https://auth.<region>.<domain>/v1/x509`.
    #[must_use]
    pub fn federation_url(&self) -> String {
        format!("{}/v1/x509", self.endpoint())
    }

    /// The tenancy OCID.
    #[must_use]
    pub fn tenancy(&self) -> String {
        self.shared.state().tenancy.clone()
    }

    /// The region identifier, e.g. `us-ashburn-1`.
    #[must_use]
    pub fn region(&self) -> String {
        self.shared.state().region.clone()
    }

    /// The simulated clock; [`SimClock::advance`] skips time.
    #[must_use]
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Creates an IAM user with a fresh RSA-2048 API key. `compartments` limits what the
    /// user sees (`None`: everything).
    ///
    /// # Errors
    /// [`SimError::GenerateKey`], or [`SimError::ChangeWorld`] for an unknown compartment.
    pub fn create_user(
        &self,
        name: &str,
        compartments: Option<Vec<String>>,
    ) -> Result<ApiUser, SimError> {
        let rsa = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|source| {
            SimError::GenerateKey {
                purpose: format!("user {name}"),
                source,
            }
        })?;
        let private_key = PrivateKey::from_rsa(rsa);
        let user_id = mint_ocid("user", "oc1", "");
        let fingerprint = self.register_key(&user_id, &private_key, compartments)?;
        tracing::debug!(user = %user_id, name, "user created");

        let state = self.shared.state();
        Ok(ApiUser {
            tenancy: state.tenancy.clone(),
            user: user_id,
            fingerprint,
            region: state.region.clone(),
            private_key,
        })
    }

    /// Registers `public_key_pem` as an API key of `user_id` (creating the user, seeing every
    /// compartment, if it does not exist). Returns the key's fingerprint.
    ///
    /// # Errors
    /// [`SimError::LoadPublicKey`] when the PEM is not an RSA public key.
    pub fn register_api_key(
        &self,
        user_id: &str,
        public_key_pem: &str,
    ) -> Result<String, SimError> {
        let (fingerprint, key) = crate::auth::load_public_key(user_id, public_key_pem)?;
        let mut state = self.shared.state();
        let user = state
            .users
            .entry(user_id.to_owned())
            .or_insert_with(|| User {
                compartments: None,
                keys: Default::default(),
            });
        user.keys.insert(fingerprint.clone(), key);
        Ok(fingerprint)
    }

    fn register_key(
        &self,
        user_id: &str,
        private_key: &PrivateKey,
        compartments: Option<Vec<String>>,
    ) -> Result<String, SimError> {
        let public = private_key.public_key().clone();
        let fingerprint = public.fingerprint().as_str().to_ascii_lowercase();
        let mut state = self.shared.state();
        if let Some(unknown) = compartments
            .iter()
            .flatten()
            .find(|c| !state.compartments.contains_key(c.as_str()))
        {
            return Err(SimError::ChangeWorld {
                problem: format!("unknown compartment {unknown}"),
            });
        }
        let mut keys = std::collections::HashMap::new();
        keys.insert(fingerprint.clone(), public);
        let compartments = compartments.map(|c| c.into_iter().collect::<BTreeSet<_>>());
        state
            .users
            .insert(user_id.to_owned(), User { compartments, keys });
        Ok(fingerprint)
    }

    /// Launches an instance (cluster scale-up); its primary VNIC is attached at once.
    ///
    /// # Errors
    /// [`SimError::ChangeWorld`] naming the bad field (duplicate OCID, unknown shape,
    /// compartment or subnet, taken address, full subnet).
    pub fn add_instance(&self, spec: InstanceSpec) -> Result<String, SimError> {
        let now = self.shared.clock.now();
        let mut state = self.shared.state();
        state
            .launch(&spec, now)
            .map_err(|problem| SimError::ChangeWorld { problem })?;
        tracing::debug!(instance = %spec.id, shape = %spec.shape, "instance launched");
        Ok(spec.id)
    }

    /// Terminates an instance (cluster scale-down): its attachments go DETACHED and its VNICs
    /// and private IPs disappear, freeing their addresses; its session tokens stop working.
    ///
    /// # Errors
    /// [`SimError::ChangeWorld`] when no such instance exists.
    pub fn terminate_instance(&self, instance_id: &str) -> Result<(), SimError> {
        self.shared
            .state()
            .terminate(instance_id)
            .map_err(|problem| SimError::ChangeWorld { problem })?;
        self.shared.identity.forget(instance_id);
        tracing::debug!(instance = %instance_id, "instance terminated");
        Ok(())
    }

    /// Replaces the fault settings (and re-seeds every operation's random source).
    ///
    /// # Errors
    /// [`SimError::ChangeWorld`] for rates outside 0..=1 or unknown operation names.
    pub fn set_faults(&self, settings: FaultSettings) -> Result<(), SimError> {
        settings
            .validate()
            .map_err(|problem| SimError::ChangeWorld { problem })?;
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(settings);
        Ok(())
    }

    /// Scripts `fault` for the next `times` calls of `operation`, ahead of (and regardless
    /// of) the random fault settings: deterministic faults for retry tests. The latency of
    /// the fault settings still applies.
    pub fn inject(&self, operation: crate::faults::Operation, fault: crate::Fault, times: usize) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .script(operation, fault, times);
    }

    /// Replaces the attach timing; applies to attachments made from now on.
    pub fn set_attach(&self, settings: AttachSettings) {
        self.shared.state().attach = settings;
    }

    /// Changes the secondary-IP limit per VNIC (31, 32 or 64 on OCI; any value accepted here).
    pub fn set_secondary_ips_per_vnic(&self, limit: u32) {
        self.shared.state().limits.secondary_ips_per_vnic = limit;
    }

    /// Changes the lifetime of session tokens issued from now on.
    pub fn set_session_token_lifetime(&self, lifetime: std::time::Duration) {
        self.shared.state().identity.session_token_lifetime_secs = lifetime.as_secs();
    }

    /// A snapshot of the call counters.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Zeroes the call counters.
    pub fn reset_counters(&self) {
        *self
            .shared
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Counters::default();
    }

    /// How many creates were answered from a retry token instead of creating again.
    #[must_use]
    pub fn retry_replays(&self) -> u64 {
        self.shared.state().retry_replays
    }

    /// Everything attached to one instance: attachments (all states, DETACHED included),
    /// VNICs and private IPs. `None` for an unknown OCID.
    #[must_use]
    pub fn instance(&self, instance_id: &str) -> Option<InstanceView> {
        let now = self.shared.clock.now();
        let mut state = self.shared.state();
        state.settle(now);
        let instance = state.instances.get(instance_id)?;
        let running = instance.state == crate::model::InstanceState::Running;

        let mut attachments: Vec<_> = state
            .attachments
            .values()
            .filter(|a| a.instance_id == instance_id)
            .collect();
        attachments.sort_by_key(|a| a.seq);
        let attachments: Vec<AttachmentView> = attachments
            .into_iter()
            .map(|a| AttachmentView {
                id: a.id.clone(),
                vnic_id: (a.state == AttachmentState::Attached).then(|| a.vnic_id.clone()),
                subnet_id: a.subnet_id.clone(),
                state: a.state,
                nic_index: a.nic_index,
                is_primary: a.is_primary,
            })
            .collect();

        let vnic_ids: BTreeSet<String> = state
            .vnics
            .values()
            .filter(|v| v.instance_id == instance_id)
            .map(|v| v.id.clone())
            .collect();
        let vnics = vnic_ids
            .iter()
            .filter_map(|id| vnic_view(&state, id))
            .collect();
        let mut private_ips: Vec<_> = state
            .private_ips
            .values()
            .filter(|ip| ip.vnic_id.as_ref().is_some_and(|v| vnic_ids.contains(v)))
            .collect();
        private_ips.sort_by_key(|ip| ip.seq);
        let private_ips = private_ips.into_iter().map(private_ip_view).collect();

        Some(InstanceView {
            instance_id: instance_id.to_owned(),
            running,
            attachments,
            vnics,
            private_ips,
        })
    }

    /// The VNICs and private IPs whose free-form tag `key` equals `value`.
    #[must_use]
    pub fn tagged(&self, key: &str, value: &str) -> Vec<TaggedResource> {
        let state = self.shared.state();
        let matches = |tags: &BTreeMap<String, String>| tags.get(key).is_some_and(|v| v == value);
        let vnics = state
            .vnics
            .values()
            .filter(|v| matches(&v.freeform_tags))
            .map(|v| TaggedResource {
                kind: ResourceKind::Vnic,
                id: v.id.clone(),
            });
        let ips = state
            .private_ips
            .values()
            .filter(|ip| matches(&ip.freeform_tags))
            .map(|ip| TaggedResource {
                kind: ResourceKind::PrivateIp,
                id: ip.id.clone(),
            });
        vnics.chain(ips).collect()
    }

    /// Every private IP in a subnet (primaries, secondaries, reserved).
    #[must_use]
    pub fn subnet_private_ips(&self, subnet_id: &str) -> Vec<PrivateIpView> {
        let state = self.shared.state();
        let mut ips: Vec<_> = state
            .private_ips
            .values()
            .filter(|ip| ip.subnet_id == subnet_id)
            .collect();
        ips.sort_by_key(|ip| ip.seq);
        ips.into_iter().map(private_ip_view).collect()
    }

    /// Free addresses left in a subnet (size minus 3 reserved minus used). `None` for an
    /// unknown subnet.
    #[must_use]
    pub fn subnet_free(&self, subnet_id: &str) -> Option<u64> {
        let state = self.shared.state();
        let subnet = state.subnets.get(subnet_id)?;
        Some(subnet.capacity().saturating_sub(subnet.used.len() as u64))
    }

    /// Stops the listener and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn vnic_view(state: &State, vnic_id: &str) -> Option<VnicView> {
    let vnic = state.vnics.get(vnic_id)?;
    let primary_ip = state
        .private_ips
        .values()
        .find(|ip| ip.is_primary && ip.vnic_id.as_deref() == Some(vnic_id))
        .map(|ip| ip.address)?;
    Some(VnicView {
        id: vnic.id.clone(),
        attachment_id: vnic.attachment_id.clone(),
        subnet_id: vnic.subnet_id.clone(),
        is_primary: vnic.is_primary,
        mac: vnic.mac.clone(),
        primary_ip,
        available: vnic.state == crate::model::VnicState::Available,
        freeform_tags: vnic.freeform_tags.clone(),
    })
}

fn private_ip_view(ip: &crate::model::PrivateIp) -> PrivateIpView {
    PrivateIpView {
        id: ip.id.clone(),
        address: ip.address,
        vnic_id: ip.vnic_id.clone(),
        subnet_id: ip.subnet_id.clone(),
        is_primary: ip.is_primary,
        freeform_tags: ip.freeform_tags.clone(),
    }
}

/// An IAM user with an API key, as [`Sim::create_user`] made it. Holds the private key:
/// `Debug` shows only the key id.
pub struct ApiUser {
    /// Tenancy OCID.
    pub tenancy: String,
    /// User OCID.
    pub user: String,
    /// API key fingerprint (lowercase colon hex).
    pub fingerprint: String,
    /// Region identifier for the config file.
    pub region: String,
    private_key: PrivateKey,
}

impl ApiUser {
    /// The signing `keyId`: `<tenancy>/<user>/<fingerprint>`.
    #[must_use]
    pub fn key_id(&self) -> String {
        format!("{}/{}/{}", self.tenancy, self.user, self.fingerprint)
    }

    /// The private key, for signing in-process.
    #[must_use]
    pub fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }

    /// The private key as PKCS#8 PEM. A secret: never log it.
    ///
    /// # Errors
    /// [`SimError::Encode`] if encoding fails.
    pub fn private_key_pem(&self) -> Result<String, SimError> {
        self.private_key
            .as_rsa()
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| SimError::Encode {
                what: "the user's private key".into(),
                source: Box::new(e),
            })
    }

    /// Writes `config` (profile `DEFAULT`) and `key.pem` into `dir`, creating it, in the
    /// `~/.oci/config` format SDKs read. The key file is mode 0600 on Unix.
    ///
    /// # Errors
    /// [`SimError::WriteConfig`] naming the directory.
    pub fn write_config(&self, dir: &Path) -> Result<ConfigFiles, SimError> {
        let fail = |source| SimError::WriteConfig {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(fail)?;

        let key = dir.join("key.pem");
        let pem = self.private_key_pem()?;
        std::fs::write(&key, pem).map_err(fail)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }

        let config = dir.join("config");
        let text = format!(
            "[DEFAULT]\nuser={}\nfingerprint={}\ntenancy={}\nregion={}\nkey_file={}\n",
            self.user,
            self.fingerprint,
            self.tenancy,
            self.region,
            key.display()
        );
        std::fs::write(&config, text).map_err(fail)?;
        Ok(ConfigFiles { config, key })
    }
}

impl fmt::Debug for ApiUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiUser")
            .field("key_id", &self.key_id())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Paths written by [`ApiUser::write_config`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConfigFiles {
    /// The config file (profile `DEFAULT`).
    pub config: PathBuf,
    /// The private key file it names.
    pub key: PathBuf,
}

/// What an instance holds, for tests.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InstanceView {
    /// Instance OCID.
    pub instance_id: String,
    /// Whether the instance is running (not terminated).
    pub running: bool,
    /// Every attachment ever made, oldest first, DETACHED ones included.
    pub attachments: Vec<AttachmentView>,
    /// VNICs that exist (attaching, attached or detaching).
    pub vnics: Vec<VnicView>,
    /// Private IPs on those VNICs, primaries included, oldest first.
    pub private_ips: Vec<PrivateIpView>,
}

impl InstanceView {
    /// Secondary private IPs across all VNICs.
    #[must_use]
    pub fn secondary_ips(&self) -> Vec<&PrivateIpView> {
        self.private_ips
            .iter()
            .filter(|ip| !ip.is_primary)
            .collect()
    }

    /// Attachments in a given state.
    #[must_use]
    pub fn attachments_in(&self, state: AttachmentState) -> Vec<&AttachmentView> {
        self.attachments
            .iter()
            .filter(|a| a.state == state)
            .collect()
    }
}

/// A VNIC attachment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AttachmentView {
    /// Attachment OCID.
    pub id: String,
    /// The VNIC, once ATTACHED.
    pub vnic_id: Option<String>,
    /// Subnet of the VNIC.
    pub subnet_id: String,
    /// Lifecycle state.
    pub state: AttachmentState,
    /// Physical NIC index.
    pub nic_index: u32,
    /// Whether this is the primary VNIC's attachment.
    pub is_primary: bool,
}

/// A VNIC.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VnicView {
    /// VNIC OCID.
    pub id: String,
    /// Its attachment.
    pub attachment_id: String,
    /// Subnet OCID.
    pub subnet_id: String,
    /// Whether it is the instance's primary VNIC.
    pub is_primary: bool,
    /// MAC address.
    pub mac: String,
    /// Primary private IP.
    pub primary_ip: Ipv4Addr,
    /// Whether it is AVAILABLE (attached and usable).
    pub available: bool,
    /// Free-form tags.
    pub freeform_tags: BTreeMap<String, String>,
}

/// A private IP.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PrivateIpView {
    /// Private IP OCID.
    pub id: String,
    /// The address.
    pub address: Ipv4Addr,
    /// The VNIC it is assigned to (`None` for a reserved, unassigned IP).
    pub vnic_id: Option<String>,
    /// Subnet OCID.
    pub subnet_id: String,
    /// Whether it is a VNIC's primary IP.
    pub is_primary: bool,
    /// Free-form tags.
    pub freeform_tags: BTreeMap<String, String>,
}

/// Kinds of resource [`Sim::tagged`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceKind {
    /// A VNIC.
    Vnic,
    /// A private IP.
    PrivateIp,
}

/// A resource carrying a given tag.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaggedResource {
    /// What it is.
    pub kind: ResourceKind,
    /// Its OCID.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_user_debug_hides_the_private_key() {
        let rsa = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key");
        let user = ApiUser {
            tenancy: "ocid1.tenancy.oc1..t".into(),
            user: "ocid1.user.oc1..u".into(),
            fingerprint: "aa:bb".into(),
            region: "us-ashburn-1".into(),
            private_key: PrivateKey::from_rsa(rsa),
        };
        let pem = user.private_key_pem().expect("pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let shown = format!("{user:?}");
        assert!(shown.contains("ocid1.user.oc1..u/aa:bb"), "{shown}");
        assert!(!shown.contains(&body[..40]), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn write_config_produces_a_profile_sdks_read() {
        let rsa = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key");
        let user = ApiUser {
            tenancy: "ocid1.tenancy.oc1..t".into(),
            user: "ocid1.user.oc1..u".into(),
            fingerprint: "aa:bb".into(),
            region: "us-ashburn-1".into(),
            private_key: PrivateKey::from_rsa(rsa),
        };
        let dir = tempfile::tempdir().expect("dir");
        let files = user.write_config(&dir.path().join("oci")).expect("written");
        let config = std::fs::read_to_string(&files.config).expect("config");
        assert!(config.starts_with("[DEFAULT]\n"));
        for line in [
            "user=ocid1.user.oc1..u",
            "fingerprint=aa:bb",
            "tenancy=ocid1.tenancy.oc1..t",
        ] {
            assert!(config.contains(line), "{config}");
        }
        assert!(config.contains(&format!("key_file={}", files.key.display())));
        let key = std::fs::read_to_string(&files.key).expect("key");
        assert!(PrivateKey::from_pem(&key, None).is_ok());
    }
}
