//! Simulated Cilium agents in `ipam: crd` mode, behaving as Cilium 1.15's agent does
//! (`pkg/ipam/crd.go` and `pkg/ipam/node.go` upstream): each agent creates (or updates) its
//! CiliumNode with an owner reference to its Node, waits until `spec.ipam.pool` holds the
//! required number of addresses, allocates the router and health addresses, runs pods that
//! take addresses from the pool, reports `status.ipam.used` no more often than its update
//! rate, and answers release handshakes.
//!
//! Agents talk to the API server over HTTP through kube-rs, like the real agent through
//! client-go: a watcher on `metadata.name=<node>` is their informer, status goes through
//! `PUT .../status` with the resourceVersion they last saw.
//!
//! A restarted agent restores the endpoints it is given in [`AgentSettings::restore`] (the
//! real agent reads them from its state directory) by asking for each address explicitly;
//! an address no longer in the pool, or in the release handshake, fails to restore and its
//! pod is lost.
//!
//! Not modelled: IPv6 (IPv6 pool entries are never handed out), multi-pool mode, the CNI's own
//! retry backoff (a pending pod retries at every pod tick), and the `spec.health`/
//! `spec.ingress` address fields (left unset).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Node;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher;
use kube::{Api, Client};
use rand::Rng as _;
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// States of a release handshake entry in `status.ipam.release-ips`.
const MARKED: &str = "marked-for-release";
const READY: &str = "ready-for-release";
const DO_NOT_RELEASE: &str = "do-not-release";
const RELEASED: &str = "released";

/// Settings of one simulated agent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentSettings {
    /// `ipam-cilium-node-update-rate`: minimum interval between two status writes
    /// (Cilium's default is 15 s).
    pub status_update_interval: Duration,
    /// Interval at which the start-up wait re-checks the pool size (Cilium: 5 s).
    pub pool_poll_interval: Duration,
    /// Interval at which pods are started, stopped and retried.
    pub pod_interval: Duration,
    /// Whether health checking is on (then the start-up wait needs 2 addresses by default
    /// and a health address is allocated).
    pub health: HealthChecking,
    /// Seed of the agent's random source (pool iteration order, which pods stop).
    pub seed: u64,
    /// Pods wanted at start.
    pub desired_pods: usize,
    /// Namespace of the simulated pods (owners are `<namespace>/<pod>`).
    pub namespace: String,
    /// Endpoints to restore at start-up, address → owner (`router`, `health` or
    /// `<namespace>/<pod>`), as an agent restarted on the same node finds them in its state
    /// directory. Empty for a fresh node.
    pub restore: BTreeMap<String, String>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            status_update_interval: Duration::from_secs(15),
            pool_poll_interval: Duration::from_secs(5),
            pod_interval: Duration::from_secs(1),
            health: HealthChecking::Enabled,
            seed: 1,
            desired_pods: 0,
            namespace: "default".to_owned(),
            restore: BTreeMap::new(),
        }
    }
}

impl AgentSettings {
    /// Settings with every interval scaled for fast tests: status every `update`, pool checks
    /// and pod ticks every `update / 2` (at least 5 ms).
    #[must_use]
    pub fn fast(update: Duration) -> Self {
        let half = (update / 2).max(Duration::from_millis(5));
        Self {
            status_update_interval: update,
            pool_poll_interval: half,
            pod_interval: half,
            ..Self::default()
        }
    }

    /// Sets the status update rate.
    #[must_use]
    pub fn status_update_interval(mut self, interval: Duration) -> Self {
        self.status_update_interval = interval;
        self
    }

    /// Sets the random seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the pods wanted at start.
    #[must_use]
    pub fn desired_pods(mut self, pods: usize) -> Self {
        self.desired_pods = pods;
        self
    }

    /// Turns health checking on or off.
    #[must_use]
    pub fn health(mut self, health: HealthChecking) -> Self {
        self.health = health;
        self
    }

    /// Restores these endpoints (address → owner) at start-up, as after an agent restart;
    /// pass the [`AgentHandle::allocations`] of the agent that ran before.
    #[must_use]
    pub fn restore(mut self, endpoints: BTreeMap<String, String>) -> Self {
        self.restore = endpoints;
        self
    }
}

