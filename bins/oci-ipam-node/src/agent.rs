//! The running agent: watches its node's `CiliumNode` and `OciNetworkNode`, reads the
//! metadata service, reconciles on every change and on a timer, reports per-VNIC readiness
//! into the `OciNetworkNode` status, publishes Events, and serves `/metrics`, `/healthz`
//! and `/readyz`. When the CiliumNode or the OciNetworkNode is missing it says so once per
//! change, in a warning and a Warning Event on the Node.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::StreamExt;
use k8s_glue::crd::{CONDITION_READY, OciNetworkNodes};
use k8s_glue::events::{Event, EventRecorder};
use k8s_glue::{Clock, OciNetworkNode};
use kube::Resource;
use kube::runtime::WatchStreamExt;
use oci_api::model::ImdsVnic;
use oci_api::{Metadata, MetadataClient, MetadataEndpoint};
use tokio::sync::Notify;

use crate::Error;
use crate::desired::AttachmentMode;
use crate::inputs::{node_inputs, vnic_statuses};
use crate::metrics::Metrics;
use crate::model::VnicId;
use crate::model::VnicRole;
use crate::netlink::{Datapath, OwnerProtocol};
use crate::reconcile::{
    Readiness, ReconcileConfig, ReconcileReport, VnicReport, error_chain, reconcile,
};

/// The shortest time between two reads of the metadata service.
const METADATA_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// The time between passes while a VNIC's link has not appeared or a pass failed.
const RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// The component name in Events.
pub const COMPONENT: &str = "oci-ipam-node";

/// How the attachment mode is chosen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum AttachmentChoice {
    /// Bare metal when the instance's shape starts with `BM.`, else virtual machine.
    FromShape,
    /// As given.
    Fixed(AttachmentMode),
}

/// Everything the running agent needs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The Kubernetes node (and CiliumNode, and OciNetworkNode) name.
    pub node_name: String,
    /// The metadata service.
    pub metadata: MetadataEndpoint,
    /// Reconcile settings (the attachment mode in it is replaced per [`Self::attachment`]).
    pub reconcile: ReconcileConfig,
    /// How the attachment mode is chosen.
    pub attachment: AttachmentChoice,
    /// The owner mark of rules and routes.
    pub owner: OwnerProtocol,
    /// Time between passes without a change, and the longest the metadata stays cached.
    pub resync: Duration,
    /// Address of the metrics and health server.
    pub listen: SocketAddr,
}

impl AgentConfig {
    /// A configuration with defaults for everything but the node name.
    #[must_use]
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            metadata: MetadataEndpoint::default(),
            reconcile: ReconcileConfig::default(),
            attachment: AttachmentChoice::FromShape,
            owner: OwnerProtocol::default(),
            resync: Duration::from_secs(30),
            listen: SocketAddr::from(([0, 0, 0, 0], 9969)),
        }
    }
}

/// State shared with the HTTP server.
#[derive(Debug, Default)]
pub struct Health {
    /// The metrics.
    pub metrics: Metrics,
    /// Set after the first pass that ran (even with VNICs not ready).
    pub reconciled: AtomicBool,
}

