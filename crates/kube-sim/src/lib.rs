//! A stand-in for the Kubernetes API server, plus simulated Cilium agents in `ipam: crd` mode.
//!
//! Start one with [`KubeSim::start`]: it serves on an ephemeral port of 127.0.0.1, writes a
//! kubeconfig that kube-rs and the real binaries accept, and gives tests direct access to its
//! [`Store`] (objects, request counters, compaction, injected conflicts and latency).
//!
//! Served resources: Node (core v1), CustomResourceDefinition (apiextensions.k8s.io/v1),
//! Lease (coordination.k8s.io/v1), Event (core v1 and events.k8s.io/v1, stored separately),
//! Cilium's CiliumNode (cilium.io/v2, registered from Cilium's own CRD, see [`CiliumCrd`]) and
//! any CRD registered later, through the API or [`KubeSim::register_crd_yaml`]. Custom
//! resources are pruned and validated against their structural schema on every write.
//!
//! The API covers GET, LIST (selectors, `limit`/`continue`), WATCH (resume from a
//! resourceVersion, bookmarks, `sendInitialEvents`, 410 after compaction), create, update
//! (409 on a stale resourceVersion), merge / strategic (served as merge) / JSON patch
//! (with `test`), server-side apply (served as a merge patch that may create; no field
//! ownership), the status subresource, finalizers, owner references with synchronous
//! garbage collection, discovery and `Status` error bodies.
//!
//! Outside the process, the `kube-sim` binary serves the same API, and [`control`] documents
//! the `/kube-sim/v1/...` endpoints that add nodes with agents, scale pods and read statistics.
//!
//! Simulated agents live in [`agent`]: [`KubeSim::add_node`] creates a Node,
//! [`KubeSim::start_agent`] runs a Cilium agent for it over HTTP, and the returned
//! [`agent::AgentHandle`] sets the desired pod count and reads statistics and violations.
//!
//! ```
//! use std::time::Duration;
//!
//! use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
//! use kube_sim::{AgentSettings, KubeSim, NodeSpec, Settings};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = KubeSim::start(Settings::default()).await?;
//! sim.add_node(&NodeSpec::oci("worker-1", "ocid1.instance.oc1..aaaa").internal_ip("10.0.0.5"))?;
//!
//! // A Cilium agent for the node, reporting usage every 50 ms instead of every 15 s.
//! let settings = AgentSettings::fast(Duration::from_millis(50)).desired_pods(3);
//! let agent = sim.start_agent("worker-1", settings).await?;
//! while sim.cilium_node("worker-1").is_none() {
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//!
//! // Play the operator (the real one would get `sim.kubeconfig_path()`): fill the pool.
//! let gvk = GroupVersionKind::gvk("cilium.io", "v2", "CiliumNode");
//! let resource = ApiResource::from_gvk_with_plural(&gvk, "ciliumnodes");
//! let cilium_nodes: Api<DynamicObject> = Api::all_with(sim.client().await?, &resource);
//! let pool: serde_json::Map<_, _> =
//!     (1..=5).map(|i| (format!("10.0.1.{i}"), json!({"resource": "ocid1.vnic.oc1..v"}))).collect();
//! let patch = Patch::Merge(json!({"spec": {"ipam": {"pool": pool}}}));
//! cilium_nodes.patch("worker-1", &PatchParams::default(), &patch).await?;
//!
//! // Router, health and three pods take the five addresses.
//! let (_, ok) = agent.wait_for(Duration::from_secs(5), |s| s.pods_running == 3).await;
//! assert!(ok);
//! assert_eq!(agent.allocations().len(), 5);
//! assert!(sim.violations().is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Known gaps: namespaces are not objects (any namespace name is accepted); core and
//! events.k8s.io Events are separate collections; `resourceVersionMatch=Exact` lists are only
//! served for the current version; field selectors accept any path.

pub mod agent;
mod clock;
pub mod control;
mod patch;
pub mod resource;
pub mod schema;
pub mod selector;
mod server;
pub mod store;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

pub use crate::agent::{AgentHandle, AgentSettings, AgentStats, Violation};
pub use crate::store::{ApiError, Store, Verb};

