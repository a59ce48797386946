//! The leader-elected control loop around [`Engine::reconcile`].
//!
//! One replica holds the Lease and leads; the other waits. The leader watches CiliumNodes,
//! Nodes and `OciNetworkNode`s into caches, and a scheduler hands due nodes to a bounded set
//! of workers, nodes with the largest deficit first. A node is due when it has never been
//! seen, when one of its objects changed, or when its requeue time from the last reconcile
//! has come. Losing the Lease stops the workers and drops every cache: the next leader term
//! starts from what OCI and the API server say.
//!
//! Shutdown: the scheduler stops handing out work, workers in flight get
//! `--shutdown-grace` to finish (an OCI create and the write recording it stay together),
//! and only then is the Lease released so the other replica takes over at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_glue::events::{Event, EventRecorder};
use k8s_glue::lease::{LeaderElector, LeaseConfig};
use k8s_glue::{CiliumNode, OciNetworkNode, SystemClock};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, chain};
use crate::metrics::{CategoryLabels, ErrorLabels, Metrics};
use crate::reconcile::{Engine, Outcome};
use crate::server::Health;

/// The component name in Events and the Lease.
pub const COMPONENT: &str = "oci-ipam-operator";

/// Everything the control loop needs.
#[derive(Clone)]
pub struct Controller {
    engine: Arc<Engine>,
    client: kube::Client,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    events: EventRecorder,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("cluster", &self.config.cluster)
            .finish_non_exhaustive()
    }
}

/// Per-node scheduling state (rebuilt every leader term).
#[derive(Debug, Default)]
struct Schedule {
    next_at: Option<Instant>,
    running: bool,
    failures: u32,
    reported: Option<String>,
}

#[derive(Debug, Default)]
struct Queue {
    nodes: HashMap<String, Schedule>,
}

impl Controller {
    /// A controller over `engine`.
    #[must_use]
    pub fn new(
        engine: Arc<Engine>,
        client: kube::Client,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Self {
        let config = Arc::new(engine.config().clone());
        let events = EventRecorder::new(
            client.clone(),
            COMPONENT,
            config.leader_election.identity.clone(),
            Arc::new(SystemClock),
        );
        Self {
            engine,
            client,
            config,
            metrics,
            health,
            events,
        }
    }

    /// Campaigns for the Lease and leads while holding it, until `shutdown` fires.
    ///
    /// # Errors
    ///
    /// [`Error::LeaderElection`] when the Lease could not be released at the end.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let election = &self.config.leader_election;
        let lease = LeaseConfig::new(
            &election.namespace,
            &election.lease_name,
            &election.identity,
        )
        .with_timings(
            election.lease_duration,
            election.renew_deadline,
            election.retry_period,
        );
        let lease_name = format!("{}/{}", election.namespace, election.lease_name);

        let release = CancellationToken::new();
        let elector = LeaderElector::new(self.client.clone(), lease, Arc::new(SystemClock));
        let handle = elector.spawn(release.clone().cancelled_owned());
        let mut leadership = handle.leadership;
        self.health.set_ready(true);

        loop {
            self.health.tick();
            if shutdown.is_cancelled() {
                break;
            }

            if !leadership.borrow().is_leading() {
                tokio::select! {
                    changed = leadership.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }

            tracing::info!(identity = %election.identity, lease = %lease_name, "leading");
            self.metrics.is_leader.set(1);
            let term = shutdown.child_token();
            let lead = tokio::spawn(self.clone().lead(term.clone()));

            loop {
                tokio::select! {
                    changed = leadership.changed() => {
                        if changed.is_err() || !leadership.borrow().is_leading() {
                            tracing::warn!(lease = %lease_name, "lost the lease; stopping work");
                            break;
                        }
                    }
                    () = term.cancelled() => break,
                }
            }
            term.cancel();
            if let Err(err) = lead.await {
                tracing::error!(error = %err, "leader term ended abnormally");
            }
            self.engine.forget_all();
            self.metrics.is_leader.set(0);
        }

        release.cancel();
        match handle.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(Error::LeaderElection {
                lease: lease_name,
                source: Box::new(source),
            }),
            Err(err) => {
                tracing::error!(error = %err, "lease task failed");
                Ok(())
            }
        }
    }