/// The HTTP routes: `/metrics`, `/healthz` (alive), `/readyz` (a pass has run).
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// Runs the agent until `shutdown` resolves.
///
/// # Errors
///
/// When the Kubernetes client, the metadata client, the netlink socket or the HTTP listener
/// cannot be set up. Failures of single passes are logged, counted and retried.
pub async fn run(
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let client = kube::Client::try_default()
        .await
        .map_err(|source| Error::ConnectKube { source })?;
    let imds = MetadataClient::builder()
        .endpoint(config.metadata.clone())
        .build()
        .map_err(|source| Error::BuildMetadataClient { source })?;
    let datapath = Datapath::connect(config.owner)?;
    let health = Arc::new(Health::default());

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            address: config.listen,
            source,
        })?;
    let server = axum::serve(listener, router(health.clone()));
    tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(error = error_chain(&err), "Health server stopped");
        }
    });

    let changed = Arc::new(Notify::new());
    let cilium = k8s_glue::watch::cilium_node(client.clone(), &config.node_name);
    let ours = k8s_glue::watch::oci_network_node(client.clone(), &config.node_name);
    let (cilium_store, ours_store) = (cilium.store.clone(), ours.store.clone());
    spawn_trigger(cilium.events, changed.clone());
    spawn_trigger(ours.events, changed.clone());

    let mut agent = Agent::new(config, client, imds, datapath, clock).with_health(health);

    tokio::pin!(shutdown);

    // The first pass waits for both watches' initial lists (at most one resync interval, so a
    // watch that keeps failing does not hold the datapath back), so that an object the store
    // lacks is missing from the cluster rather than not listed yet.
    let listed = async {
        tokio::join!(
            cilium_store.wait_until_ready(),
            ours_store.wait_until_ready()
        )
    };
    tokio::select! {
        () = &mut shutdown => return Ok(()),
        waited = tokio::time::timeout(agent.config.resync, listed) => {
            if !matches!(waited, Ok((Ok(()), Ok(())))) {
                tracing::warn!(
                    node = %agent.config.node_name,
                    "CiliumNode and OciNetworkNode not listed yet; passing without them"
                );
            }
        }
    }

    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(wait) => {}
            () = changed.notified() => {}
        }

        let cilium_node = cilium_store.get(&kube::runtime::reflector::ObjectRef::new(
            &agent.config.node_name,
        ));
        let our_node = ours_store.get(&kube::runtime::reflector::ObjectRef::new(
            &agent.config.node_name,
        ));
        let report = agent
            .pass(cilium_node.as_deref(), our_node.as_deref())
            .await;
        wait = next_wait(report.as_ref(), agent.config.resync);
    }

    tracing::info!(node = %agent.config.node_name, "Shutting down; kernel state stays in place");
    Ok(())
}

/// One node's agent: the clients it reads and writes through, and what it remembers
/// between passes (the metadata cache, the attachment mode, the last readiness per VNIC).
pub struct Agent {
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    imds: MetadataClient,
    datapath: Datapath,
    nodes: OciNetworkNodes,
    recorder: EventRecorder,
    health: Arc<Health>,
    metadata: Option<(Vec<ImdsVnic>, Instant)>,
    attachment: Option<AttachmentMode>,
    last: BTreeMap<VnicId, Readiness>,
    presence: Presence,
}

/// Whether the node's CiliumNode and OciNetworkNode existed at the last pass (`None` before
/// the first), so that a missing one is reported once per change, not on every pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Presence {
    cilium_node: Option<bool>,
    our_node: Option<bool>,
}

/// A change in whether one of the node's objects exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PresenceChange {
    /// The CiliumNode is missing (at the first pass, or it went away).
    CiliumNodeMissing,
    /// The CiliumNode is back after it was missing.
    CiliumNodeFound,
    /// The OciNetworkNode is missing (at the first pass, or it went away).
    OciNetworkNodeMissing,
    /// The OciNetworkNode is back after it was missing.
    OciNetworkNodeFound,
}

impl Presence {
    /// Records this pass's view and returns what changed since the last one. Objects present
    /// from the first pass on are not news.
    fn update(&mut self, cilium_node: bool, our_node: bool) -> Vec<PresenceChange> {
        let mut changes = Vec::new();
        let mut compare = |last: &mut Option<bool>, now: bool, missing, found| {
            match (*last, now) {
                (None | Some(true), false) => changes.push(missing),
                (Some(false), true) => changes.push(found),
                _ => {}
            }
            *last = Some(now);
        };
        compare(
            &mut self.cilium_node,
            cilium_node,
            PresenceChange::CiliumNodeMissing,
            PresenceChange::CiliumNodeFound,
        );
        compare(
            &mut self.our_node,
            our_node,
            PresenceChange::OciNetworkNodeMissing,
            PresenceChange::OciNetworkNodeFound,
        );
        changes
    }
}