/// Cilium's CiliumNode CRD 1.15.7, description texts stripped (see `data/cilium/README.md`).
pub const CILIUM_NODE_CRD_1_15_7: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/cilium/ciliumnodes-v1.15.7.yaml"
));

/// Cilium's CiliumNode CRD of a 1.20.0 development snapshot, description texts stripped.
pub const CILIUM_NODE_CRD_1_20_0_DEV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/cilium/ciliumnodes-v1.20.0-dev.yaml"
));

/// Errors of kube-sim.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listener on 127.0.0.1 could not be opened.
    #[error("failed to bind the kube-sim API server to 127.0.0.1 (ephemeral port)")]
    Bind {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig file could not be written.
    #[error("failed to write the kube-sim kubeconfig file {path}")]
    WriteKubeconfig {
        /// Where it was written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CRD given as YAML or JSON did not parse.
    #[error("failed to parse the CustomResourceDefinition document (YAML or JSON expected)")]
    ParseCrd {
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
    /// The store refused an operation (the Status of a real server would say the same).
    #[error("kube-sim refused to {operation}")]
    Store {
        /// What was attempted, e.g. `create Node n1`.
        operation: String,
        /// The API error.
        #[source]
        source: ApiError,
    },
    /// A kube-rs client could not be built for the server.
    #[error("failed to build a kube client for {url}")]
    Client {
        /// The server URL.
        url: String,
        /// kube's error.
        #[source]
        source: kube::Error,
    },
    /// No agent runs for this node.
    #[error("no simulated Cilium agent runs for node {node}; start one with start_agent")]
    UnknownAgent {
        /// The node name.
        node: String,
    },
}

/// Which of Cilium's CiliumNode CRDs to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CiliumCrd {
    /// Cilium 1.15.7 (the oldest release oci-ipam supports; the default).
    #[default]
    V1_15_7,
    /// A Cilium 1.20.0 development snapshot.
    V1_20_0Dev,
}

impl CiliumCrd {
    /// The CRD's YAML.
    #[must_use]
    pub fn yaml(self) -> &'static str {
        match self {
            Self::V1_15_7 => CILIUM_NODE_CRD_1_15_7,
            Self::V1_20_0Dev => CILIUM_NODE_CRD_1_20_0_DEV,
        }
    }
}

/// How clients authenticate.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// Every request is accepted.
    #[default]
    None,
    /// Requests must carry `Authorization: Bearer <token>`.
    Token(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// Settings of a [`KubeSim`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Which CiliumNode CRD to serve.
    pub cilium_crd: CiliumCrd,
    /// Client authentication.
    pub auth: Auth,
    /// Interval of BOOKMARK events on watches that allow them (a real server: about a
    /// minute).
    pub bookmark_interval: Duration,
    /// Watch events kept before the oldest are compacted away.
    pub history_limit: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cilium_crd: CiliumCrd::default(),
            auth: Auth::None,
            bookmark_interval: Duration::from_secs(5),
            history_limit: 10_000,
        }
    }
}

impl Settings {
    /// Serves another CiliumNode CRD.
    #[must_use]
    pub fn cilium_crd(mut self, crd: CiliumCrd) -> Self {
        self.cilium_crd = crd;
        self
    }

    /// Requires a bearer token.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the bookmark interval.
    #[must_use]
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Sets how many watch events are kept.
    #[must_use]
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }
}

/// A Kubernetes Node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// `spec.providerID` (e.g. `oci://ocid1.instance.oc1...`); `None` leaves it unset.
    pub provider_id: Option<String>,
    /// InternalIP address reported in `status.addresses`.
    pub internal_ip: Option<String>,
    /// Extra labels (`kubernetes.io/hostname` is always set).
    pub labels: Vec<(String, String)>,
}

impl NodeSpec {
    /// A node whose `spec.providerID` is `oci://<instance_ocid>`.
    #[must_use]
    pub fn oci(name: &str, instance_ocid: &str) -> Self {
        Self {
            name: name.to_owned(),
            provider_id: Some(format!("oci://{instance_ocid}")),
            internal_ip: None,
            labels: Vec::new(),
        }
    }

