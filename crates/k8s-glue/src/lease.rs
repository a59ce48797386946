//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leader election does.
//!
//! Each replica runs a [`LeaderElector`] with its own identity against the same Lease. A
//! replica becomes leader when the Lease is missing, has no holder, or its holder has not
//! renewed for the lease duration; the leader renews every retry period. Expiry is judged by
//! when *this* replica last saw the Lease change (on its injected [`Clock`]), not by the
//! holder's `renewTime`, so clock skew between machines does not matter.
//!
//! A leader that cannot renew for the renew deadline considers itself deposed, and one that
//! finds another holder knows it lost at once. On shutdown the leader releases the Lease
//! (clears the holder) so the other replica takes over on its next attempt instead of waiting
//! for expiry.
//!
//! Writes are merge patches conditional on the Lease's resourceVersion, so two contenders
//! can never both win the same round.
//!
//! Unlike client-go, a leader whose renewal meets a 409 follows at once instead of retrying
//! until the renew deadline: only another contender writes the Lease, so it has been taken.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::error::{Error, is_conflict, is_not_found};

/// Where and how to hold the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (usually the pod name); must differ between replicas.
    pub identity: String,
    /// How long a holder's claim lasts without renewal (default 15 s).
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before it gives up leading (default 10 s);
    /// shorter than `lease_duration`.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew (default 2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Lease `namespace/name` held as `identity`, with client-go's default timings.
    #[must_use]
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Sets the three timings (lease duration, renew deadline, retry period).
    ///
    /// The Lease stores its duration in whole seconds; shorter durations round up to one.
    #[must_use]
    pub fn with_timings(
        mut self,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Self {
        self.lease_duration = lease_duration;
        self.renew_deadline = renew_deadline;
        self.retry_period = retry_period;
        self
    }
}

/// Who leads, as this replica last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Leadership {
    /// This replica holds the Lease.
    Leading,
    /// Another replica holds the Lease (`holder`), or nobody does and this replica has not
    /// taken it yet (`None`).
    Following {
        /// The current holder's identity, when known.
        holder: Option<String>,
    },
}

impl Leadership {
    /// Whether this replica leads.
    #[must_use]
    pub fn is_leading(&self) -> bool {
        matches!(self, Self::Leading)
    }
}

/// One replica's side of leader election.
///
/// Drive it with [`LeaderElector::step`] (one attempt; tests) or [`LeaderElector::spawn`]
/// (a background loop that releases on shutdown).
///
/// ```no_run
/// use std::sync::Arc;
/// use k8s_glue::SystemClock;
/// use k8s_glue::lease::{LeaderElector, LeaseConfig};
///
/// # async fn run(client: kube::Client) {
/// let config = LeaseConfig::new("kube-system", "oci-ipam-operator", "operator-7d9f-abcde");
/// let elector = LeaderElector::new(client, config, Arc::new(SystemClock));
///
/// let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
/// let mut handle = elector.spawn(async move {
///     shutdown_rx.await.ok();
/// });
///
/// // Work only while leading; stop at once when leadership is lost.
/// handle.leadership.wait_for(|leadership| leadership.is_leading()).await.ok();
/// // ... run the controllers ...
///
/// shutdown_tx.send(()).ok(); // releases the Lease so the other replica takes over
/// handle.task.await.ok();
/// # }
/// ```
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    clock: Arc<dyn Clock>,
    observed: Option<Observed>,
    last_renewal: Option<Timestamp>,
    leadership: Leadership,
}

/// The Lease record as last seen, and when this replica first saw it in that state.
struct Observed {
    spec: LeaseSpec,
    at: Timestamp,
}

/// A running [`LeaderElector`] loop.
#[non_exhaustive]
pub struct LeaderHandle {
    /// The current leadership; changes as the loop sees them.
    pub leadership: watch::Receiver<Leadership>,
    /// The loop; it ends after the shutdown future completes and the Lease is released.
    pub task: JoinHandle<Result<(), Error>>,
}