impl Agent {
    /// An agent for `config.node_name` using these clients.
    #[must_use]
    pub fn new(
        config: AgentConfig,
        client: kube::Client,
        imds: MetadataClient,
        datapath: Datapath,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let recorder =
            EventRecorder::new(client.clone(), COMPONENT, &config.node_name, clock.clone());
        Self {
            config,
            clock,
            imds,
            datapath,
            nodes: OciNetworkNodes::new(client),
            recorder,
            health: Arc::new(Health::default()),
            metadata: None,
            attachment: None,
            last: BTreeMap::new(),
            presence: Presence::default(),
        }
    }

    /// Shares `health` (metrics and readiness) with an HTTP server.
    #[must_use]
    pub fn with_health(mut self, health: Arc<Health>) -> Self {
        self.health = health;
        self
    }

    /// The metrics and readiness this agent records into.
    #[must_use]
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// One pass: read the metadata (cached), compute inputs from the node's CiliumNode and
    /// OciNetworkNode, reconcile the kernel, write statuses and Events. Returns the report,
    /// or `None` when the pass could not run (logged and counted).
    pub async fn pass(
        &mut self,
        cilium_node: Option<&k8s_glue::CiliumNode>,
        our_node: Option<&OciNetworkNode>,
    ) -> Option<ReconcileReport> {
        let started = Instant::now();
        let node = self.config.node_name.clone();
        let records = our_node.map(|n| n.spec.vnics.clone()).unwrap_or_default();
        self.report_presence(cilium_node.is_some(), our_node.is_some())
            .await;

        let metadata = match self.metadata(&records).await {
            Ok(metadata) => metadata,
            Err(err) => {
                tracing::warn!(%node, error = error_chain(&err), "Metadata not read");
                self.health
                    .metrics
                    .record_failure("ReadMetadata", started.elapsed().as_secs_f64());
                return None;
            }
        };

        let (inputs, unusable) = node_inputs(&metadata, &records, cilium_node);
        for vnic in &unusable {
            tracing::warn!(%node, vnic = %vnic.vnic, problem = %vnic.problem, "VNIC skipped");
        }
        let mut config = self.config.reconcile.clone();
        config.attachment = self.attachment.unwrap_or(AttachmentMode::VirtualMachine);

        let report = match reconcile(&self.datapath, &inputs, &config).await {
            Ok(report) => report,
            Err(err) => {
                tracing::error!(%node, error = error_chain(&err), "Reconcile failed");
                self.health
                    .metrics
                    .record_failure("ReadKernelState", started.elapsed().as_secs_f64());
                return None;
            }
        };

        self.health
            .metrics
            .record_pass(&report, started.elapsed().as_secs_f64());
        self.health.reconciled.store(true, Ordering::Relaxed);
        self.log(&report);
        if let Some(our_node) = our_node {
            self.report(our_node, &report).await;
        }
        Some(report)
    }

    /// The metadata VNIC list, re-read when older than the resync interval or when the CRD
    /// names a VNIC the cached list lacks (a fresh attachment).
    async fn metadata(
        &mut self,
        records: &[k8s_glue::crd::VnicRecord],
    ) -> Result<Vec<ImdsVnic>, Error> {
        if let Some((vnics, read)) = &self.metadata {
            // A VNIC the operator recorded but the metadata lacks is likely attaching: look
            // again, but not more often than IMDS throttling tolerates.
            let fresh = read.elapsed() < self.config.resync;
            let recent = read.elapsed() < METADATA_MIN_INTERVAL;
            let complete = records.iter().all(|r| {
                vnics
                    .iter()
                    .any(|v| v.vnic_id.as_str() == r.vnic_id.as_str())
            });
            if (fresh && complete) || recent {
                return Ok(vnics.clone());
            }
        }

        let endpoint = self.config.metadata.origin();
        if self.attachment.is_none() {
            self.attachment = Some(match self.config.attachment {
                AttachmentChoice::Fixed(mode) => mode,
                AttachmentChoice::FromShape => {
                    let instance =
                        self.imds
                            .instance()
                            .await
                            .map_err(|source| Error::ReadMetadata {
                                endpoint: endpoint.clone(),
                                source,
                            })?;
                    if instance.shape.starts_with("BM.") {
                        AttachmentMode::BareMetal
                    } else {
                        AttachmentMode::VirtualMachine
                    }
                }
            });
        }

        let vnics = self
            .imds
            .vnics()
            .await
            .map_err(|source| Error::ReadMetadata { endpoint, source })?;
        self.metadata = Some((vnics.clone(), Instant::now()));
        Ok(vnics)
    }