    /// One leader term: watches, scheduler and workers, until `stop` fires.
    async fn lead(self, stop: CancellationToken) {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let wake = Arc::new(Notify::new());

        let cilium_nodes = k8s_glue::watch::cilium_nodes(self.client.clone());
        let nodes = k8s_glue::watch::nodes(self.client.clone());
        let records = k8s_glue::watch::oci_network_nodes(self.client.clone());
        let stores = Stores {
            cilium_nodes: cilium_nodes.store.clone(),
            nodes: nodes.store.clone(),
            records: records.store.clone(),
        };

        let mut drivers = JoinSet::new();
        drivers.spawn(drive(
            cilium_nodes.events,
            queue.clone(),
            wake.clone(),
            Some(self.engine.clone()),
        ));
        drivers.spawn(drive(nodes.events, queue.clone(), wake.clone(), None));
        drivers.spawn(drive(records.events, queue.clone(), wake.clone(), None));

        let ready = async {
            let _ = stores.cilium_nodes.wait_until_ready().await;
            let _ = stores.nodes.wait_until_ready().await;
            let _ = stores.records.wait_until_ready().await;
        };
        tokio::select! {
            () = ready => {}
            () = stop.cancelled() => {
                drivers.abort_all();
                return;
            }
        }
        tracing::info!(nodes = stores.cilium_nodes.state().len(), "caches ready");

        let permits = Arc::new(Semaphore::new(self.config.workers));
        let mut workers = JoinSet::new();

        while !stop.is_cancelled() {
            self.health.tick();
            while workers.try_join_next().is_some() {}

            let now = Instant::now();
            let due = self.due_nodes(&stores.cilium_nodes, &queue, now);
            for name in due {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    break;
                };
                set_running(&queue, &name, true);
                let this = self.clone();
                let stores = stores.clone();
                let queue = queue.clone();
                let wake = wake.clone();
                workers.spawn(async move {
                    this.work(&name, &stores, &queue).await;
                    set_running(&queue, &name, false);
                    drop(permit);
                    wake.notify_one();
                });
            }

            let next = next_wake(&queue, now);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(next) => {}
                () = stop.cancelled() => {}
            }
        }

        drivers.abort_all();
        let grace = self.config.shutdown_grace;
        let finished = tokio::time::timeout(grace, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                ?grace,
                "abandoning reconciles still running after the grace period"
            );
            workers.abort_all();
        }
    }

    /// Nodes to work on now, largest deficit first, ties by name.
    fn due_nodes(
        &self,
        store: &Store<CiliumNode>,
        queue: &Mutex<Queue>,
        now: Instant,
    ) -> Vec<String> {
        let objects = store.state();
        let mut queue = lock(queue);

        let mut in_deficit = 0_i64;
        let mut due = Vec::new();
        for object in &objects {
            let name = object.name_any();
            let deficit = deficit(object, self.config.pool.pre_allocate);
            if deficit > 0 {
                in_deficit += 1;
            }
            let schedule = queue.nodes.entry(name.clone()).or_default();
            let is_due = schedule.next_at.is_none_or(|at| at <= now);
            if is_due && !schedule.running {
                due.push((deficit, name));
            }
        }
        drop(queue);

        self.metrics
            .nodes
            .get_or_create(&CategoryLabels {
                category: "total".into(),
            })
            .set(i64::try_from(objects.len()).unwrap_or(i64::MAX));
        self.metrics
            .nodes
            .get_or_create(&CategoryLabels {
                category: "in-deficit".into(),
            })
            .set(in_deficit);

        due.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        due.into_iter().map(|(_, name)| name).collect()
    }

    /// Reconciles one node and schedules its next turn.
    async fn work(&self, name: &str, stores: &Stores, queue: &Mutex<Queue>) {
        let key = ObjectRef::new(name);
        let Some(cilium_node) = stores.cilium_nodes.get(&key) else {
            lock(queue).nodes.remove(name);
            return;
        };
        let node = stores.nodes.get(&ObjectRef::new(name));
        let record = stores.records.get(&ObjectRef::new(name));

        let span = tracing::info_span!("reconcile", node = %name);
        let _entered = span.enter();
        drop(_entered);

        let result = self
            .engine
            .reconcile(&cilium_node, node.as_deref(), record.as_deref())
            .await;
        let now = Instant::now();

        match result {
            Ok(outcome) => {
                self.report(&cilium_node, name, &outcome, queue).await;
                let mut queue = lock(queue);
                let schedule = queue.nodes.entry(name.to_owned()).or_default();
                schedule.failures = 0;
                schedule.next_at = Some(now + outcome.requeue_after);
            }
            Err(err) => {
                let failures = {
                    let mut queue = lock(queue);
                    let schedule = queue.nodes.entry(name.to_owned()).or_default();
                    schedule.failures = schedule.failures.saturating_add(1);
                    let delay = backoff(schedule.failures, self.config.resync_interval);
                    schedule.next_at = Some(now + delay);
                    schedule.failures
                };
                self.metrics
                    .reconcile_errors
                    .get_or_create(&ErrorLabels {
                        category: err.category().to_owned(),
                    })
                    .inc();
                tracing::warn!(
                    node = %name,
                    reason = err.category(),
                    request_id = err.request_id().unwrap_or("none"),
                    failures,
                    error = %chain(&err),
                    "reconcile failed"
                );
                self.engine.report_error(&cilium_node, &chain(&err)).await;
                self.warn(&cilium_node, err.category(), &err.to_string())
                    .await;
            }
        }
    }

    /// Publishes a Warning Event when what blocks a node changes.
    async fn report(
        &self,
        cilium_node: &CiliumNode,
        name: &str,
        outcome: &Outcome,
        queue: &Mutex<Queue>,
    ) {
        let changed = {
            let mut queue = lock(queue);
            let schedule = queue.nodes.entry(name.to_owned()).or_default();
            let changed = schedule.reported != outcome.blocked;
            schedule.reported.clone_from(&outcome.blocked);
            changed
        };
        if !changed {
            return;
        }
        if let (Some(reason), Some(message)) = (&outcome.blocked, &outcome.error) {
            self.warn(cilium_node, &event_reason(reason), message).await;
        }
    }

    async fn warn(&self, cilium_node: &CiliumNode, reason: &str, note: &str) {
        let event = Event::warning(reason, "Allocate").with_note(truncate(note, 1000));
        if let Err(err) = self
            .events
            .publish(&cilium_node.object_ref(&()), &event)
            .await
        {
            tracing::debug!(error = %chain(&err), "could not publish an Event");
        }
    }
}

