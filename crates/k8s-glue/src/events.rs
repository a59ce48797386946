//! Kubernetes Events (`events.k8s.io/v1`) with short reasons, deduplicated into series.
//!
//! The first occurrence of an event creates an Event object; each repeat within the
//! deduplication window (6 minutes, as client-go's) bumps that object's `series` (count and
//! last-observed time) instead of creating another. Events are the same when they share the
//! object they are about, type, reason, action and note: the API server makes the note of an
//! existing Event immutable, so keep notes stable (name the node, VNIC or subnet; leave
//! request IDs and timestamps to the logs) and repeats fold into one object.
//!
//! Events about cluster-scoped objects (Nodes, CiliumNodes, OciNetworkNodes) go to the
//! `default` namespace, where `kubectl describe` finds them.
//!
//! Known limits: what was published lives in this process's memory, so after a restart the
//! first repeat creates a new Event object; and one lock, held across the API call, serializes
//! all publishing of a recorder (and its clones), which keeps concurrent repeats from
//! creating twins at the cost of throughput.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::error::{Error, is_not_found};

/// How long a repeat keeps folding into the same Event object.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(6 * 60);

/// The most distinct events remembered for deduplication; the oldest are forgotten first.
const CACHE_LIMIT: usize = 4096;

/// The most bytes of a note the API server accepts.
const NOTE_LIMIT: usize = 1024;

/// The most characters of a reason or action the API server accepts.
const REASON_LIMIT: usize = 128;

/// Whether an event reports something normal or something to look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// Business as usual (a VNIC attached, addresses added).
    Normal,
    /// Something needs attention (a subnet is full, an OCI call keeps failing).
    Warning,
}

impl EventType {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// One event to publish.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// A short CamelCase reason, such as `SubnetExhausted` (at most 128 characters).
    pub reason: String,
    /// What was being done, such as `AttachVnic` (at most 128 characters).
    pub action: String,
    /// A sentence for people (at most 1 KiB; longer notes are cut at a character boundary).
    pub note: Option<String>,
}

impl Event {
    /// A Normal event.
    #[must_use]
    pub fn normal(reason: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(EventType::Normal, reason.into(), action.into())
    }

    /// A Warning event.
    #[must_use]
    pub fn warning(reason: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(EventType::Warning, reason.into(), action.into())
    }

    /// Adds the note.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(truncate(note.into(), NOTE_LIMIT));
        self
    }

    fn new(type_: EventType, reason: String, action: String) -> Self {
        Self {
            type_,
            reason: truncate(reason, REASON_LIMIT),
            action: truncate(action, REASON_LIMIT),
            note: None,
        }
    }
}

/// Publishes [`Event`]s as one reporting controller, folding repeats into series.
///
/// ```no_run
/// use std::sync::Arc;
/// use kube::Resource;
/// use k8s_glue::SystemClock;
/// use k8s_glue::events::{Event, EventRecorder};
///
/// # async fn run(client: kube::Client, node: &k8s_glue::CiliumNode) -> Result<(), k8s_glue::Error> {
/// let recorder = EventRecorder::new(client, "oci-ipam-operator", "operator-7d9f-abcde", Arc::new(SystemClock));
/// let event = Event::warning("SubnetExhausted", "AttachVnic")
///     .with_note("subnet ocid1.subnet.oc1.phx.example has no free addresses");
///
/// recorder.publish(&node.object_ref(&()), &event).await?;
/// recorder.publish(&node.object_ref(&()), &event).await?; // same object, series.count = 2
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    controller: String,
    instance: String,
    clock: Arc<dyn Clock>,
    seen: Arc<Mutex<HashMap<Key, Seen>>>,
}

/// What makes two events the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    regarding: Regarding,
    event: Event,
}

/// The identifying fields of the object an event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Regarding {
    api_version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
}

