//! One node's reconcile: OCI state joined with the CiliumNode, planned, executed, written.
//!
//! [`Engine::reconcile`] is the whole step for one node, in this order:
//!
//! 1. read the node from OCI (or reuse the view refreshed by this operator's own writes);
//! 2. build a one-node snapshot (`docs/snapshot-format.md`) and plan it with `ipam-core`;
//! 3. execute: delete acknowledged addresses, mark excess ones (after the release delay),
//!    create addresses with derived retry tokens, start at most one VNIC attach;
//! 4. write the CiliumNode, status first then spec, with the pool rebuilt from OCI, gated
//!    with a placeholder owner on VNICs the node agent has not reported ready;
//! 5. record the VNICs in the node's `OciNetworkNode`.
//!
//! # Guarantees
//!
//! - The pool is always derived from what OCI holds now, plus every address in
//!   `status.ipam.used` (never dropped). A create that succeeded before a crash shows up in
//!   the next listing and joins the pool; a create cut off mid-flight is repeated with the
//!   same retry token and OCI answers with the first result.
//! - Only addresses and VNICs tagged for this cluster and node are handed out or deleted, and
//!   an address is deleted only after the agent answered `ready-for-release` and while it is
//!   not in `used`.
//! - A failed read never writes anything: the pool cannot shrink because OCI hiccupped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_glue::crd::{OciNetworkNodes, VnicOrigin, VnicRecord};
use k8s_glue::ipam::{CiliumNodes, gate_pool};
use k8s_glue::{AllocationIp, CiliumNode, OciNetworkNode, OciNetworkNodeSpec, ReleaseState};
use k8s_openapi::api::core::v1::Node;
use oci_api::RetryToken;
use oci_api::model::{
    AttachVnicDetails, CreatePrivateIpDetails, CreateVnicDetails, InstanceId,
    VnicAttachmentLifecycleState,
};

use crate::Cloud;
use crate::config::{Config, ExcessRelease, SecondaryVnics};
use crate::contract::{Action, NodeIpam, NodePlan, Policy, Snapshot, SnapshotNode, SnapshotVnic};
use crate::error::{Error, chain};
use crate::metrics::{DurationLabels, Metrics, OpLabels};
use crate::observe::{Attaching, IpView, NodeView, VnicView, read_ips, read_node};
use crate::ownership::Ownership;
use crate::plan::Planner;
use crate::subnets::SubnetBook;

/// The reconcile engine: shared by every worker, holding only rebuildable caches.
pub struct Engine {
    oci: Arc<dyn Cloud>,
    cilium_nodes: CiliumNodes,
    records: OciNetworkNodes,
    config: Arc<Config>,
    ownership: Ownership,
    metrics: Arc<Metrics>,
    planner: Arc<dyn Planner>,
    subnets: SubnetBook,
    memory: Mutex<HashMap<String, NodeMemory>>,
    /// Nodes read from OCI at once (see [`reading_permits`]).
    reading: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cluster", &self.config.cluster)
            .field("planner", &self.planner)
            .finish_non_exhaustive()
    }
}

/// What one node's reconcile found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// When to look at the node again.
    pub requeue_after: Duration,
    /// Addresses the node still needs after this pass.
    pub needed: u32,
    /// Mutating OCI calls made.
    pub mutations: u32,
    /// Why the node is blocked (a shortfall reason or an error category), if it is.
    pub blocked: Option<String>,
    /// The message written to `operator-status.error`, if any.
    pub error: Option<String>,
}

/// Rebuildable per-node memory.
#[derive(Debug, Default)]
struct NodeMemory {
    view: Option<NodeView>,
    dirty: bool,
    excess_since: BTreeMap<Ipv4Addr, Instant>,
    recorded: Option<OciNetworkNodeSpec>,
}

/// Changes to the CiliumNode decided during execution.
#[derive(Debug, Default)]
struct Changes {
    mark: BTreeSet<Ipv4Addr>,
    released: BTreeSet<Ipv4Addr>,
    unmark: BTreeSet<Ipv4Addr>,
    mutations: u32,
    failure: Option<Error>,
}