/// Whether the agent runs health checking (`enable-health-checking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthChecking {
    /// A health address is allocated; the default start-up requirement is 2 addresses.
    Enabled,
    /// No health address; the default start-up requirement is 1 address.
    Disabled,
}

/// Where an agent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub enum AgentPhase {
    /// Creating or updating the CiliumNode.
    #[default]
    Starting,
    /// Waiting until the pool holds the required number of addresses.
    WaitingForPool,
    /// Router (and health) addresses allocated; pods run.
    Running,
    /// Stopped (node deleted or agent stopped).
    Stopped,
}

/// Counters and state of one agent, as last published.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentStats {
    /// Phase.
    pub phase: AgentPhase,
    /// Entries in `spec.ipam.pool` last seen.
    pub pool_size: usize,
    /// Pods holding an address.
    pub pods_running: usize,
    /// Pods waiting for an address.
    pub pods_pending: usize,
    /// Pods that got an address.
    pub pods_started: u64,
    /// Pods stopped (their address freed).
    pub pods_stopped: u64,
    /// Pod start attempts that failed because no pool address was free.
    pub failed_pod_starts: u64,
    /// Endpoints restored at start-up with their old address.
    pub restored: u64,
    /// Endpoints that failed to restore because their address was no longer in the pool
    /// (Cilium's `ErrIPNotAvailableInPool`) or was in the release handshake; restored pods are
    /// lost, the router and health endpoints take a new address.
    pub failed_restores: u64,
    /// Successful `status` writes.
    pub status_writes: u64,
    /// `status` writes refused with 409 (then retried on a fresh copy).
    pub status_conflicts: u64,
    /// Release handshakes acknowledged (`ready-for-release`).
    pub release_acks: u64,
    /// Release handshakes refused (`do-not-release`).
    pub release_nacks: u64,
    /// `released` entries removed after the operator dropped the address.
    pub released_entries_removed: u64,
    /// The router (`cilium_host`) address.
    pub router_ip: Option<String>,
    /// The health endpoint address.
    pub health_ip: Option<String>,
    /// Last error talking to the API server, if any.
    pub last_error: Option<String>,
}

/// Something an agent saw that must never happen to a correctly run node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "violation")]
#[non_exhaustive]
pub enum Violation {
    /// An address the agent had handed out vanished from `spec.ipam.pool`.
    InUseAddressLeftPool {
        /// Node name.
        node: String,
        /// The address.
        ip: String,
        /// Who held it (`router`, `health`, `<ns>/<pod>`).
        owner: String,
    },
    /// The same address appeared in the pools of two nodes.
    AddressInTwoPools {
        /// The address.
        ip: String,
        /// The node that had it first.
        first: String,
        /// The node where it appeared too.
        second: String,
    },
    /// An address the agent holds was marked `released` by the operator.
    ReleasedWhileInUse {
        /// Node name.
        node: String,
        /// The address.
        ip: String,
        /// Who held it.
        owner: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InUseAddressLeftPool { node, ip, owner } => {
                write!(
                    f,
                    "node {node}: address {ip} held by {owner} left spec.ipam.pool"
                )
            }
            Self::AddressInTwoPools { ip, first, second } => {
                write!(
                    f,
                    "address {ip} is in the pools of nodes {first} and {second}"
                )
            }
            Self::ReleasedWhileInUse { node, ip, owner } => {
                write!(
                    f,
                    "node {node}: address {ip} held by {owner} was marked released"
                )
            }
        }
    }
}

/// Controls one running agent.
#[derive(Clone)]
pub struct AgentHandle {
    node: String,
    commands: mpsc::UnboundedSender<Command>,
    published: Arc<Mutex<Published>>,
}

impl fmt::Debug for AgentHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentHandle")
            .field("node", &self.node)
            .finish()
    }
}

impl AgentHandle {
    /// The node this agent runs on.
    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Scales the node's pods to `pods` (stopping random ones when scaling down).
    pub fn set_desired_pods(&self, pods: usize) {
        let _ = self.commands.send(Command::SetDesiredPods(pods));
    }

