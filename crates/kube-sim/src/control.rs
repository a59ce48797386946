//! The control API under `/kube-sim/v1/`, for drivers outside the process (the `kube-sim`
//! binary, demo scripts): add and delete nodes with their agents, scale and churn pods, read
//! agent statistics, violations and request counters, trigger compaction.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /kube-sim/v1/nodes` | [`NodeRequest`] | the Node object |
//! | `DELETE /kube-sim/v1/nodes/{name}` | | `{}` |
//! | `PUT /kube-sim/v1/nodes/{name}/pods` | `{"desired": 10}` | `{}` |
//! | `POST /kube-sim/v1/nodes/{name}/churn` | `{"pods": 3}` | `{}` |
//! | `GET /kube-sim/v1/agents` | | node → [`crate::AgentStats`] |
//! | `GET /kube-sim/v1/violations` | | list of [`crate::Violation`] |
//! | `GET /kube-sim/v1/requests` | | `[{verb, resource, count}]` |
//! | `POST /kube-sim/v1/compact` | | `{"compactedAt": "<resourceVersion>"}` |

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::agent::{AgentSettings, Fleet, HealthChecking};
use crate::store::{ApiError, Store};
use crate::{NodeSpec, client_for};

/// What the control API works on.
#[derive(Clone)]
pub(crate) struct Control {
    pub(crate) store: Store,
    pub(crate) fleet: Fleet,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) base_url: String,
}

/// Body of `POST /kube-sim/v1/nodes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct NodeRequest {
    /// Node name.
    pub name: String,
    /// Instance OCID: `spec.providerID` becomes `oci://<instanceId>`.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// `spec.providerID` as given (wins over `instanceId`).
    #[serde(default, rename = "providerID")]
    pub provider_id: Option<String>,
    /// InternalIP address.
    #[serde(default, rename = "internalIP")]
    pub internal_ip: Option<String>,
    /// Extra labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Start a simulated Cilium agent for the node with these settings.
    #[serde(default)]
    pub agent: Option<AgentRequest>,
}

/// Agent settings in a [`NodeRequest`]; absent fields keep Cilium's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AgentRequest {
    /// Pods wanted at start.
    #[serde(default)]
    pub desired_pods: usize,
    /// `ipam-cilium-node-update-rate` in milliseconds (default 15000).
    #[serde(default)]
    pub status_update_millis: Option<u64>,
    /// Pool re-check interval at start-up in milliseconds (default 5000).
    #[serde(default)]
    pub pool_poll_millis: Option<u64>,
    /// Pod tick in milliseconds (default 1000).
    #[serde(default)]
    pub pod_millis: Option<u64>,
    /// Random seed (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Health checking (default true).
    #[serde(default)]
    pub health: Option<bool>,
}

impl AgentRequest {
    /// The agent settings this request asks for.
    #[must_use]
    pub fn settings(&self) -> AgentSettings {
        let mut settings = AgentSettings::default().desired_pods(self.desired_pods);
        if let Some(millis) = self.status_update_millis {
            settings.status_update_interval = Duration::from_millis(millis);
        }
        if let Some(millis) = self.pool_poll_millis {
            settings.pool_poll_interval = Duration::from_millis(millis);
        }
        if let Some(millis) = self.pod_millis {
            settings.pod_interval = Duration::from_millis(millis);
        }
        if let Some(seed) = self.seed {
            settings.seed = seed;
        }
        if self.health == Some(false) {
            settings.health = HealthChecking::Disabled;
        }
        settings
    }
}

impl NodeRequest {
    /// The Node this request asks for.
    #[must_use]
    pub fn node(&self) -> NodeSpec {
        let mut node = NodeSpec::bare(&self.name);
        node.provider_id = self.provider_id.clone().or_else(|| {
            self.instance_id
                .as_ref()
                .map(|ocid| format!("oci://{ocid}"))
        });
        node.internal_ip = self.internal_ip.clone();
        node.labels = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        node
    }
}

impl Control {
    /// Serves one control request; `segments` follow `kube-sim/v1`.
    pub(crate) async fn serve(
        &self,
        method: &Method,
        segments: &[&str],
        body: &Bytes,
    ) -> Result<Value, ApiError> {
        match (method, segments) {
            (&Method::POST, ["nodes"]) => {
                let request: NodeRequest = parse(body)?;
                self.add_node(&request).await
            }
            (&Method::DELETE, ["nodes", name]) => {
                self.fleet.stop(name);
                self.store.delete_direct("", "v1", "nodes", None, name)?;
                Ok(json!({}))
            }
            (&Method::PUT, ["nodes", name, "pods"]) => {
                #[derive(Deserialize)]
                struct Desired {
                    desired: usize,
                }
                let Desired { desired } = parse(body)?;
                self.agent(name)?.set_desired_pods(desired);
                Ok(json!({}))
            }
            (&Method::POST, ["nodes", name, "churn"]) => {
                #[derive(Deserialize)]
                struct Churn {
                    pods: usize,
                }
                let Churn { pods } = parse(body)?;
                self.agent(name)?.churn(pods);
                Ok(json!({}))
            }
            (&Method::GET, ["agents"]) => {
                let stats: serde_json::Map<String, Value> = self
                    .fleet
                    .handles()
                    .into_iter()
                    .map(|handle| (handle.node().to_owned(), json!(handle.stats())))
                    .collect();
                Ok(Value::Object(stats))
            }
            (&Method::GET, ["violations"]) => Ok(json!(self.fleet.violations())),
            (&Method::GET, ["requests"]) => {
                let counts: Vec<Value> = self
                    .store
                    .request_counts()
                    .into_iter()
                    .map(|((verb, resource), count)| {
                        json!({"verb": verb, "resource": resource, "count": count})
                    })
                    .collect();
                Ok(json!(counts))
            }
            (&Method::POST, ["compact"]) => {
                self.store.compact();
                Ok(json!({"compactedAt": self.store.resource_version().to_string()}))
            }
            _ => Err(ApiError::new(
                404,
                "NotFound",
                "no such kube-sim control endpoint",
            )),
        }
    }

    async fn add_node(&self, request: &NodeRequest) -> Result<Value, ApiError> {
        let rt = self.store.find_type("", "v1", "nodes")?;
        let node = self.store.create(&rt, None, request.node().to_object())?;

        if let Some(agent) = &request.agent {
            let client = client_for(&self.kubeconfig, &self.base_url)
                .await
                .map_err(|err| {
                    ApiError::new(
                        500,
                        "InternalError",
                        format!("no client for the agent: {err}"),
                    )
                })?;
            self.fleet.start(client, &request.name, agent.settings());
        }
        Ok(node)
    }

    fn agent(&self, node: &str) -> Result<crate::AgentHandle, ApiError> {
        self.fleet.handle(node).ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!("no simulated agent runs for node {node}"),
            )
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("the control request body is invalid: {err}")))
}