    fn log(&self, report: &ReconcileReport) {
        let node = &self.config.node_name;
        let changes = &report.changes;
        if !changes.is_empty() {
            tracing::info!(
                %node,
                rules_added = changes.rules_added,
                rules_deleted = changes.rules_deleted,
                routes_added = changes.routes_added,
                routes_deleted = changes.routes_deleted,
                links_created = changes.links_created,
                "Datapath changed"
            );
        }
        for failure in &report.cleanup_failures {
            tracing::warn!(%node, failure = %failure, "Stale state not removed");
        }
        for skipped in &report.skipped {
            tracing::warn!(
                %node,
                ip = %skipped.address.ip,
                vnic = %skipped.address.vnic,
                reason = ?skipped.reason,
                "Pool address gets no rules"
            );
        }
    }

    /// Logs, and publishes as an Event on the Node, each change in whether the node's
    /// CiliumNode and OciNetworkNode exist: once per change, not on every pass. Without its
    /// OciNetworkNode the agent has nowhere to write status, so the Node carries the Event.
    async fn report_presence(&mut self, cilium_node: bool, our_node: bool) {
        let node = self.config.node_name.clone();
        for change in self.presence.update(cilium_node, our_node) {
            let event = match change {
                PresenceChange::CiliumNodeMissing => {
                    let note = format!(
                        "CiliumNode {node} not found: the agent sees no pool addresses and \
                         routes none; check that Cilium runs on this node with ipam: crd"
                    );
                    tracing::warn!(%node, problem = %note, "CiliumNode missing");
                    Event::warning("CiliumNodeMissing", "ReadInputs").with_note(note)
                }
                PresenceChange::OciNetworkNodeMissing => {
                    let note = format!(
                        "OciNetworkNode {node} not found: the agent cannot tell primary from \
                         secondary VNICs or report their readiness; the operator creates it for \
                         each node it manages (check that it runs and sees this node)"
                    );
                    tracing::warn!(%node, problem = %note, "OciNetworkNode missing");
                    Event::warning("OciNetworkNodeMissing", "ReadInputs").with_note(note)
                }
                PresenceChange::CiliumNodeFound => {
                    tracing::info!(%node, "CiliumNode found");
                    continue;
                }
                PresenceChange::OciNetworkNodeFound => {
                    tracing::info!(%node, "OciNetworkNode found");
                    continue;
                }
            };
            let regarding = node_reference(&node);
            if let Err(err) = self.recorder.publish(&regarding, &event).await {
                tracing::debug!(%node, error = error_chain(&err), "Event not published");
            }
        }
    }