impl Engine {
    /// An engine over `oci` and the Kubernetes `client`.
    #[must_use]
    pub fn new(
        oci: Arc<dyn Cloud>,
        client: kube::Client,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        planner: Arc<dyn Planner>,
    ) -> Self {
        Self {
            oci,
            cilium_nodes: CiliumNodes::new(client.clone()),
            records: OciNetworkNodes::new(client),
            ownership: Ownership::new(config.cluster.clone()),
            metrics,
            planner,
            subnets: SubnetBook::default(),
            memory: Mutex::new(HashMap::new()),
            reading: tokio::sync::Semaphore::new(reading_permits(&config)),
            config,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Forgets everything about a node that left the cluster.
    pub fn forget(&self, node: &str) {
        self.memory_lock().remove(node);
        self.metrics.forget_node(node);
    }

    /// Forgets every cache (when leadership is lost, another replica may change OCI).
    pub fn forget_all(&self) {
        let names: Vec<String> = self.memory_lock().keys().cloned().collect();
        for name in names {
            self.forget(&name);
        }
        self.subnets.clear();
    }

    /// Writes `message` to the CiliumNode's `status.ipam.operator-status.error`, for
    /// failures that stopped a reconcile before its own write. Failing to write is logged.
    pub async fn report_error(&self, cilium_node: &CiliumNode, message: &str) {
        let written = self
            .cilium_nodes
            .update_ipam(cilium_node, |_, fields| {
                fields.operator_error = Some(message.to_owned())
            })
            .await;
        if let Err(err) = written {
            tracing::debug!(error = %chain(&err), "could not write operator-status");
        }
    }

    /// A planner snapshot of the whole cluster as OCI and the API server hold it now
    /// (`docs/snapshot-format.md`): what `oci-ipam-operator snapshot` writes. Reads OCI;
    /// writes nothing.
    ///
    /// # Errors
    ///
    /// The first node or subnet that cannot be read.
    pub async fn cluster_snapshot(
        &self,
        nodes: &[(CiliumNode, Option<Node>)],
        now: Instant,
    ) -> Result<Snapshot, Error> {
        let config = &self.config;
        let max_age = config.resync_interval;
        let selected = self
            .subnets
            .selected(self.oci.as_ref(), config, max_age, now)
            .await?;
        let mut subnet_ids: BTreeSet<_> = selected.iter().cloned().collect();

        let mut snapshot = Snapshot::new(policy(config, &selected));
        for (cilium_node, node) in nodes {
            let name = cilium_node.metadata.name.clone().unwrap_or_default();
            let instance = instance_of(&name, cilium_node, node.as_ref())?;
            let view = match self.observe(&name, &instance, now).await {
                Ok(view) => view,
                Err(Error::InstanceGone { .. }) => continue,
                Err(err) => return Err(err),
            };
            subnet_ids.extend(view.vnics.iter().map(|vnic| vnic.subnet.clone()));
            snapshot
                .nodes
                .push(snapshot_node(&view, cilium_node, config.first_vnic_index));
        }
        for id in &subnet_ids {
            let facts = self
                .subnets
                .facts(self.oci.as_ref(), id, max_age, now)
                .await?;
            snapshot.subnets.push(facts.to_snapshot());
        }
        Ok(snapshot)
    }

    /// Reconciles one node.
    ///
    /// `node` is the Kubernetes Node (for the instance OCID and the owner reference of our
    /// record), `record` the node's `OciNetworkNode` (for the node agent's VNIC readiness).
    ///
    /// # Errors
    ///
    /// Errors that kept the CiliumNode from being written; errors after a successful write
    /// are reported in the [`Outcome`] and on the CiliumNode instead.
    pub async fn reconcile(
        &self,
        cilium_node: &CiliumNode,
        node: Option<&Node>,
        record: Option<&OciNetworkNode>,
    ) -> Result<Outcome, Error> {
        let name = cilium_node.metadata.name.clone().unwrap_or_default();
        let started = Instant::now();
        self.metrics.reconciles.inc();

        let instance = instance_of(&name, cilium_node, node)?;

        let mut view = match self.observe(&name, &instance, started).await {
            Ok(view) => view,
            Err(Error::InstanceGone { node, instance }) => {
                self.forget(&node);
                self.metrics
                    .set_node_blocked(&node, Some("instanceNotFound"));
                tracing::info!(node = %node, instance = %instance, "instance gone; nothing to do");
                return Ok(Outcome {
                    requeue_after: self.config.resync_interval,
                    blocked: Some("instanceNotFound".to_owned()),
                    ..Outcome::default()
                });
            }
            Err(err) => return Err(err),
        };

        let mut changes = Changes::default();
        self.poll_attachment(&mut view, &mut changes, started).await;

        let snapshot = self.snapshot(&view, cilium_node, started).await?;
        let plan = self.planner.plan(&snapshot).map_err(|source| Error::Plan {
            node: name.clone(),
            source,
        })?;
        let node_plan = plan
            .nodes
            .into_iter()
            .find(|plan| plan.name == name)
            .unwrap_or_else(|| NodePlan {
                name: name.clone(),
                available: 0,
                used: 0,
                needed: 0,
                excess: 0,
                actions: Vec::new(),
                shortfall: None,
            });

        self.execute(&mut view, cilium_node, &node_plan, &mut changes, started)
            .await;

        let blocked = changes
            .failure
            .as_ref()
            .map(|err| err.category().to_owned())
            .or_else(|| {
                node_plan
                    .shortfall
                    .as_ref()
                    .map(|short| short.reason.clone())
            });
        let error_text = changes.failure.as_ref().map(|err| chain(err)).or_else(|| {
            node_plan
                .shortfall
                .as_ref()
                .map(|short| short.message.clone())
        });

        let written = self
            .write_cilium_node(
                started,
                &view,
                cilium_node,
                record,
                &changes,
                error_text.clone(),
            )
            .await;
        self.remember(&name, view.clone(), changes.failure.is_some());
        let written = written?;

        if let Err(err) = self.write_record(&view, node, &name).await {
            tracing::warn!(node = %name, error = %chain(&err), "could not record VNICs");
        }

        let used = written.used().len();
        let available = written.spec.ipam.pool.len();
        self.metrics
            .set_node_pool(&name, available, used, node_plan.needed as usize);
        self.metrics
            .set_node_blocked(&name, blocked.as_deref().map(block_reason));

        if let Some(failure) = &changes.failure {
            tracing::warn!(
                node = %name,
                reason = failure.category(),
                request_id = failure.request_id().unwrap_or("none"),
                error = %chain(failure),
                "node blocked"
            );
        }

        let requeue_after = self.requeue_after(&view, &node_plan, &changes);
        Ok(Outcome {
            requeue_after,
            needed: node_plan.needed,
            mutations: changes.mutations,
            blocked,
            error: error_text,
        })
    }

    async fn observe(
        &self,
        name: &str,
        instance: &InstanceId,
        now: Instant,
    ) -> Result<NodeView, Error> {
        let previous = {
            let memory = self.memory_lock();
            memory.get(name).and_then(|known| {
                let view = known.view.as_ref()?;
                let fresh = !known.dirty
                    && view.instance.id == *instance
                    && now.saturating_duration_since(view.read_at) < self.config.resync_interval;
                Some((view.clone(), fresh))
            })
        };
        if let Some((view, true)) = previous {
            return Ok(view);
        }

        // Nodes are read a few at a time so the first ones reach their creates while the
        // rest still queue for the read budget (each node's reads would otherwise interleave
        // with every other node's and no create could start until nearly all were read).
        let _reading = self.reading.acquire().await.ok();
        read_node(
            self.oci.as_ref(),
            &self.ownership,
            name,
            instance,
            previous.as_ref().map(|(view, _)| view),
            self.config.first_vnic_index,
            now,
        )
        .await
    }

    /// Follows an attachment in flight: once ATTACHED the VNIC joins the view.
    async fn poll_attachment(&self, view: &mut NodeView, changes: &mut Changes, now: Instant) {
        let Some(attaching) = view.attaching.clone() else {
            return;
        };

        let attachment = match self.oci.get_vnic_attachment(&attaching.attachment).await {
            Ok(attachment) => attachment,
            Err(err) if err.is_not_found() => {
                view.attaching = None;
                return;
            }
            Err(source) => {
                changes.failure = Some(Error::read(&view.node, source));
                return;
            }
        };

        match attachment.lifecycle_state {
            VnicAttachmentLifecycleState::Attached => {
                view.attaching = None;
                let Some(vnic_id) = attachment.vnic_id.clone() else {
                    return;
                };
                match self.oci.get_vnic(&vnic_id).await {
                    Ok(vnic) => {
                        let subnet = vnic.subnet_id.clone().or(attachment.subnet_id.clone());
                        if let Some(subnet) = subnet {
                            let index = u32::try_from(view.vnics.len()).unwrap_or(u32::MAX);
                            view.vnics.push(VnicView {
                                id: vnic.id.clone(),
                                attachment: attachment.id.clone(),
                                index,
                                primary: vnic.is_primary.unwrap_or(false),
                                ours: self.ownership.owns(&vnic.freeform_tags, &view.node),
                                subnet,
                                primary_ip: vnic.private_ip,
                                mac: vnic.mac_address.clone(),
                                vlan_tag: attachment.vlan_tag,
                                ips: Vec::new(),
                            });
                            tracing::info!(node = %view.node, vnic = %vnic.id, "VNIC attached");
                        }
                    }
                    Err(source) => changes.failure = Some(Error::read(&view.node, source)),
                }
            }
            VnicAttachmentLifecycleState::Attaching => {
                if now.saturating_duration_since(attaching.since) > self.config.vnic_attach_timeout
                {
                    changes.failure = Some(Error::AttachFailed {
                        node: view.node.clone(),
                        attachment: attaching.attachment.to_string(),
                        state: format!(
                            "still ATTACHING after {:?}",
                            now.saturating_duration_since(attaching.since)
                        ),
                    });
                }
            }
            other => {
                view.attaching = None;
                changes.failure = Some(Error::AttachFailed {
                    node: view.node.clone(),
                    attachment: attaching.attachment.to_string(),
                    state: format!("went to {}", other.as_str()),
                });
            }
        }
    }

    /// The one-node snapshot for the planner.
    async fn snapshot(
        &self,
        view: &NodeView,
        cilium_node: &CiliumNode,
        now: Instant,
    ) -> Result<Snapshot, Error> {
        let config = &self.config;
        let max_age = config.resync_interval;

        let mut subnet_ids: BTreeSet<_> =
            view.vnics.iter().map(|vnic| vnic.subnet.clone()).collect();
        let selected = self
            .subnets
            .selected(self.oci.as_ref(), config, max_age, now)
            .await?;
        subnet_ids.extend(selected.iter().cloned());

        let mut subnets = Vec::with_capacity(subnet_ids.len());
        for id in &subnet_ids {
            let facts = self
                .subnets
                .facts(self.oci.as_ref(), id, max_age, now)
                .await?;
            subnets.push(facts.to_snapshot());
        }

        let policy = policy(config, &selected);
        let mut snapshot = Snapshot::new(policy);
        snapshot.subnets = subnets;
        snapshot
            .nodes
            .push(snapshot_node(view, cilium_node, config.first_vnic_index));
        Ok(snapshot)
    }

    async fn execute(
        &self,
        view: &mut NodeView,
        cilium_node: &CiliumNode,
        plan: &NodePlan,
        changes: &mut Changes,
        now: Instant,
    ) {
        let used = used_v4(cilium_node);
        let handshake = release_v4(cilium_node);
        self.settle_handshake(view, &handshake, plan, changes, now);

        for action in &plan.actions {
            if changes.failure.is_some() {
                break;
            }
            match action {
                Action::ReleasePrivateIps { vnic_id, ips } => {
                    self.release(view, vnic_id, ips, &used, &handshake, changes)
                        .await;
                }
                Action::MarkForRelease { ips } => {
                    let ExcessRelease::After(delay) = self.config.release else {
                        continue;
                    };
                    let mut memory = self.memory_lock();
                    let since = &mut memory.entry(view.node.clone()).or_default().excess_since;
                    for ip in ips {
                        let first = *since.entry(*ip).or_insert(now);
                        let ours = view.find_ip(*ip).is_some();
                        if ours
                            && !used.contains(ip)
                            && now.saturating_duration_since(first) >= delay
                        {
                            changes.mark.insert(*ip);
                        }
                    }
                }
                Action::AssignPrivateIps { vnic_id, count } => {
                    self.assign(view, vnic_id, *count, changes).await;
                }
                Action::AttachVnic {
                    subnet_id, index, ..
                } => {
                    self.attach(view, subnet_id, *index, changes, now).await;
                }
            }
        }
    }

    /// Aborts handshakes the agent refused and marks that stopped being excess; forgets
    /// excess timers of addresses the plan no longer calls excess.
    fn settle_handshake(
        &self,
        view: &NodeView,
        handshake: &BTreeMap<Ipv4Addr, ReleaseState>,
        plan: &NodePlan,
        changes: &mut Changes,
        _now: Instant,
    ) {
        let marked_now: BTreeSet<Ipv4Addr> = plan
            .actions
            .iter()
            .flat_map(|action| match action {
                Action::MarkForRelease { ips } => ips.clone(),
                _ => Vec::new(),
            })
            .collect();

        for (ip, state) in handshake {
            let ours = view.find_ip(*ip).is_some();
            match state {
                ReleaseState::DoNotRelease => {
                    changes.unmark.insert(*ip);
                }
                ReleaseState::MarkedForRelease if plan.excess == 0 && !marked_now.contains(ip) => {
                    changes.unmark.insert(*ip);
                }
                ReleaseState::ReadyForRelease if !ours => {
                    // Gone from OCI already (deleted before a restart): finish the handshake.
                    changes.released.insert(*ip);
                }
                _ => {}
            }
        }

        let mut memory = self.memory_lock();
        let since = &mut memory.entry(view.node.clone()).or_default().excess_since;
        since.retain(|ip, _| marked_now.contains(ip));
    }

    async fn release(
        &self,
        view: &mut NodeView,
        vnic_id: &str,
        ips: &[Ipv4Addr],
        used: &BTreeSet<Ipv4Addr>,
        handshake: &BTreeMap<Ipv4Addr, ReleaseState>,
        changes: &mut Changes,
    ) {
        for address in ips {
            let acknowledged = handshake.get(address) == Some(&ReleaseState::ReadyForRelease);
            if !acknowledged || used.contains(address) {
                continue;
            }
            let Some((vnic, ip)) = view.find_ip(*address) else {
                changes.released.insert(*address);
                continue;
            };
            if vnic.id.as_str() != vnic_id {
                continue;
            }
            let (vnic_id, subnet, ip_id) = (vnic.id.clone(), vnic.subnet.clone(), ip.id.clone());

            let started = Instant::now();
            let result = self.oci.delete_private_ip(&ip_id).await;
            changes.mutations += 1;
            let status = match &result {
                Ok(()) => "success",
                Err(err) if err.is_not_found() => "success",
                Err(err) => err.category(),
            };
            self.metrics
                .release_ops
                .get_or_create(&OpLabels {
                    subnet_id: subnet.to_string(),
                    status: status.to_owned(),
                })
                .inc();
            self.metrics
                .release_duration
                .get_or_create(&DurationLabels {
                    r#type: "releaseIp".into(),
                    status: status.to_owned(),
                })
                .observe(started.elapsed().as_secs_f64());

            match result {
                Ok(()) => {}
                Err(err) if err.is_not_found() => {}
                Err(source) => {
                    changes.failure = Some(Error::DeletePrivateIp {
                        node: view.node.clone(),
                        vnic: vnic_id.to_string(),
                        address: *address,
                        source: Box::new(source),
                    });
                    return;
                }
            }

            if let Some(vnic) = view.vnic_mut(vnic_id.as_str()) {
                vnic.ips.retain(|held| held.address != *address);
            }
            self.subnets.note(&subnet, -1);
            changes.released.insert(*address);
            tracing::info!(node = %view.node, vnic = %vnic_id, ip = %address, "released address");
        }
    }

    async fn assign(&self, view: &mut NodeView, vnic_id: &str, count: u32, changes: &mut Changes) {
        let node = view.node.clone();
        let first_index = self.config.first_vnic_index;
        let tags = self.ownership.tags(&node);

        for _ in 0..count {
            let Some(vnic) = view.vnic(vnic_id).filter(|vnic| vnic.usable(first_index)) else {
                return;
            };
            let (id, subnet) = (vnic.id.clone(), vnic.subnet.clone());
            let existing: Vec<&str> = vnic.our_ips().map(|ip| ip.id.as_str()).collect();
            let token_text = self.ownership.private_ip_token(id.as_str(), &existing, 0);

            let mut details = CreatePrivateIpDetails::on_vnic(id.clone());
            for (key, value) in &tags {
                details = details.with_freeform_tag(key.clone(), value.clone());
            }

            let started = Instant::now();
            let mut result = match RetryToken::new(token_text) {
                Ok(token) => self.oci.create_private_ip(&details, &token).await,
                Err(err) => Err(err),
            };
            if matches!(&result, Err(err) if err.code() == Some("InvalidatedRetryToken")) {
                // The token's earlier address was deleted since; this is a new create.
                result = self
                    .oci
                    .create_private_ip(&details, &RetryToken::random())
                    .await;
            }
            changes.mutations += 1;

            let status = match &result {
                Ok(_) => "success",
                Err(err) => err.category(),
            };
            self.metrics
                .allocation_ops
                .get_or_create(&OpLabels {
                    subnet_id: subnet.to_string(),
                    status: status.to_owned(),
                })
                .inc();
            self.metrics
                .allocation_duration
                .get_or_create(&DurationLabels {
                    r#type: "allocateIp".into(),
                    status: status.to_owned(),
                })
                .observe(started.elapsed().as_secs_f64());

            match result {
                Ok(created) => {
                    let on_vnic = created.vnic_id.as_ref().is_none_or(|on| *on == id);
                    if let Some(vnic) = view.vnic_mut(id.as_str()).filter(|_| on_vnic)
                        && !vnic.ips.iter().any(|ip| ip.id == created.id)
                    {
                        vnic.ips.push(IpView {
                            id: created.id.clone(),
                            address: created.ip_address,
                            ours: true,
                        });
                        vnic.ips.sort_by_key(|ip| ip.address);
                        self.subnets.note(&subnet, 1);
                    }
                    tracing::debug!(
                        node = %node,
                        vnic = %id,
                        ip = %created.ip_address,
                        "created address"
                    );
                }
                Err(source) => {
                    if crate::error::is_exhaustion(&source) {
                        self.subnets.invalidate(&subnet);
                    }
                    changes.failure = Some(Error::CreatePrivateIp {
                        node: node.clone(),
                        vnic: id.to_string(),
                        subnet: subnet.to_string(),
                        source: Box::new(source),
                    });
                    return;
                }
            }
        }
    }

    async fn attach(
        &self,
        view: &mut NodeView,
        subnet_id: &str,
        index: u32,
        changes: &mut Changes,
        now: Instant,
    ) {
        if view.attaching.is_some() || !view.instance.running {
            return;
        }
        let node = view.node.clone();
        let subnet: oci_api::model::SubnetId = match subnet_id.parse() {
            Ok(subnet) => subnet,
            Err(source) => {
                changes.failure = Some(Error::AttachVnic {
                    node,
                    subnet: subnet_id.to_owned(),
                    source: Box::new(source),
                });
                return;
            }
        };

        let mut vnic = CreateVnicDetails::in_subnet(subnet.clone());
        for (key, value) in self.ownership.tags(&node) {
            vnic = vnic.with_freeform_tag(key, value);
        }
        vnic.skip_source_dest_check = Some(false);
        vnic.display_name = Some(format!("oci-ipam-{node}-{index}"));
        if !self.config.nsg_ids.is_empty() {
            vnic.nsg_ids = Some(
                self.config
                    .nsg_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            );
        }
        let details = AttachVnicDetails::new(view.instance.id.clone(), vnic);

        let existing: Vec<&str> = view
            .vnics
            .iter()
            .map(|vnic| vnic.attachment.as_str())
            .collect();
        let token_text = self
            .ownership
            .attach_token(view.instance.id.as_str(), &existing, index);

        let started = Instant::now();
        let mut result = match RetryToken::new(token_text) {
            Ok(token) => self.oci.attach_vnic(&details, &token).await,
            Err(err) => Err(err),
        };
        if matches!(&result, Err(err) if err.code() == Some("InvalidatedRetryToken")) {
            result = self.oci.attach_vnic(&details, &RetryToken::random()).await;
        }
        changes.mutations += 1;

        let status = match &result {
            Ok(_) => "success",
            Err(err) => err.category(),
        };
        self.metrics
            .interface_creation_ops
            .get_or_create(&OpLabels {
                subnet_id: subnet.to_string(),
                status: status.to_owned(),
            })
            .inc();
        self.metrics
            .allocation_duration
            .get_or_create(&DurationLabels {
                r#type: "attachVnic".into(),
                status: status.to_owned(),
            })
            .observe(started.elapsed().as_secs_f64());

        match result {
            Ok(attachment) => {
                tracing::info!(
                    node = %node,
                    subnet = %subnet,
                    attachment = %attachment.id,
                    "attaching VNIC"
                );
                self.subnets.note(&subnet, 1);
                if attachment.lifecycle_state == VnicAttachmentLifecycleState::Attached {
                    view.attaching = Some(Attaching {
                        attachment: attachment.id,
                        subnet: Some(subnet),
                        since: now,
                    });
                    self.poll_attachment(view, changes, now).await;
                } else {
                    view.attaching = Some(Attaching {
                        attachment: attachment.id,
                        subnet: Some(subnet),
                        since: now,
                    });
                }
            }
            Err(source) => {
                if crate::error::is_exhaustion(&source) {
                    self.subnets.invalidate(&subnet);
                }
                changes.failure = Some(Error::AttachVnic {
                    node,
                    subnet: subnet.to_string(),
                    source: Box::new(source),
                });
            }
        }
    }

    async fn write_cilium_node(
        &self,
        started: Instant,
        view: &NodeView,
        cilium_node: &CiliumNode,
        record: Option<&OciNetworkNode>,
        changes: &Changes,
        error_text: Option<String>,
    ) -> Result<CiliumNode, Error> {
        let first_index = self.config.first_vnic_index;
        let desired: BTreeMap<IpAddr, String> = view
            .pool_ips(first_index)
            .filter(|(_, ip)| !changes.released.contains(&ip.address))
            .map(|(vnic, ip)| (IpAddr::V4(ip.address), vnic.id.to_string()))
            .collect();
        let primary: BTreeSet<String> = view
            .vnics
            .iter()
            .filter(|vnic| vnic.primary)
            .map(|vnic| vnic.id.to_string())
            .collect();
        let gated = self.config.secondary_vnics == SecondaryVnics::Enabled;
        let pool_defaults = self.config.pool;
        let instance = view.instance.id.to_string();
        let fresh = view.read_at >= started;

        let write = self
            .cilium_nodes
            .update_ipam(cilium_node, |latest, fields| {
                let used = latest.used();

                let mut pool = k8s_glue::cilium::AllocationMap::new();
                for (ip, vnic) in &desired {
                    let mut entry = AllocationIp::on(vnic.clone());
                    if let Some(existing) = fields.pool.get(ip).filter(|old| old.resource == *vnic)
                    {
                        entry.owner.clone_from(&existing.owner);
                    }
                    pool.insert(*ip, entry);
                }
                for (ip, entry) in &fields.pool {
                    if pool.contains_key(ip) {
                        continue;
                    }
                    let released = match ip {
                        IpAddr::V4(v4) => changes.released.contains(v4),
                        IpAddr::V6(_) => false,
                    };
                    // Dropped only when this pass read OCI itself and found the address gone
                    // (or released it): a cached view may lag behind another writer.
                    if used.contains_key(ip) || !(released || fresh) {
                        pool.insert(*ip, entry.clone());
                    }
                }
                if gated {
                    gate_pool(&mut pool, |vnic| {
                        primary.contains(vnic)
                            || record.is_some_and(|record| record.vnic_ready(vnic))
                    });
                }
                fields.pool = pool;

                for ip in &changes.unmark {
                    let ip = IpAddr::V4(*ip);
                    if matches!(
                        fields.release_ips.get(&ip),
                        Some(ReleaseState::DoNotRelease | ReleaseState::MarkedForRelease)
                    ) {
                        fields.release_ips.remove(&ip);
                    }
                }
                for ip in &changes.mark {
                    let ip = IpAddr::V4(*ip);
                    if !used.contains_key(&ip) && fields.pool.contains_key(&ip) {
                        fields
                            .release_ips
                            .entry(ip)
                            .or_insert(ReleaseState::MarkedForRelease);
                    }
                }
                for ip in &changes.released {
                    let ip = IpAddr::V4(*ip);
                    if !used.contains_key(&ip) {
                        fields.release_ips.insert(ip, ReleaseState::Released);
                        fields.pool.remove(&ip);
                    }
                }

                fields.instance_id = Some(instance.clone());
                if fields.pre_allocate.is_none() {
                    fields.pre_allocate = Some(pool_defaults.pre_allocate);
                }
                if fields.min_allocate.is_none() && pool_defaults.min_allocate > 0 {
                    fields.min_allocate = Some(pool_defaults.min_allocate);
                }
                if fields.max_allocate.is_none() && pool_defaults.max_allocate > 0 {
                    fields.max_allocate = Some(pool_defaults.max_allocate);
                }
                if fields.max_above_watermark.is_none() && pool_defaults.max_above_watermark > 0 {
                    fields.max_above_watermark = Some(pool_defaults.max_above_watermark);
                }
                fields.operator_error.clone_from(&error_text);
            })
            .await
            .map_err(|source| Error::WriteCiliumNode {
                node: view.node.clone(),
                source: Box::new(source),
            })?;
        Ok(write.node)
    }

    async fn write_record(
        &self,
        view: &NodeView,
        node: Option<&Node>,
        name: &str,
    ) -> Result<(), Error> {
        let spec = self.record_spec(view, name)?;

        let unchanged = self
            .memory_lock()
            .get(name)
            .and_then(|memory| memory.recorded.as_ref())
            .is_some_and(|recorded| *recorded == spec);
        if unchanged {
            return Ok(());
        }

        let object = match node {
            Some(node) => OciNetworkNode::for_node(node, spec.clone()).map_err(|source| {
                Error::WriteNodeRecord {
                    node: name.to_owned(),
                    source: Box::new(source),
                }
            })?,
            None => OciNetworkNode::new(name, spec.clone()),
        };
        self.records
            .apply_spec(&object)
            .await
            .map_err(|source| Error::WriteNodeRecord {
                node: name.to_owned(),
                source: Box::new(source),
            })?;
        self.memory_lock()
            .entry(name.to_owned())
            .or_default()
            .recorded = Some(spec);
        Ok(())
    }

    fn record_spec(&self, view: &NodeView, name: &str) -> Result<OciNetworkNodeSpec, Error> {
        let parse = |text: &str| {
            text.parse::<k8s_glue::Ocid>()
                .map_err(|source| Error::WriteNodeRecord {
                    node: name.to_owned(),
                    source: Box::new(source),
                })
        };

        let mut spec = OciNetworkNodeSpec::new(
            parse(view.instance.id.as_str())?,
            view.instance.shape.clone(),
        );
        spec.availability_domain = Some(view.instance.availability_domain.clone());
        spec.max_vnic_attachments = view.instance.max_vnic_attachments;

        for vnic in &view.vnics {
            let mut record = VnicRecord::new(
                parse(vnic.id.as_str())?,
                parse(vnic.attachment.as_str())?,
                vnic.index,
                parse(vnic.subnet.as_str())?,
            );
            record.origin = if vnic.ours {
                VnicOrigin::Created
            } else {
                VnicOrigin::Found
            };
            record.mac_address = vnic.mac.as_deref().and_then(|mac| mac.parse().ok());
            record.primary_ip = vnic.primary_ip;
            record.vlan_tag = vnic.vlan_tag;
            if let Some(facts) = self.subnets.known(&vnic.subnet) {
                record.subnet_cidr = facts.cidr.parse().ok();
                record.virtual_router_ip = facts.virtual_router_ip;
            }
            spec.vnics.push(record);
        }
        Ok(spec)
    }

    fn requeue_after(&self, view: &NodeView, plan: &NodePlan, changes: &Changes) -> Duration {
        let poll = self.config.vnic_attach_poll_interval;
        if view.attaching.is_some() {
            return poll;
        }
        if changes.failure.is_some() {
            return poll.max(Duration::from_secs(1)) * 5;
        }
        let handshake_pending = !changes.mark.is_empty()
            || plan
                .actions
                .iter()
                .any(|action| matches!(action, Action::MarkForRelease { .. }));
        if changes.mutations > 0 || handshake_pending {
            return poll;
        }
        self.config.resync_interval
    }

    fn remember(&self, name: &str, view: NodeView, dirty: bool) {
        let mut memory = self.memory_lock();
        let entry = memory.entry(name.to_owned()).or_default();
        entry.view = Some(view);
        entry.dirty = dirty;
    }

    fn memory_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, NodeMemory>> {
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refreshes the secondary IPs of every usable VNIC of a node from OCI, e.g. after a
    /// create failed in a way that leaves its outcome unknown.
    ///
    /// # Errors
    ///
    /// [`Error::ReadOci`] when a listing fails.
    pub async fn refresh_ips(&self, view: &mut NodeView) -> Result<(), Error> {
        let first = self.config.first_vnic_index;
        for vnic in view.vnics.iter_mut().filter(|vnic| vnic.usable(first)) {
            vnic.ips = read_ips(self.oci.as_ref(), &self.ownership, &view.node, &vnic.id).await?;
        }
        Ok(())
    }
}

/// How many nodes are read from OCI at once: about what the read budget serves in one
/// second, so reading never waits on this gate while the budget has tokens to spare.
fn reading_permits(config: &Config) -> usize {
    let per_second = config.rate_limits.read.qps.ceil().max(1.0);
    (per_second as usize).clamp(1, config.workers.max(1))
}

/// The instance OCID of a node: `spec.instance-id` of the CiliumNode, else the Node's
/// `spec.providerID`.
fn instance_of(
    name: &str,
    cilium_node: &CiliumNode,
    node: Option<&Node>,
) -> Result<InstanceId, Error> {
    let from_cilium = cilium_node
        .spec
        .instance_id
        .as_deref()
        .filter(|id| id.starts_with("ocid1.instance."))
        .map(str::to_owned);
    let from_node = || {
        node.and_then(|node| k8s_glue::node::NodeInstance::from_node(node).ok())
            .map(|instance| instance.instance_id.to_string())
    };

    from_cilium
        .or_else(from_node)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Error::NoInstance {
            node: name.to_owned(),
        })
}

fn used_v4(cilium_node: &CiliumNode) -> BTreeSet<Ipv4Addr> {
    cilium_node
        .used()
        .keys()
        .filter_map(|ip| match ip {
            IpAddr::V4(ip) => Some(*ip),
            IpAddr::V6(_) => None,
        })
        .collect()
}

fn release_v4(cilium_node: &CiliumNode) -> BTreeMap<Ipv4Addr, ReleaseState> {
    cilium_node
        .release_ips()
        .iter()
        .filter_map(|(ip, state)| match ip {
            IpAddr::V4(ip) => Some((*ip, *state)),
            IpAddr::V6(_) => None,
        })
        .collect()
}

pub(crate) fn snapshot_node(
    view: &NodeView,
    cilium_node: &CiliumNode,
    first_vnic_index: u32,
) -> SnapshotNode {
    let ipam = &cilium_node.spec.ipam;
    let own = NodeIpam {
        pre_allocate: ipam.pre_allocate,
        min_allocate: ipam.min_allocate,
        max_allocate: ipam.max_allocate,
        max_above_watermark: ipam.max_above_watermark,
    };

    let vnics = view
        .vnics
        .iter()
        .filter_map(|vnic| {
            let secondary_ips = if vnic.usable(first_vnic_index) {
                vnic.our_ips().map(|ip| ip.address).collect()
            } else {
                Vec::new()
            };
            vnic.primary_ip.map(|primary_ip| SnapshotVnic {
                id: vnic.id.to_string(),
                index: vnic.index,
                subnet_id: vnic.subnet.to_string(),
                primary_ip,
                secondary_ips,
            })
        })
        .collect();

    let pool_or_ours: BTreeSet<Ipv4Addr> = view
        .pool_ips(first_vnic_index)
        .map(|(_, ip)| ip.address)
        .collect();
    let release_ips = release_v4(cilium_node)
        .into_iter()
        .filter(|(ip, _)| pool_or_ours.contains(ip))
        .map(|(ip, state)| (ip, state.as_str().to_owned()))
        .collect();

    SnapshotNode {
        name: view.node.clone(),
        instance_id: view.instance.id.to_string(),
        shape: view.instance.shape.clone(),
        ocpus: view.instance.ocpus,
        max_vnic_attachments: view.instance.max_vnic_attachments,
        availability_domain: view.instance.availability_domain.clone(),
        ipam: (own != NodeIpam::default()).then_some(own),
        vnics,
        attaching_vnics: u32::from(view.attaching.is_some()),
        used: used_v4(cilium_node).into_iter().collect(),
        pending_pods: 0,
        release_ips,
    }
}

/// The snapshot policy of `config`, with `selected` as the explicit subnets.
pub(crate) fn policy(config: &Config, selected: &[oci_api::model::SubnetId]) -> Policy {
    Policy {
        ips_per_vnic: config.ips_per_vnic,
        first_vnic_index: config.first_vnic_index,
        secondary_vnics: config.secondary_vnics == SecondaryVnics::Enabled,
        pre_allocate: config.pool.pre_allocate,
        min_allocate: config.pool.min_allocate,
        max_allocate: config.pool.max_allocate,
        max_above_watermark: config.pool.max_above_watermark,
        release_excess: matches!(config.release, ExcessRelease::After(_)),
        // Tag selection happened when listing subnets: the planner gets the matching IDs.
        subnet_ids: selected.iter().map(ToString::to_string).collect(),
        subnet_tags: BTreeMap::new(),
    }
}

/// Maps an error category or shortfall reason to a `node_blocked` reason label.
fn block_reason(reason: &str) -> &'static str {
    match reason {
        "vnicLimit" => "vnicLimit",
        "subnetExhausted" | "SubnetExhausted" => "subnetExhausted",
        "maxAllocate" => "maxAllocate",
        "noSubnet" => "noSubnet",
        "attachPending" => "attachPending",
        "AttachVnicFailed" => "attachTimeout",
        "InstanceNotFound" | "instanceNotFound" => "instanceNotFound",
        _ => "ociError",
    }
}