impl LeaderElector {
    /// An elector for `config` that reads time from `clock`.
    #[must_use]
    pub fn new(client: Client, config: LeaseConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            clock,
            observed: None,
            last_renewal: None,
            leadership: Leadership::Following { holder: None },
        }
    }

    /// The leadership after the last step.
    pub fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// Tries once to acquire the Lease or, when leading, to renew it.
    ///
    /// When the attempt fails with an error, a leader stays leader until the renew deadline
    /// has passed since its last renewal, then follows; [`LeaderElector::leadership`] tells.
    ///
    /// # Errors
    ///
    /// [`Error::WriteLease`] when reading, creating or updating the Lease fails (other than
    /// losing a race, which is simply following).
    pub async fn step(&mut self) -> Result<&Leadership, Error> {
        let now = self.clock.now();

        match self.try_acquire_or_renew(now).await {
            Ok(leadership) => {
                if leadership.is_leading() {
                    self.last_renewal = Some(now);
                } else if self.leadership.is_leading() {
                    tracing::debug!(lease = %self.config.name, ?leadership, "lost the lease");
                }
                self.leadership = leadership;
                Ok(&self.leadership)
            }
            Err(err) => {
                let deadline = signed(self.config.renew_deadline);
                let expired = self
                    .last_renewal
                    .is_none_or(|renewed| now.duration_since(renewed) >= deadline);
                if self.leadership.is_leading() && expired {
                    tracing::debug!(lease = %self.config.name, "renew deadline passed; stepping down");
                    self.leadership = Leadership::Following { holder: None };
                }
                Err(err)
            }
        }
    }

    /// Releases the Lease if this replica holds it: clears the holder so another replica
    /// acquires it on its next attempt. Afterwards this replica follows.
    ///
    /// # Errors
    ///
    /// [`Error::WriteLease`] when the update fails; the Lease then expires on its own.
    pub async fn release(&mut self) -> Result<(), Error> {
        if !self.leadership.is_leading() {
            return Ok(());
        }
        self.leadership = Leadership::Following { holder: None };

        let Some(lease) = self.read().await? else {
            return Ok(());
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(&self.config.identity) {
            return Ok(());
        }

        let now = self.clock.now();
        let patch = json!({
            "metadata": {"resourceVersion": lease.resource_version()},
            "spec": {
                "holderIdentity": null,
                "leaseDurationSeconds": 1,
                "renewTime": MicroTime(now),
            },
        });
        match self
            .api
            .patch(
                &self.config.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                tracing::debug!(lease = %self.config.name, "released the lease");
                Ok(())
            }
            // Someone wrote the Lease since: it is no longer ours to release.
            Err(err) if is_conflict(&err) => Ok(()),
            Err(source) => Err(self.lease_error("release", source)),
        }
    }

    /// Runs the elector in a task: a step every retry period, publishing the leadership,
    /// until `shutdown` completes; then releases the Lease and ends.
    pub fn spawn<S>(mut self, shutdown: S) -> LeaderHandle
    where
        S: Future<Output = ()> + Send + 'static,
    {
        let (sender, leadership) = watch::channel(self.leadership.clone());

        let task = tokio::spawn(async move {
            tokio::pin!(shutdown);
            loop {
                if let Err(err) = self.step().await {
                    tracing::debug!(lease = %self.config.name, error = &err as &dyn std::error::Error, "lease step failed");
                }
                sender.send_if_modified(|current| replace_if_changed(current, &self.leadership));

                tokio::select! {
                    () = tokio::time::sleep(self.config.retry_period) => {}
                    () = &mut shutdown => break,
                }
            }

            let released = self.release().await;
            sender.send_replace(Leadership::Following { holder: None });
            released
        });

        LeaderHandle { leadership, task }
    }

    async fn try_acquire_or_renew(&mut self, now: Timestamp) -> Result<Leadership, Error> {
        let Some(lease) = self.read().await? else {
            return self.create(now).await;
        };

        let current = lease.spec.clone().unwrap_or_default();
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|observed| observed.spec != current);
        if changed {
            self.observed = Some(Observed {
                spec: current.clone(),
                at: now,
            });
        }

        let holder = current
            .holder_identity
            .clone()
            .filter(|holder| !holder.is_empty());
        let ours = holder.as_deref() == Some(&self.config.identity);
        if let (Some(holder), false) = (&holder, ours)
            && self.held_by_other(&current, now)
        {
            return Ok(Leadership::Following {
                holder: Some(holder.clone()),
            });
        }

        let seconds = lease_seconds(self.config.lease_duration);
        let spec = if ours {
            LeaseSpec {
                lease_duration_seconds: Some(seconds),
                renew_time: Some(MicroTime(now)),
                ..current.clone()
            }
        } else {
            LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(
                    current.lease_transitions.unwrap_or(0) + i32::from(holder.is_some()),
                ),
                ..current.clone()
            }
        };

        let patch = json!({
            "metadata": {"resourceVersion": lease.resource_version()},
            "spec": spec,
        });
        match self
            .api
            .patch(
                &self.config.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(written) => {
                self.observed = Some(Observed {
                    spec: written.spec.unwrap_or_default(),
                    at: now,
                });
                if !ours {
                    tracing::debug!(lease = %self.config.name, identity = %self.config.identity, "acquired the lease");
                }
                Ok(Leadership::Leading)
            }
            // Another contender wrote first; the next step reads who.
            Err(err) if is_conflict(&err) => Ok(Leadership::Following {
                holder: holder.filter(|_| !ours),
            }),
            Err(source) => Err(self.lease_error(if ours { "renew" } else { "acquire" }, source)),
        }
    }

    /// Whether another holder's claim in `spec` is still valid at `now`.
    fn held_by_other(&self, spec: &LeaseSpec, now: Timestamp) -> bool {
        let seconds = spec
            .lease_duration_seconds
            .filter(|seconds| *seconds > 0)
            .unwrap_or_else(|| lease_seconds(self.config.lease_duration));
        let seen = self.observed.as_ref().map_or(now, |observed| observed.at);

        now.duration_since(seen) < SignedDuration::from_secs(i64::from(seconds))
    }

    async fn read(&self) -> Result<Option<Lease>, Error> {
        match self.api.get(&self.config.name).await {
            Ok(lease) => Ok(Some(lease)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(source) => Err(self.lease_error("read", source)),
        }
    }

    async fn create(&mut self, now: Timestamp) -> Result<Leadership, Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(lease_seconds(self.config.lease_duration)),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };

        match self.api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                self.observed = Some(Observed {
                    spec: created.spec.unwrap_or_default(),
                    at: now,
                });
                tracing::debug!(lease = %self.config.name, identity = %self.config.identity, "created and acquired the lease");
                Ok(Leadership::Leading)
            }
            Err(err) if is_conflict(&err) => Ok(Leadership::Following { holder: None }),
            Err(source) => Err(self.lease_error("create", source)),
        }
    }

    fn lease_error(&self, action: &'static str, source: kube::Error) -> Error {
        Error::WriteLease {
            action,
            namespace: self.config.namespace.clone(),
            lease: self.config.name.clone(),
            source: Box::new(source),
        }
    }
}

fn replace_if_changed(current: &mut Leadership, new: &Leadership) -> bool {
    if current == new {
        false
    } else {
        *current = new.clone();
        true
    }
}

/// The Lease's whole-second duration for `duration`, at least one second.
fn lease_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds.max(1)).unwrap_or(i32::MAX)
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_seconds_round_up_and_never_reach_zero() {
        assert_eq!(lease_seconds(Duration::from_millis(200)), 1);
        assert_eq!(lease_seconds(Duration::from_secs(15)), 15);
        assert_eq!(lease_seconds(Duration::from_millis(15_500)), 16);
    }
}