    /// Writes per-VNIC statuses and the `Ready` condition, and publishes an Event for each
    /// VNIC whose readiness changed.
    async fn report(&mut self, our_node: &OciNetworkNode, report: &ReconcileReport) {
        let node = self.config.node_name.clone();
        let statuses = vnic_statuses(report);
        let not_ready: Vec<String> = report
            .vnics
            .iter()
            .filter(|(_, v)| v.readiness != Readiness::Ready)
            .map(|(id, _)| id.to_string())
            .collect();
        let (status, reason, message) = if not_ready.is_empty() {
            (
                "True",
                "DatapathReady",
                format!("{} VNICs ready", report.vnics.len()),
            )
        } else {
            (
                "False",
                "VnicsNotReady",
                format!("not ready: {}", not_ready.join(", ")),
            )
        };
        let now = self.clock.now();

        let written = self
            .nodes
            .update_status(&node, |current| {
                current.vnics.clone_from(&statuses);
                current.set_condition(CONDITION_READY, status, reason, &message, now);
            })
            .await;
        if let Err(err) = written {
            tracing::warn!(%node, error = error_chain(&err), "Status not written");
            self.health.metrics.record_failure("WriteStatus", 0.0);
        }

        let regarding = our_node.object_ref(&());
        for (id, vnic) in &report.vnics {
            if self.last.get(id) == Some(&vnic.readiness) {
                continue;
            }
            let event = match &vnic.readiness {
                Readiness::Ready => {
                    Event::normal("VnicReady", "SetUpDatapath").with_note(ready_note(id, vnic))
                }
                Readiness::NotReady { reason, message } => {
                    tracing::warn!(
                        %node,
                        vnic = %id,
                        reason = reason.as_str(),
                        problem = %message,
                        "VNIC not ready"
                    );
                    Event::warning(reason.as_str(), "SetUpDatapath")
                        .with_note(format!("VNIC {id}: {message}"))
                }
            };
            if let Err(err) = self.recorder.publish(&regarding, &event).await {
                tracing::debug!(%node, error = error_chain(&err), "Event not published");
            }
        }
        self.last = report
            .vnics
            .iter()
            .map(|(id, v)| (id.clone(), v.readiness.clone()))
            .collect();
    }
}

/// A reference to the Kubernetes Node `name` for Events. It carries no UID: the agent may
/// not read Nodes, so `kubectl describe node`, which matches Events by UID, does not list
/// these; `kubectl get events -n default` does.
fn node_reference(name: &str) -> k8s_openapi::api::core::v1::ObjectReference {
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Node".to_owned()),
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

/// The note of a `VnicReady` Event: the VNIC and its link. The primary VNIC keeps the host's
/// own routing (the agent sets nothing up for it), so it is ready even when no single link
/// has its MAC; the note says so rather than name a link.
fn ready_note(id: &VnicId, vnic: &VnicReport) -> String {
    match (vnic.role, vnic.link.as_deref()) {
        (VnicRole::Primary, Some(link)) => {
            format!("primary VNIC {id} ready on {link} (it keeps the host's own routing)")
        }
        (VnicRole::Primary, None) => format!(
            "primary VNIC {id} ready: it keeps the host's own routing (no single link has its \
             MAC, which only bare-metal VLAN setup without --physical-nics needs)"
        ),
        (VnicRole::Secondary, Some(link)) => format!("VNIC {id} ready on {link}"),
        // A secondary VNIC is ready only once its link is set up; kept for completeness.
        (VnicRole::Secondary, None) => format!("VNIC {id} ready"),
    }
}

/// How long to wait before the next pass: soon while a hot-plugged NIC is still
/// appearing or a pass failed, else the resync interval.
fn next_wait(report: Option<&ReconcileReport>, resync: Duration) -> Duration {
    let waiting_for_link = report.is_none_or(|r| {
        r.vnics.values().any(
            |v| matches!(&v.readiness, Readiness::NotReady { reason, .. } if reason.is_transient()),
        )
    });
    if waiting_for_link {
        RETRY_INTERVAL.min(resync)
    } else {
        resync
    }
}

fn spawn_trigger<K: Send + 'static>(
    events: futures::stream::BoxStream<
        'static,
        Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>,
    >,
    changed: Arc<Notify>,
) {
    tokio::spawn(async move {
        let mut objects = events.applied_objects().boxed();
        while let Some(object) = objects.next().await {
            match object {
                Ok(_) => changed.notify_one(),
                Err(err) => {
                    tracing::warn!(error = error_chain(&err), "Watch error");
                }
            }
        }
    });
}