    /// A node without a provider ID.
    #[must_use]
    pub fn bare(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            provider_id: None,
            internal_ip: None,
            labels: Vec::new(),
        }
    }

    /// Sets the InternalIP address.
    #[must_use]
    pub fn internal_ip(mut self, ip: &str) -> Self {
        self.internal_ip = Some(ip.to_owned());
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The Node object.
    #[must_use]
    pub fn to_object(&self) -> Value {
        let mut labels = serde_json::Map::new();
        labels.insert("kubernetes.io/hostname".into(), json!(self.name));
        for (key, value) in &self.labels {
            labels.insert(key.clone(), json!(value));
        }
        let mut node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        });
        if let Some(provider_id) = &self.provider_id {
            node["spec"]["providerID"] = json!(provider_id);
        }
        if let Some(ip) = &self.internal_ip {
            node["status"]["addresses"] = json!([{"type": "InternalIP", "address": ip},
                                                 {"type": "Hostname", "address": self.name}]);
        }
        node
    }
}

/// A running API server stand-in. Dropping it stops the server and every agent.
pub struct KubeSim {
    store: Store,
    address: SocketAddr,
    auth: Auth,
    kubeconfig: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
    agents: agent::Fleet,
}

impl fmt::Debug for KubeSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeSim")
            .field("address", &self.address)
            .field("auth", &self.auth)
            .finish()
    }
}

impl KubeSim {
    /// Starts the server on 127.0.0.1 (ephemeral port), registers Cilium's CiliumNode CRD and
    /// writes a kubeconfig. Must run inside a tokio runtime.
    pub async fn start(settings: Settings) -> Result<Self, Error> {
        let store = Store::new(settings.history_limit);
        let crd = parse_document(settings.cilium_crd.yaml())?;
        store.register_crd(crd).map_err(|source| Error::Store {
            operation: "register the CiliumNode CRD".to_owned(),
            source,
        })?;

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| Error::Bind { source })?;
        let address = listener
            .local_addr()
            .map_err(|source| Error::Bind { source })?;

        let kubeconfig = tempfile::Builder::new()
            .prefix("kube-sim-")
            .tempdir()
            .map_err(|source| Error::WriteKubeconfig {
                path: std::env::temp_dir(),
                source,
            })?;
        let base_url = format!("http://{address}");
        let path = kubeconfig.path().join("kubeconfig");
        std::fs::write(&path, kubeconfig_text(&base_url, &settings.auth)).map_err(|source| {
            Error::WriteKubeconfig {
                path: path.clone(),
                source,
            }
        })?;

