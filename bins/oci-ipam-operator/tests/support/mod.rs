//! The end-to-end environment: oci-sim and kube-sim in-process, simulated Cilium agents, a
//! simulated node agent that reports secondary VNICs ready, and the operator library
//! talking to both stand-ins over HTTP.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use k8s_glue::crd::{OciNetworkNodes, VnicState, VnicStatus};
use kube_sim::{AgentHandle, AgentSettings, KubeSim, NodeSpec, Settings};
use oci_ipam_operator::config::{Config, Flags};
use oci_ipam_operator::controller::Controller;
use oci_ipam_operator::metrics::Metrics;
use oci_ipam_operator::plan::IpamCorePlanner;
use oci_ipam_operator::reconcile::Engine;
use oci_ipam_operator::server::Health;
use oci_ipam_operator::{oci_client, ownership};
use oci_sim::{InstanceSpec, Sim, World};
use tokio_util::sync::CancellationToken;

pub const CLUSTER: &str = "e2e";
pub const AD: &str = "Uocm:US-ASHBURN-AD-1";

#[derive(Parser)]
struct Probe {
    #[command(flatten)]
    flags: Flags,
}

/// oci-sim + kube-sim + agents.
pub struct Env {
    pub oci: Sim,
    pub kube: KubeSim,
    pub user: oci_sim::ApiUser,
    pub compartment: String,
    pub node_subnet: String,
    pub pod_subnet: String,
    pub client: kube::Client,
    pub agents: Vec<AgentHandle>,
    pub instances: BTreeMap<String, String>,
    node_agent: CancellationToken,
}