async fn metrics(State(health): State<Arc<Health>>) -> (StatusCode, String) {
    match health.metrics.encode() {
        Ok(text) => (StatusCode::OK, text),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

async fn readyz(State(health): State<Arc<Health>>) -> (StatusCode, &'static str) {
    if health.reconciled.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no reconcile pass yet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::NotReadyReason;

    fn report(reason: Option<NotReadyReason>) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        let readiness = match reason {
            None => Readiness::Ready,
            Some(reason) => Readiness::NotReady {
                reason,
                message: String::new(),
            },
        };
        report.vnics.insert(
            "ocid1.vnic.oc1.phx.a".parse().unwrap(),
            VnicReport {
                role: VnicRole::Secondary,
                link: None,
                table: None,
                addresses: 0,
                readiness,
            },
        );
        report
    }

    #[test]
    fn a_missing_object_is_news_once_per_change() {
        use PresenceChange::*;

        let mut presence = Presence::default();
        // Both there from the start: nothing to say, then or later.
        assert_eq!(presence.update(true, true), vec![]);
        assert_eq!(presence.update(true, true), vec![]);
        // The CiliumNode goes: said once.
        assert_eq!(presence.update(false, true), vec![CiliumNodeMissing]);
        assert_eq!(presence.update(false, true), vec![]);
        // It comes back while the OciNetworkNode goes.
        assert_eq!(
            presence.update(true, false),
            vec![CiliumNodeFound, OciNetworkNodeMissing]
        );
        assert_eq!(presence.update(true, false), vec![]);
        assert_eq!(presence.update(true, true), vec![OciNetworkNodeFound]);

        // Missing at the first pass is news too.
        let mut presence = Presence::default();
        assert_eq!(
            presence.update(false, false),
            vec![CiliumNodeMissing, OciNetworkNodeMissing]
        );
        assert_eq!(presence.update(false, false), vec![]);
    }

    #[test]
    fn ready_notes_name_the_link_and_the_primary_as_such() {
        let id: VnicId = "ocid1.vnic.oc1.phx.a".parse().unwrap();
        let vnic = |role, link: Option<&str>| VnicReport {
            role,
            link: link.map(str::to_owned),
            table: None,
            addresses: 0,
            readiness: Readiness::Ready,
        };

        assert_eq!(
            ready_note(&id, &vnic(VnicRole::Secondary, Some("eth1"))),
            "VNIC ocid1.vnic.oc1.phx.a ready on eth1"
        );
        assert_eq!(
            ready_note(&id, &vnic(VnicRole::Primary, Some("eth0"))),
            "primary VNIC ocid1.vnic.oc1.phx.a ready on eth0 (it keeps the host's own routing)"
        );
        let unmatched = ready_note(&id, &vnic(VnicRole::Primary, None));
        assert!(
            unmatched.starts_with("primary VNIC ocid1.vnic.oc1.phx.a ready: "),
            "{unmatched}"
        );
        assert!(!unmatched.contains('?'), "{unmatched}");
    }

    #[test]
    fn passes_come_sooner_while_a_link_is_missing_or_after_a_failure() {
        let resync = Duration::from_secs(30);

        assert_eq!(next_wait(Some(&report(None)), resync), resync);
        assert_eq!(
            next_wait(Some(&report(Some(NotReadyReason::AmbiguousLink))), resync),
            resync
        );
        assert_eq!(
            next_wait(Some(&report(Some(NotReadyReason::LinkNotFound))), resync),
            RETRY_INTERVAL
        );
        assert_eq!(next_wait(None, resync), RETRY_INTERVAL);
        assert_eq!(
            next_wait(None, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn health_routes_answer() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;

        let health = Arc::new(Health::default());
        let app = router(health.clone());
        let status = |path: &'static str| {
            let app = app.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).unwrap();
                app.oneshot(request).await.unwrap().status()
            }
        };

        assert_eq!(status("/healthz").await, StatusCode::OK);
        assert_eq!(status("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
        health.reconciled.store(true, Ordering::Relaxed);
        assert_eq!(status("/readyz").await, StatusCode::OK);
        assert_eq!(status("/metrics").await, StatusCode::OK);
    }
}