#[derive(Clone)]
struct Stores {
    cilium_nodes: Store<CiliumNode>,
    nodes: Store<Node>,
    records: Store<OciNetworkNode>,
}

/// Drives one watch stream, making the named node due on every change.
async fn drive<K>(
    mut events: futures::stream::BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>,
    queue: Arc<Mutex<Queue>>,
    wake: Arc<Notify>,
    engine: Option<Arc<Engine>>,
) where
    K: Resource + Clone + Send + 'static,
{
    while let Some(event) = events.next().await {
        let touched: BTreeSet<(String, bool)> = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                BTreeSet::from([(object.meta().name.clone().unwrap_or_default(), false)])
            }
            Ok(watcher::Event::Delete(object)) => {
                BTreeSet::from([(object.meta().name.clone().unwrap_or_default(), true)])
            }
            Ok(_) => BTreeSet::new(),
            Err(err) => {
                tracing::debug!(error = %err, "watch error; the watcher retries");
                BTreeSet::new()
            }
        };

        let mut queue = lock(&queue);
        for (name, deleted) in touched {
            if deleted {
                if let Some(engine) = &engine {
                    engine.forget(&name);
                    queue.nodes.remove(&name);
                }
                continue;
            }
            queue.nodes.entry(name).or_default().next_at = None;
        }
        drop(queue);
        wake.notify_one();
    }
}

fn set_running(queue: &Mutex<Queue>, name: &str, running: bool) {
    lock(queue)
        .nodes
        .entry(name.to_owned())
        .or_default()
        .running = running;
}

/// How long the scheduler may sleep before some node is due.
fn next_wake(queue: &Mutex<Queue>, now: Instant) -> Duration {
    lock(queue)
        .nodes
        .values()
        .filter(|schedule| !schedule.running)
        .filter_map(|schedule| schedule.next_at)
        .map(|at| at.saturating_duration_since(now))
        .min()
        .unwrap_or(Duration::from_secs(1))
        .clamp(Duration::from_millis(5), Duration::from_secs(1))
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Addresses the node lacks by Cilium's formula, from its CiliumNode alone.
fn deficit(node: &CiliumNode, default_pre_allocate: u32) -> i64 {
    let pre = i64::from(node.spec.ipam.pre_allocate.unwrap_or(default_pre_allocate));
    let available = i64::try_from(node.spec.ipam.pool.len()).unwrap_or(i64::MAX);
    let used = i64::try_from(node.used().len()).unwrap_or(i64::MAX);
    (pre - (available - used)).max(0)
}

/// Backoff after `failures` consecutive failures: 0.5 s doubling, at most the resync interval.
fn backoff(failures: u32, cap: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    (Duration::from_millis(500) * 2_u32.pow(exponent)).min(cap.max(Duration::from_secs(1)))
}

/// A CamelCase Event reason for a shortfall reason or error category.
fn event_reason(reason: &str) -> String {
    let mut chars = reason.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(10);

        assert_eq!(backoff(1, cap), Duration::from_millis(500));
        assert_eq!(backoff(3, cap), Duration::from_secs(2));
        assert_eq!(backoff(30, cap), cap);
    }

    #[test]
    fn event_reasons_are_camel_case() {
        assert_eq!(event_reason("subnetExhausted"), "SubnetExhausted");
        assert_eq!(event_reason("OciReadFailed"), "OciReadFailed");
    }

    #[test]
    fn deficit_follows_pre_allocate() {
        let mut node = CiliumNode::new("n", k8s_glue::CiliumNodeSpec::default());

        assert_eq!(deficit(&node, 8), 8);

        node.spec.ipam.pre_allocate = Some(2);
        node.spec.ipam.pool.insert(
            "10.0.0.5".parse().expect("ip"),
            k8s_glue::AllocationIp::on("v"),
        );
        assert_eq!(deficit(&node, 8), 1);
    }
}