    /// Replaces `pods` random running pods by new ones (pod churn).
    pub fn churn(&self, pods: usize) {
        let _ = self.commands.send(Command::Churn(pods));
    }

    /// The latest statistics.
    #[must_use]
    pub fn stats(&self) -> AgentStats {
        lock(&self.published).stats.clone()
    }

    /// The agent's local allocations: address → owner.
    #[must_use]
    pub fn allocations(&self) -> BTreeMap<String, String> {
        lock(&self.published).allocations.clone()
    }

    /// Waits until `condition` holds on the stats, checking every 10 ms, for at most
    /// `timeout`; returns the last stats and whether the condition held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        condition: impl Fn(&AgentStats) -> bool,
    ) -> (AgentStats, bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.stats();
            if condition(&stats) {
                return (stats, true);
            }
            if Instant::now() >= deadline {
                return (stats, false);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// All agents of one [`crate::KubeSim`], with the cluster-wide checks.
#[derive(Clone, Default)]
pub(crate) struct Fleet {
    shared: Arc<FleetShared>,
}

#[derive(Default)]
struct FleetShared {
    agents: Mutex<BTreeMap<String, (AgentHandle, tokio::task::JoinHandle<()>)>>,
    violations: Mutex<Vec<Violation>>,
    /// address → node whose pool holds it.
    pools: Mutex<BTreeMap<String, String>>,
}

impl Fleet {
    pub(crate) fn start(&self, client: Client, node: &str, settings: AgentSettings) -> AgentHandle {
        self.stop(node);

        let (commands, receiver) = mpsc::unbounded_channel();
        let published = Arc::new(Mutex::new(Published::default()));
        let handle = AgentHandle {
            node: node.to_owned(),
            commands,
            published: published.clone(),
        };
        let agent = Agent::new(client, node, settings, published, self.shared.clone());
        let task = tokio::spawn(agent.run(receiver));

        lock(&self.shared.agents).insert(node.to_owned(), (handle.clone(), task));
        handle
    }

    pub(crate) fn handle(&self, node: &str) -> Option<AgentHandle> {
        lock(&self.shared.agents)
            .get(node)
            .map(|(handle, _)| handle.clone())
    }

    pub(crate) fn handles(&self) -> Vec<AgentHandle> {
        lock(&self.shared.agents)
            .values()
            .map(|(handle, _)| handle.clone())
            .collect()
    }

    pub(crate) fn stop(&self, node: &str) {
        if let Some((handle, task)) = lock(&self.shared.agents).remove(node) {
            task.abort();
            lock(&handle.published).stats.phase = AgentPhase::Stopped;
        }
        lock(&self.shared.pools).retain(|_, owner| owner != node);
    }

    pub(crate) fn stop_all(&self) {
        let nodes: Vec<String> = lock(&self.shared.agents).keys().cloned().collect();
        for node in nodes {
            self.stop(&node);
        }
    }

    pub(crate) fn violations(&self) -> Vec<Violation> {
        lock(&self.shared.violations).clone()
    }
}

#[derive(Debug, Default)]
struct Published {
    stats: AgentStats,
    allocations: BTreeMap<String, String>,
}

#[derive(Debug)]
enum Command {
    SetDesiredPods(usize),
    Churn(usize),
}

/// An address handed out by the agent: who holds it and the pool entry's `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allocation {
    owner: String,
    resource: Option<String>,
}

struct Agent {
    node: String,
    settings: AgentSettings,
    nodes: Api<Node>,
    cilium_nodes: Api<DynamicObject>,
    rng: ChaCha8Rng,
    published: Arc<Mutex<Published>>,
    fleet: Arc<FleetShared>,
    stats: AgentStats,

    /// The latest CiliumNode seen, with the agent's own release-ips answers applied.
    latest: Option<Value>,
    allocations: BTreeMap<String, Allocation>,
    /// Endpoints still to restore (address → owner), taken from the settings.
    to_restore: BTreeMap<String, String>,
    /// Addresses already reported as having left the pool (reported once).
    reported_missing: BTreeSet<String>,
    /// Addresses reported as released while in use (reported once).
    released_in_use: BTreeSet<String>,
    /// The last answer given per release-ips entry, so that counters count answers once.
    answered: BTreeMap<String, Answer>,
    desired_pods: usize,
    next_pod: u64,
    running: Vec<(String, String)>,
    pending: Vec<String>,
    dirty: bool,
    last_sync: Option<Instant>,
}

impl Agent {
    fn new(
        client: Client,
        node: &str,
        settings: AgentSettings,
        published: Arc<Mutex<Published>>,
        fleet: Arc<FleetShared>,
    ) -> Self {
        let gvk = GroupVersionKind::gvk("cilium.io", "v2", "CiliumNode");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "ciliumnodes");
        let rng = ChaCha8Rng::seed_from_u64(settings.seed ^ fnv1a(node.as_bytes()));
        let to_restore = settings.restore.clone();

        Self {
            node: node.to_owned(),
            desired_pods: settings.desired_pods,
            settings,
            nodes: Api::all(client.clone()),
            cilium_nodes: Api::all_with(client, &resource),
            rng,
            published,
            fleet,
            stats: AgentStats::default(),
            latest: None,
            allocations: BTreeMap::new(),
            to_restore,
            reported_missing: BTreeSet::new(),
            released_in_use: BTreeSet::new(),
            answered: BTreeMap::new(),
            next_pod: 0,
            running: Vec::new(),
            pending: Vec::new(),
            dirty: false,
            last_sync: None,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.publish();
        self.create_or_update_cilium_node().await;
        self.stats.phase = AgentPhase::WaitingForPool;
        self.publish();

        let config = watcher::Config::default().fields(&format!("metadata.name={}", self.node));
        let mut updates = watcher(self.cilium_nodes.clone(), config)
            .default_backoff()
            .boxed();
        let mut pool_tick = tokio::time::interval(self.settings.pool_poll_interval);
        let mut pod_tick = tokio::time::interval(self.settings.pod_interval);

        loop {
            let sync_at = self.next_sync_at();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::SetDesiredPods(pods)) => self.desired_pods = pods,
                    Some(Command::Churn(pods)) => self.churn(pods),
                    None => break,
                },
                event = updates.next() => match event {
                    Some(Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object))) => {
                        self.observe(object);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => self.stats.last_error = Some(err.to_string()),
                    None => break,
                },
                _ = pool_tick.tick(), if self.stats.phase == AgentPhase::WaitingForPool => {
                    self.try_finish_startup();
                }
                _ = pod_tick.tick(), if self.stats.phase == AgentPhase::Running => {
                    self.reconcile_pods();
                }
                () = sleep_until(sync_at), if sync_at.is_some() => {
                    self.write_status().await;
                }
            }
            self.publish();
        }
        self.stats.phase = AgentPhase::Stopped;
        self.publish();
    }

    /// `nodediscovery.updateCiliumNodeResource`: create the CiliumNode owned by the Node, or
    /// update labels, annotations, owner reference and addresses of an existing one.
    async fn create_or_update_cilium_node(&mut self) {
        loop {
            match self.try_create_or_update().await {
                Ok(()) => return,
                Err(err) => {
                    tracing::debug!(node = %self.node, error = %err, "CiliumNode not written yet");
                    self.stats.last_error = Some(err);
                    self.publish();
                    tokio::time::sleep(self.settings.pool_poll_interval).await;
                }
            }
        }
    }

    async fn try_create_or_update(&mut self) -> Result<(), String> {
        let node = self
            .nodes
            .get(&self.node)
            .await
            .map_err(|e| format!("get Node: {e}"))?;
        let metadata = &node.metadata;
        let uid = metadata.uid.clone().ok_or("the Node has no uid")?;
        let addresses: Vec<Value> = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .map(|addresses| {
                addresses
                    .iter()
                    .filter(|a| a.type_ == "InternalIP" || a.type_ == "ExternalIP")
                    .map(|a| json!({"type": a.type_, "ip": a.address}))
                    .collect()
            })
            .unwrap_or_default();
        let owner = json!([{"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": uid}]);
        let labels = json!(metadata.labels.clone().unwrap_or_default());
        let annotations = json!(metadata.annotations.clone().unwrap_or_default());
        let boot_id = format!("{:016x}-kube-sim", self.rng.r#gen::<u64>());

        match self
            .cilium_nodes
            .get_opt(&self.node)
            .await
            .map_err(|e| format!("get CiliumNode: {e}"))?
        {
            None => {
                let object = json!({
                    "apiVersion": "cilium.io/v2",
                    "kind": "CiliumNode",
                    "metadata": {"name": self.node, "labels": labels, "annotations": annotations,
                                 "ownerReferences": owner},
                    "spec": {"addresses": addresses, "bootid": boot_id},
                });
                let object = to_dynamic(&object)?;
                let created = self
                    .cilium_nodes
                    .create(&PostParams::default(), &object)
                    .await
                    .map_err(|e| format!("create CiliumNode: {e}"))?;
                self.observe(created);
            }
            Some(existing) => {
                let mut object = to_value(&existing)?;
                object["metadata"]["labels"] = labels;
                object["metadata"]["annotations"] = annotations;
                object["metadata"]["ownerReferences"] = owner;
                object["spec"]["addresses"] = json!(addresses);
                object["spec"]["bootid"] = json!(boot_id);
                let updated = self
                    .cilium_nodes
                    .replace(&self.node, &PostParams::default(), &to_dynamic(&object)?)
                    .await
                    .map_err(|e| format!("update CiliumNode: {e}"))?;
                self.observe(updated);
            }
        }
        Ok(())
    }

    /// A CiliumNode update from the watch (or a write's response).
    fn observe(&mut self, object: DynamicObject) {
        let Ok(object) = to_value(&object) else {
            return;
        };
        self.observe_value(object);
    }

    fn observe_value(&mut self, mut object: Value) {
        let incoming = resource_version(&object);
        if self
            .latest
            .as_ref()
            .is_some_and(|latest| resource_version(latest) >= incoming)
        {
            return;
        }

        self.handle_release_handshake(&mut object);
        self.latest = Some(object);
        self.check_pool();
    }

    /// `nodeStore.updateLocalNodeResource`: answer `status.ipam.release-ips`.
    fn handle_release_handshake(&mut self, object: &mut Value) {
        let pool = pool_of(object);
        let Some(release) = object
            .pointer_mut("/status/ipam/release-ips")
            .and_then(Value::as_object_mut)
        else {
            return;
        };

        let entries: Vec<(String, String)> = release
            .iter()
            .map(|(ip, state)| (ip.clone(), state.as_str().unwrap_or("").to_owned()))
            .collect();
        // Counters count answers, not observations: an operator write that lands before the
        // agent's answer shows the same entry again.
        self.answered.retain(|ip, _| release.contains_key(ip));

        let mut changed = false;
        for (ip, state) in entries {
            let in_pool = pool.contains_key(&ip);
            let held = self.allocations.get(&ip).map(|a| a.owner.clone());
            let answer = match state.as_str() {
                MARKED if in_pool && held.is_none() => Answer::Acknowledge,
                MARKED => Answer::Refuse,
                RELEASED if !in_pool => Answer::Forget,
                _ => Answer::Keep,
            };
            let first_time =
                answer != Answer::Keep && self.answered.insert(ip.clone(), answer) != Some(answer);

            match answer {
                Answer::Acknowledge => {
                    release.insert(ip.clone(), json!(READY));
                    self.stats.release_acks += u64::from(first_time);
                }
                Answer::Refuse => {
                    release.insert(ip.clone(), json!(DO_NOT_RELEASE));
                    self.stats.release_nacks += u64::from(first_time);
                }
                Answer::Forget => {
                    release.remove(&ip);
                    self.stats.released_entries_removed += u64::from(first_time);
                }
                Answer::Keep => {}
            }
            changed |= answer != Answer::Keep;

            if let (RELEASED, Some(owner)) = (state.as_str(), held)
                && self.released_in_use.insert(ip.clone())
            {
                let node = self.node.clone();
                self.violation(Violation::ReleasedWhileInUse { node, ip, owner });
            }
        }
        if changed {
            self.dirty = true;
        }
    }

    /// Violations visible from the pool: an address in use left it, or another node's pool
    /// holds one of ours.
    fn check_pool(&mut self) {
        let pool = self.latest.as_ref().map(pool_of).unwrap_or_default();
        self.stats.pool_size = pool.len();

        let missing: Vec<(String, String)> = self
            .allocations
            .iter()
            .filter(|(ip, _)| !pool.contains_key(*ip))
            .map(|(ip, a)| (ip.clone(), a.owner.clone()))
            .collect();
        for (ip, owner) in missing {
            if self.reported_missing.insert(ip.clone()) {
                self.violation(Violation::InUseAddressLeftPool {
                    node: self.node.clone(),
                    ip,
                    owner,
                });
            }
        }
        self.reported_missing.retain(|ip| !pool.contains_key(ip));

        let mut duplicates = Vec::new();
        {
            let mut pools = lock(&self.fleet.pools);
            pools.retain(|_, node| *node != self.node);
            for ip in pool.keys() {
                match pools.get(ip) {
                    Some(other) => duplicates.push((ip.clone(), other.clone())),
                    None => {
                        pools.insert(ip.clone(), self.node.clone());
                    }
                }
            }
        }
        for (ip, first) in duplicates {
            self.violation(Violation::AddressInTwoPools {
                ip,
                first,
                second: self.node.clone(),
            });
        }
    }

    /// `hasMinimumIPsInPool`, then `allocateDatapathIPs` / `allocateHealthIPs`.
    fn try_finish_startup(&mut self) {
        let Some(latest) = &self.latest else { return };
        let ipam = latest.pointer("/spec/ipam");
        let setting = |key: &str| {
            ipam.and_then(|i| i.get(key))
                .and_then(Value::as_u64)
                .filter(|v| *v > 0)
        };
        let required = setting("min-allocate")
            .or_else(|| setting("pre-allocate"))
            .unwrap_or(match self.settings.health {
                HealthChecking::Enabled => 2,
                HealthChecking::Disabled => 1,
            });
        let pool_size = pool_of(latest).len() as u64;
        if pool_size < required {
            tracing::trace!(
                node = %self.node,
                pool_size,
                required,
                "waiting for IPs in the CRD-backed pool"
            );
            return;
        }

        let Some(router) = self.restore_or_allocate("router") else {
            self.stats.last_error = Some("no pool address free for the router".to_owned());
            return;
        };
        self.stats.router_ip = Some(router);
        if self.settings.health == HealthChecking::Enabled {
            match self.restore_or_allocate("health") {
                Some(health) => self.stats.health_ip = Some(health),
                None => {
                    self.stats.last_error = Some("no pool address free for health".to_owned());
                }
            }
        }
        self.restore_pods();

        self.stats.phase = AgentPhase::Running;
        self.dirty = true;
        tracing::debug!(node = %self.node, "simulated agent running");
    }

    /// The router or health address: the restored one if it can be had again (as
    /// `allocateDatapathIPs` re-requests the old `cilium_host` address), else the next free.
    fn restore_or_allocate(&mut self, owner: &str) -> Option<String> {
        let restored = self
            .to_restore
            .iter()
            .find(|(_, o)| o.as_str() == owner)
            .map(|(ip, _)| ip.clone());
        if let Some(ip) = restored {
            self.to_restore.remove(&ip);
            if self.allocate_ip(&ip, owner) {
                return Some(ip);
            }
        }
        self.allocate_next(owner)
    }

    /// Endpoint restore: each restored pod asks for its old address; one whose address left
    /// the pool fails to restore and the pod is lost (the CNI would have to recreate it).
    fn restore_pods(&mut self) {
        let prefix = format!("{}/", self.settings.namespace);
        for (ip, owner) in std::mem::take(&mut self.to_restore) {
            let Some(pod) = owner.strip_prefix(&prefix).map(str::to_owned) else {
                continue;
            };
            if let Some(number) = pod.strip_prefix("pod-").and_then(|n| n.parse::<u64>().ok()) {
                self.next_pod = self.next_pod.max(number);
            }
            if self.allocate_ip(&ip, &owner) {
                self.running.push((pod, ip));
            }
        }
    }

    /// `nodeStore.allocate(ip)`: an explicit address, refused while it is in the release
    /// handshake, and with `ErrIPNotAvailableInPool` when the pool no longer holds it (or it
    /// is already handed out here).
    fn allocate_ip(&mut self, ip: &str, owner: &str) -> bool {
        let in_handshake = self.latest.as_ref().is_some_and(|latest| {
            release_ips_of(latest)
                .get(ip)
                .is_some_and(|state| matches!(state.as_str(), MARKED | READY | RELEASED))
        });
        let entry = self
            .latest
            .as_ref()
            .and_then(|latest| pool_of(latest).remove(ip));
        match entry {
            Some(entry) if !in_handshake && !self.allocations.contains_key(ip) => {
                self.allocations.insert(
                    ip.to_owned(),
                    Allocation {
                        owner: owner.to_owned(),
                        resource: entry.resource,
                    },
                );
                self.stats.restored += 1;
                self.dirty = true;
                true
            }
            _ => {
                tracing::debug!(
                    node = %self.node,
                    ip,
                    owner,
                    "endpoint not restored: address not available in the pool or being released"
                );
                self.stats.failed_restores += 1;
                false
            }
        }
    }

    /// `nodeStore.allocateNext` in crd mode: an entry pinned to `owner` first; otherwise a
    /// random entry not allocated, not in a release handshake, without owner, IPv4.
    fn allocate_next(&mut self, owner: &str) -> Option<String> {
        let latest = self.latest.as_ref()?;
        let pool = pool_of(latest);
        let release = release_ips_of(latest);
        let in_handshake = |ip: &str| {
            release
                .get(ip)
                .is_some_and(|state| matches!(state.as_str(), MARKED | READY | RELEASED))
        };

        let pinned = pool.iter().find(|(ip, entry)| {
            entry.owner.as_deref() == Some(owner) && !self.allocations.contains_key(*ip)
        });
        let chosen = match pinned {
            Some((ip, entry)) => Some((ip.clone(), entry.clone())),
            None => {
                let candidates: Vec<(&String, &PoolEntry)> = pool
                    .iter()
                    .filter(|(ip, entry)| {
                        !self.allocations.contains_key(*ip)
                            && !in_handshake(ip)
                            && entry.owner.as_deref().is_none_or(str::is_empty)
                            && ip.parse::<Ipv4Addr>().is_ok()
                    })
                    .collect();
                if candidates.is_empty() {
                    None
                } else {
                    let (ip, entry) = candidates[self.rng.gen_range(0..candidates.len())];
                    Some((ip.clone(), entry.clone()))
                }
            }
        };

        let (ip, entry) = chosen?;
        self.allocations.insert(
            ip.clone(),
            Allocation {
                owner: owner.to_owned(),
                resource: entry.resource,
            },
        );
        self.dirty = true;
        Some(ip)
    }

    /// Scale pods toward the desired count and retry pending ones.
    fn reconcile_pods(&mut self) {
        while self.running.len() + self.pending.len() < self.desired_pods {
            self.next_pod += 1;
            self.pending.push(format!("pod-{}", self.next_pod));
        }
        while self.running.len() + self.pending.len() > self.desired_pods {
            if self.pending.pop().is_none() {
                let index = self.rng.gen_range(0..self.running.len());
                self.stop_pod(index);
            }
        }

        let pending = std::mem::take(&mut self.pending);
        for pod in pending {
            let owner = format!("{}/{pod}", self.settings.namespace);
            match self.allocate_next(&owner) {
                Some(ip) => {
                    self.running.push((pod, ip));
                    self.stats.pods_started += 1;
                }
                None => {
                    self.stats.failed_pod_starts += 1;
                    self.pending.push(pod);
                }
            }
        }
    }

    fn churn(&mut self, pods: usize) {
        for _ in 0..pods.min(self.running.len()) {
            let index = self.rng.gen_range(0..self.running.len());
            self.stop_pod(index);
            self.next_pod += 1;
            self.pending.push(format!("pod-{}", self.next_pod));
        }
    }

    fn stop_pod(&mut self, index: usize) {
        if index >= self.running.len() {
            return;
        }
        let (_, ip) = self.running.swap_remove(index);
        self.allocations.remove(&ip);
        self.stats.pods_stopped += 1;
        self.dirty = true;
    }

    /// When the next status write may happen: the trigger's MinInterval after the last one.
    fn next_sync_at(&self) -> Option<Instant> {
        if !self.dirty || self.latest.is_none() {
            return None;
        }
        Some(match self.last_sync {
            Some(last) => last + self.settings.status_update_interval,
            None => Instant::now(),
        })
    }

    /// `nodeStore.refreshNode`: replace `status.ipam.used` (and the release answers) on the
    /// latest copy and `UpdateStatus` it; on 409, re-read and try again.
    async fn write_status(&mut self) {
        self.last_sync = Some(Instant::now());

        for _ in 0..5 {
            let Some(mut object) = self.latest.clone() else {
                return;
            };
            let used: serde_json::Map<String, Value> = self
                .allocations
                .iter()
                .map(|(ip, a)| {
                    let mut entry = json!({"owner": a.owner});
                    if let Some(resource) = &a.resource {
                        entry["resource"] = json!(resource);
                    }
                    (ip.clone(), entry)
                })
                .collect();
            if !object.get("status").is_some_and(Value::is_object) {
                object["status"] = json!({});
            }
            if !object["status"].get("ipam").is_some_and(Value::is_object) {
                object["status"]["ipam"] = json!({});
            }
            object["status"]["ipam"]["used"] = Value::Object(used);

            let Ok(dynamic) = to_dynamic(&object) else {
                return;
            };
            match self
                .cilium_nodes
                .replace_status(&self.node, &PostParams::default(), &dynamic)
                .await
            {
                Ok(written) => {
                    self.stats.status_writes += 1;
                    self.dirty = false;
                    self.observe(written);
                    return;
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    self.stats.status_conflicts += 1;
                    match self.cilium_nodes.get(&self.node).await {
                        Ok(fresh) => {
                            if let Ok(fresh) = to_value(&fresh) {
                                self.latest = None;
                                self.observe_value(fresh);
                            }
                        }
                        Err(err) => {
                            self.stats.last_error = Some(format!("get CiliumNode: {err}"));
                            return;
                        }
                    }
                }
                Err(err) => {
                    self.stats.last_error = Some(format!("update CiliumNode status: {err}"));
                    return;
                }
            }
        }
    }

    fn violation(&self, violation: Violation) {
        tracing::debug!(node = %self.node, %violation, "simulated agent saw a violation");
        lock(&self.fleet.violations).push(violation);
    }

    fn publish(&self) {
        let mut published = lock(&self.published);
        published.stats = AgentStats {
            pods_running: self.running.len(),
            pods_pending: self.pending.len(),
            ..self.stats.clone()
        };
        published.allocations = self
            .allocations
            .iter()
            .map(|(ip, a)| (ip.clone(), a.owner.clone()))
            .collect();
    }
}