/// One running operator replica, on its own thread and tokio runtime, so that killing it
/// drops every task it spawned at once, as the death of its process would.
pub struct Operator {
    pub metrics: Arc<Metrics>,
    pub stop: CancellationToken,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Operator {
    /// Stops gracefully (finishing in-flight work, releasing the Lease) and waits.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Kills at once: every task of the replica is dropped wherever it is.
    pub fn kill(mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Env {
    /// A world with a node subnet (/24) and a pod subnet of `pod_cidr`, tagged role=pods.
    pub async fn start(pod_cidr: &str) -> Env {
        oci_ipam_operator::telemetry::init_logging(oci_ipam_operator::config::LogFormat::Text);
        let mut world = World::new("us-ashburn-1");
        let compartment = world.add_compartment("oci-ipam");
        let vcn = world.add_vcn(&compartment, "10.0.0.0/16");
        let node_subnet = world.add_subnet(&vcn, &compartment, "10.0.0.0/24");
        let pod_subnet = world.add_subnet(&vcn, &compartment, pod_cidr);
        world.attach = oci_sim::AttachSettings::new(30, 10, 0.0);

        let oci = Sim::start(world).await.expect("oci-sim starts");
        let user = oci.create_user("operator", None).expect("user");
        let kube = KubeSim::start(Settings::default())
            .await
            .expect("kube-sim starts");
        kube.register_crd_yaml(&k8s_glue::crd::crd_yaml().expect("crd yaml"))
            .expect("crd");
        let client = kube.client().await.expect("client");

        let node_agent = CancellationToken::new();
        tokio::spawn(simulate_node_agents(client.clone(), node_agent.clone()));

        Env {
            oci,
            kube,
            user,
            compartment,
            node_subnet,
            pod_subnet,
            client,
            agents: Vec::new(),
            instances: BTreeMap::new(),
            node_agent,
        }
    }

    /// Operator flags pointing at the stand-ins, plus `extra`.
    pub fn config(&self, identity: &str, extra: &[&str]) -> Config {
        let endpoint = self.oci.endpoint();
        let mut args = vec![
            "probe".to_owned(),
            "--cluster-name".into(),
            CLUSTER.into(),
            "--oci-auth".into(),
            "config-file".into(),
            "--oci-endpoint".into(),
            endpoint,
            "--resync-interval".into(),
            "2s".into(),
            "--vnic-attach-poll-interval".into(),
            "20ms".into(),
            "--leader-election-lease-duration".into(),
            "1500ms".into(),
            "--leader-election-renew-deadline".into(),
            "1s".into(),
            "--leader-election-retry-period".into(),
            "100ms".into(),
            "--shutdown-grace".into(),
            "2s".into(),
            "--limit-ipam-api-read-qps".into(),
            "1000".into(),
            "--limit-ipam-api-read-burst".into(),
            "1000".into(),
            "--limit-ipam-api-private-ip-qps".into(),
            "1000".into(),
            "--limit-ipam-api-private-ip-burst".into(),
            "1000".into(),
            "--limit-ipam-api-vnic-attach-qps".into(),
            "1000".into(),
            "--limit-ipam-api-vnic-attach-burst".into(),
            "1000".into(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let probe = Probe::try_parse_from(args).expect("flags parse");
        Config::from_flags(&probe.flags, identity).expect("valid config")
    }

    /// Starts an operator replica in-process.
    pub async fn start_operator(&self, config: Config) -> Operator {
        let metrics = Metrics::new();
        let key = oci_auth::PrivateKey::from_pem(&self.user.private_key_pem().expect("pem"), None)
            .expect("key");
        let credentials = oci_auth::Credentials::new(
            oci_auth::KeyId::from_raw(self.user.key_id()),
            Arc::new(key),
        );
        let provider = Arc::new(oci_auth::StaticProvider::new(credentials));
        let retry = oci_api::RetryPolicy::new(
            6,
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_secs(10),
        );
        let kubeconfig = self.kube.kubeconfig_yaml();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let (kill, killed) = tokio::sync::oneshot::channel::<()>();
        let replica_metrics = metrics.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                // Clients are made inside the replica's runtime, so their connections die
                // with it and never leak into the test's runtime.
                let metrics = replica_metrics;
                let oci = oci_client::build(&config, provider, None, "oc1", metrics.clone(), retry)
                    .expect("client");
                let kubeconfig = kube::config::Kubeconfig::from_yaml(&kubeconfig).expect("yaml");
                let options = kube::config::KubeConfigOptions::default();
                let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .expect("kube config");
                let client = kube::Client::try_from(client_config).expect("kube client");
                let config = Arc::new(config);
                let engine = Arc::new(Engine::new(
                    Arc::new(oci),
                    client.clone(),
                    config.clone(),
                    metrics.clone(),
                    Arc::new(IpamCorePlanner),
                ));
                let health = Health::new(Duration::from_secs(60));
                let controller = Controller::new(engine, client, metrics, health);
                tokio::select! {
                    _ = controller.run(token) => {}
                    _ = killed => {}
                }
            });
            runtime.shutdown_background();
        });
        Operator {
            metrics,
            stop,
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    /// Launches an instance and its Kubernetes Node, and starts a Cilium agent on it.
    pub async fn add_node(&mut self, name: &str, shape: &str, ocpus: Option<f64>, pods: usize) {
        let spec = InstanceSpec::new(&self.compartment, shape, ocpus, AD, &self.node_subnet)
            .with_display_name(name);
        let instance = self.oci.add_instance(spec).expect("instance");
        self.kube
            .add_node(&NodeSpec::oci(name, &instance))
            .expect("node");
        let agent = self
            .kube
            .start_agent(
                name,
                AgentSettings::fast(Duration::from_millis(50)).desired_pods(pods),
            )
            .await
            .expect("agent");
        self.agents.push(agent);
        self.instances.insert(name.to_owned(), instance);
    }

    /// Removes a node: instance terminated, Node deleted (its CiliumNode goes with it).
    pub fn remove_node(&mut self, name: &str) {
        if let Some(instance) = self.instances.remove(name) {
            self.oci.terminate_instance(&instance).expect("terminate");
        }
        self.kube.delete_node(name).expect("delete node");
        self.agents.retain(|agent| agent.node() != name);
    }

    pub fn agent(&self, name: &str) -> &AgentHandle {
        self.agents
            .iter()
            .find(|agent| agent.node() == name)
            .expect("agent")
    }

    /// Waits until every agent has `pods` running and nothing pending.
    pub async fn wait_pods(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        for agent in &self.agents {
            let left = deadline.saturating_duration_since(Instant::now());
            let (_, ok) = agent
                .wait_for(left, |stats| {
                    stats.pods_pending == 0 && stats.pods_running > 0
                })
                .await;
            if !ok {
                return false;
            }
        }
        true
    }

    /// Waits until `check` holds, polling every 20 ms.
    pub async fn wait_until(&self, timeout: Duration, mut check: impl FnMut(&Env) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check(self)
    }

    /// Pool addresses per node, from the API server.
    pub fn pools(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.instances
            .keys()
            .map(|name| {
                let pool = self
                    .kube
                    .cilium_node(name)
                    .and_then(|node| node["spec"]["ipam"]["pool"].as_object().cloned())
                    .map(|pool| pool.keys().cloned().collect())
                    .unwrap_or_default();
                (name.clone(), pool)
            })
            .collect()
    }

    /// The audit: leaked (ours in OCI, in no pool and not being released) and duplicated
    /// addresses across the cluster, plus agent violations.
    pub fn audit(&self) -> Audit {
        let pools = self.pools();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut duplicated = Vec::new();
        for (node, pool) in &pools {
            for ip in pool {
                if let Some(first) = seen.insert(ip.clone(), node.clone()) {
                    duplicated.push(format!("{ip} in {first} and {node}"));
                }
            }
        }

        let mut leaked = Vec::new();
        let mut ours = 0;
        let addresses = self
            .oci
            .subnet_private_ips(&self.node_subnet)
            .into_iter()
            .chain(self.oci.subnet_private_ips(&self.pod_subnet));
        for resource in addresses {
            if resource
                .freeform_tags
                .get(ownership::TAG_CLUSTER)
                .map(String::as_str)
                != Some(CLUSTER)
            {
                continue;
            }
            ours += 1;
            let node = resource
                .freeform_tags
                .get(ownership::TAG_NODE)
                .cloned()
                .unwrap_or_default();
            let address = resource.address.to_string();
            let in_pool = pools.get(&node).is_some_and(|pool| pool.contains(&address));
            if !in_pool {
                leaked.push(format!("{address} of {node}"));
            }
        }

        Audit {
            leaked,
            duplicated,
            ours,
            violations: self
                .kube
                .violations()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// Waits (up to 20 s) for a clean audit, since the last creates join pools a moment
    /// after OCI made them; returns the last audit.
    pub async fn wait_clean(&self) -> Audit {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let audit = self.audit();
            if audit.is_clean() || Instant::now() >= deadline {
                return audit;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn shutdown(self) {
        self.node_agent.cancel();
        self.oci.shutdown().await;
    }
}

/// What [`Env::audit`] found.
#[derive(Debug, Default)]
pub struct Audit {
    pub leaked: Vec<String>,
    pub duplicated: Vec<String>,
    pub ours: usize,
    pub violations: Vec<String>,
}

impl Audit {
    pub fn is_clean(&self) -> bool {
        self.leaked.is_empty() && self.duplicated.is_empty() && self.violations.is_empty()
    }
}

/// The node agent's part, simulated: every VNIC recorded in an OciNetworkNode is reported
/// Ready in its status shortly after it appears.
async fn simulate_node_agents(client: kube::Client, stop: CancellationToken) {
    let records = OciNetworkNodes::new(client);
    while !stop.is_cancelled() {
        if let Ok(list) = records.api().list(&Default::default()).await {
            for record in list.items {
                let name = record.metadata.name.clone().unwrap_or_default();
                let ready: BTreeSet<String> = record
                    .status
                    .as_ref()
                    .map(|status| {
                        status
                            .vnics
                            .iter()
                            .filter(|vnic| vnic.state == VnicState::Ready)
                            .map(|vnic| vnic.vnic_id.to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                let missing: Vec<_> = record
                    .spec
                    .vnics
                    .iter()
                    .filter(|vnic| !ready.contains(vnic.vnic_id.as_str()))
                    .map(|vnic| vnic.vnic_id.clone())
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                let _ = records
                    .update_status(&name, |status| {
                        for vnic in &missing {
                            status.vnics.retain(|known| known.vnic_id != *vnic);
                            status
                                .vnics
                                .push(VnicStatus::new(vnic.clone(), VnicState::Ready));
                        }
                    })
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