        let agents = agent::Fleet::default();
        let token = match &settings.auth {
            Auth::Token(token) => Some(Arc::from(token.as_str())),
            Auth::None => None,
        };
        let router = server::router(server::ServerState {
            store: store.clone(),
            token,
            bookmark_interval: settings.bookmark_interval,
            address: address.to_string(),
            control: control::Control {
                store: store.clone(),
                fleet: agents.clone(),
                kubeconfig: path,
                base_url,
            },
        });
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::debug!(
                    error = &err as &dyn std::error::Error,
                    "kube-sim server stopped"
                );
            }
        });

        tracing::debug!(%address, "kube-sim started");
        Ok(Self {
            store,
            address,
            auth: settings.auth,
            kubeconfig,
            server,
            agents,
        })
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The listening address.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The generated kubeconfig file (removed when the server is dropped).
    #[must_use]
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.kubeconfig.path().join("kubeconfig")
    }

    /// The kubeconfig's text: one cluster, user and context named `kube-sim`, plain HTTP,
    /// bearer token when [`Auth::Token`] is set.
    #[must_use]
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig_text(&self.base_url(), &self.auth)
    }

    /// A kube-rs client for this server, built from the generated kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_for(&self.kubeconfig_path(), &self.base_url()).await
    }

    /// Direct access to the store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Drops the watch history: watches from older resource versions get 410 Gone.
    pub fn compact(&self) {
        self.store.compact();
    }

    /// Registers a CRD from its YAML or JSON document (as the k8s-glue generator writes it).
    pub fn register_crd_yaml(&self, document: &str) -> Result<(), Error> {
        let crd = parse_document(document)?;
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        self.store
            .register_crd(crd)
            .map_err(|source| Error::Store {
                operation: format!("register CRD {name}"),
                source,
            })?;
        Ok(())
    }

    /// Creates a Node object; returns it as stored.
    pub fn add_node(&self, node: &NodeSpec) -> Result<Value, Error> {
        let rt = self
            .store
            .find_type("", "v1", "nodes")
            .map_err(|source| Error::Store {
                operation: "find the nodes resource".to_owned(),
                source,
            })?;
        self.store
            .create(&rt, None, node.to_object())
            .map_err(|source| Error::Store {
                operation: format!("create Node {}", node.name),
                source,
            })
    }

    /// Stops the node's agent (if any) and deletes the Node; garbage collection removes the
    /// CiliumNode it owns.
    pub fn delete_node(&self, name: &str) -> Result<(), Error> {
        self.agents.stop(name);
        self.store
            .delete_direct("", "v1", "nodes", None, name)
            .map_err(|source| Error::Store {
                operation: format!("delete Node {name}"),
                source,
            })?;
        Ok(())
    }

    /// The CiliumNode named `name`, as stored.
    #[must_use]
    pub fn cilium_node(&self, name: &str) -> Option<Value> {
        self.store.object("ciliumnodes.cilium.io", "", name)
    }

    /// Starts a simulated Cilium agent for an existing Node; it talks to this server over
    /// HTTP through its own kube-rs client.
    pub async fn start_agent(
        &self,
        node: &str,
        settings: AgentSettings,
    ) -> Result<AgentHandle, Error> {
        let client = self.client().await?;
        Ok(self.agents.start(client, node, settings))
    }

    /// The handle of a running agent.
    pub fn agent(&self, node: &str) -> Result<AgentHandle, Error> {
        self.agents.handle(node).ok_or_else(|| Error::UnknownAgent {
            node: node.to_owned(),
        })
    }

    /// Every violation any agent detected so far.
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        self.agents.violations()
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        self.agents.stop_all();
        self.server.abort();
    }
}

/// Builds a kube-rs client from a kubeconfig file.
pub async fn client_for(kubeconfig: &Path, url: &str) -> Result<kube::Client, Error> {
    let wrap = |source| Error::Client {
        url: url.to_owned(),
        source,
    };
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|source| wrap(kube::Error::InferKubeconfig(source)))?;
    let config =
        kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|source| wrap(kube::Error::InferKubeconfig(source)))?;
    kube::Client::try_from(config).map_err(wrap)
}

/// A kubeconfig with one cluster, user and context named `kube-sim`.
fn kubeconfig_text(base_url: &str, auth: &Auth) -> String {
    let user = match auth {
        Auth::Token(token) => json!({"token": token}),
        Auth::None => json!({}),
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kube-sim", "cluster": {"server": base_url}}],
        "users": [{"name": "kube-sim", "user": user}],
        "contexts": [{"name": "kube-sim",
                      "context": {"cluster": "kube-sim", "user": "kube-sim",
                                  "namespace": "default"}}],
        "current-context": "kube-sim",
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

fn parse_document(document: &str) -> Result<Value, Error> {
    serde_yaml::from_str(document).map_err(|source| Error::ParseCrd { source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_debug_hides_the_token() {
        let settings = Settings::default().auth(Auth::Token("s3cret-token".to_owned()));
        let text = format!("{settings:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("Token(<redacted>)"), "{text}");
    }

    #[test]
    fn both_cilium_crds_parse_and_serve_ciliumnodes() {
        for crd in [CiliumCrd::V1_15_7, CiliumCrd::V1_20_0Dev] {
            let document = parse_document(crd.yaml()).unwrap();
            let types = resource::from_crd(&document).unwrap();
            assert_eq!(types.len(), 1);
            assert_eq!(types[0].kind, "CiliumNode");
            assert_eq!(types[0].api_version(), "cilium.io/v2");
            assert!(types[0].status_subresource);
            assert!(!types[0].namespaced());
            assert!(types[0].schema.is_some());
        }
    }
}