/// The agent's answer to one `release-ips` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `marked-for-release`, free and in the pool: `ready-for-release`.
    Acknowledge,
    /// `marked-for-release`, in use or not in the pool: `do-not-release`.
    Refuse,
    /// `released` and gone from the pool: the entry is deleted.
    Forget,
    /// Anything else is left alone.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolEntry {
    owner: Option<String>,
    resource: Option<String>,
}

fn pool_of(object: &Value) -> BTreeMap<String, PoolEntry> {
    object
        .pointer("/spec/ipam/pool")
        .and_then(Value::as_object)
        .map(|pool| {
            pool.iter()
                .map(|(ip, entry)| {
                    let text =
                        |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
                    (
                        ip.clone(),
                        PoolEntry {
                            owner: text("owner"),
                            resource: text("resource"),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn release_ips_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/status/ipam/release-ips")
        .and_then(Value::as_object)
        .map(|release| {
            release
                .iter()
                .map(|(ip, state)| (ip.clone(), state.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn resource_version(object: &Value) -> u64 {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

fn to_value(object: &DynamicObject) -> Result<Value, String> {
    serde_json::to_value(object).map_err(|e| format!("encode CiliumNode: {e}"))
}

fn to_dynamic(object: &Value) -> Result<DynamicObject, String> {
    serde_json::from_value(object.clone()).map_err(|e| format!("decode CiliumNode: {e}"))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data is plain counters and maps; a panic elsewhere leaves them usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// FNV-1a, to derive a stable per-node seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