/// The Event object an earlier occurrence created.
#[derive(Clone, Debug)]
struct Seen {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (the component, e.g. `oci-ipam-operator`) and
    /// `instance` (this replica, e.g. the pod name), reading time from `clock`.
    #[must_use]
    pub fn new(
        client: Client,
        controller: impl Into<String>,
        instance: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            controller: controller.into(),
            instance: instance.into(),
            clock,
            seen: Arc::default(),
        }
    }

    /// Publishes `event` about `regarding` (from [`kube::Resource::object_ref`]): creates
    /// an Event, or bumps the series of the one an identical earlier event created.
    ///
    /// # Errors
    ///
    /// [`Error::PublishEvent`] when the create or patch fails.
    pub async fn publish(&self, regarding: &ObjectReference, event: &Event) -> Result<(), Error> {
        let now = self.clock.now();
        let key = Key {
            regarding: Regarding {
                api_version: regarding.api_version.clone(),
                kind: regarding.kind.clone(),
                namespace: regarding.namespace.clone(),
                name: regarding.name.clone(),
                uid: regarding.uid.clone(),
            },
            event: event.clone(),
        };

        let mut seen = self.seen.lock().await;
        forget_old(&mut seen, now);

        if let Some(earlier) = seen.get_mut(&key) {
            let count = earlier.count + 1;
            match self.bump(earlier, count, now).await {
                Ok(()) => {
                    earlier.count = count;
                    earlier.last = now;
                    return Ok(());
                }
                // The API server expired the Event (its TTL is an hour by default): start anew.
                Err(err) if is_not_found(&err) => {}
                Err(source) => return Err(self.publish_error(regarding, event, source)),
            }
        }

        let created = self
            .create(regarding, event, now)
            .await
            .map_err(|source| self.publish_error(regarding, event, source))?;
        seen.insert(key, created);
        Ok(())
    }

    async fn create(
        &self,
        regarding: &ObjectReference,
        event: &Event,
        now: Timestamp,
    ) -> Result<Seen, kube::Error> {
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            now.as_nanosecond()
        );

        let object = K8sEvent {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(event.type_.as_str().to_owned()),
            reason: Some(event.reason.clone()),
            action: Some(event.action.clone()),
            note: event.note.clone(),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..K8sEvent::default()
        };

        Api::<K8sEvent>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &object)
            .await?;
        tracing::trace!(event = %name, reason = %event.reason, "created event");

        Ok(Seen {
            namespace,
            name,
            count: 1,
            last: now,
        })
    }

    async fn bump(&self, earlier: &Seen, count: i32, now: Timestamp) -> Result<(), kube::Error> {
        let series = EventSeries {
            count,
            last_observed_time: MicroTime(now),
        };
        let patch = json!({ "series": series });

        Api::<K8sEvent>::namespaced(self.client.clone(), &earlier.namespace)
            .patch(
                &earlier.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        tracing::trace!(event = %earlier.name, count, "bumped event series");
        Ok(())
    }

    fn publish_error(
        &self,
        regarding: &ObjectReference,
        event: &Event,
        source: kube::Error,
    ) -> Error {
        Error::PublishEvent {
            reason: event.reason.clone(),
            regarding: format!(
                "{}/{}",
                regarding.kind.as_deref().unwrap_or("object"),
                regarding.name.as_deref().unwrap_or("")
            ),
            source: Box::new(source),
        }
    }
}

/// Drops events last seen before the window, and the oldest beyond the cache limit.
fn forget_old(seen: &mut HashMap<Key, Seen>, now: Timestamp) {
    let window = SignedDuration::try_from(DEDUP_WINDOW).unwrap_or(SignedDuration::MAX);
    seen.retain(|_, entry| now.duration_since(entry.last) < window);

    if seen.len() >= CACHE_LIMIT {
        let mut ages: Vec<Timestamp> = seen.values().map(|entry| entry.last).collect();
        ages.sort_unstable();
        let cutoff = ages[seen.len() - CACHE_LIMIT / 2];
        seen.retain(|_, entry| entry.last >= cutoff);
    }
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        let note = "é".repeat(600);
        let event = Event::warning("SubnetExhausted", "AttachVnic").with_note(note);
        let cut = event.note.unwrap();
        assert!(cut.len() <= NOTE_LIMIT);
        assert_eq!(cut.chars().count(), 512);
    }

    #[test]
    fn old_events_are_forgotten() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut seen = HashMap::new();
        let key = |reason: &str| Key {
            regarding: Regarding {
                name: Some("n".into()),
                ..Regarding::default()
            },
            event: Event::normal(reason, "Sync"),
        };
        let entry = |last| Seen {
            namespace: "default".into(),
            name: "e".into(),
            count: 1,
            last,
        };
        seen.insert(key("Old"), entry(t0));
        seen.insert(key("New"), entry(t0 + SignedDuration::from_mins(5)));

        forget_old(&mut seen, t0 + SignedDuration::from_mins(7));
        assert!(!seen.contains_key(&key("Old")));
        assert!(seen.contains_key(&key("New")));
    }
}
