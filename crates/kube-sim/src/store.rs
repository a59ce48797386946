//! The object store behind the API server: objects, resource versions, the watch history,
//! owner-reference garbage collection, request counters and fault injection.
//!
//! Every write takes one lock, bumps the global resource version, appends a [`WatchEvent`] to
//! a bounded history and broadcasts it. A watch replays the history after its starting
//! resource version; a starting version older than the history (after [`Store::compact`]) is
//! answered with 410 Gone, as etcd compaction makes a real server do.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::clock;
use crate::patch;
use crate::resource::{self, ResourceType, Subresource};
use crate::selector::{FieldSelector, LabelSelector};

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// The wire name (`ADDED`, `MODIFIED`, `DELETED`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change in the store's history.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WatchEvent {
    /// Resource version of the change.
    pub resource_version: u64,
    /// Storage key of the resource (`ciliumnodes.cilium.io`, `nodes`).
    pub resource: String,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (before it, for `Deleted`).
    pub object: Value,
    /// The object before the change (`Modified` only), to compute selector transitions.
    pub previous: Option<Value>,
}

/// The request verbs counted by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// An API error, turned into a `Status` body by the server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({reason}, HTTP {code})")]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Kubernetes reason (`NotFound`, `Conflict`, `Invalid`, `Expired`...).
    pub reason: &'static str,
    /// Human message.
    pub message: String,
    /// `details` of the Status (name, group, kind, causes), if any.
    pub details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    fn with_details(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
        self
    }

    fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(rt)),
        )
        .with_details(rt, name)
    }

    fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                qualified(rt)
            ),
        )
        .with_details(rt, name)
    }

    /// The Status object a server returns for this error.
    #[must_use]
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// Which objects a list or watch selects.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Selection {
    /// Only this namespace (namespaced resources); `None` for all.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Selection {
    /// Whether `object` is selected.
    #[must_use]
    pub fn matches(&self, object: &Value) -> bool {
        let namespace_ok = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        namespace_ok && self.labels.matches(object) && self.fields.matches(object)
    }
}

/// A page of a list.
#[derive(Debug, Clone)]
pub(crate) struct ListPage {
    pub(crate) items: Vec<Value>,
    pub(crate) resource_version: u64,
    pub(crate) continue_token: Option<String>,
}

/// What a watch starts with: events to replay, then the live channel.
pub(crate) struct WatchStart {
    pub(crate) replay: Vec<Arc<WatchEvent>>,
    pub(crate) resource_version: u64,
    pub(crate) live: broadcast::Receiver<Arc<WatchEvent>>,
}

/// How a delete treats dependents (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Propagation {
    /// Delete dependents whose owners are all gone (the default). `Foreground` is served as
    /// this too: the owner does not wait for its dependents.
    Background,
    /// Remove the owner reference from dependents and keep them.
    Orphan,
}

/// Preconditions and policy of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeleteOptions<'a> {
    pub(crate) uid: Option<&'a str>,
    pub(crate) resource_version: Option<&'a str>,
    pub(crate) propagation: Propagation,
}

/// The object store. Cheap to clone (shared).
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<WatchEvent>>,
}

struct Inner {
    resource_version: u64,
    /// storage key → (namespace, name) → object.
    objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    history: VecDeque<Arc<WatchEvent>>,
    /// Events with a resource version at or below this one are gone from the history.
    compacted: u64,
    history_limit: usize,
    /// (group, version, plural) → type.
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
    counters: BTreeMap<(Verb, String), u64>,
    conflicts_to_inject: BTreeMap<String, u32>,
    latency: Duration,
}

impl Store {
    /// An empty store serving the built-in resources; `history_limit` bounds the number of
    /// watch events kept (older ones are compacted away automatically).
    #[must_use]
    pub fn new(history_limit: usize) -> Self {
        let (events, _) = broadcast::channel(16_384);
        let mut inner = Inner {
            resource_version: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            history_limit: history_limit.max(1),
            types: BTreeMap::new(),
            counters: BTreeMap::new(),
            conflicts_to_inject: BTreeMap::new(),
            latency: Duration::ZERO,
        };
        for rt in resource::builtins() {
            inner.register(rt);
        }
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(inner),
                events,
            }),
        }
    }

    /// Registers a CustomResourceDefinition (JSON) by creating it as an object, exactly as
    /// `kubectl apply` of the CRD would; its served versions become available at once.
    pub fn register_crd(&self, crd: Value) -> Result<Value, ApiError> {
        let rt = self.find_type("apiextensions.k8s.io", "v1", "customresourcedefinitions")?;
        self.create(&rt, None, crd)
    }

    /// The type served at (group, version, plural).
    pub fn find_type(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Result<Arc<ResourceType>, ApiError> {
        let inner = self.lock();
        inner
            .types
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    format!(
                        "the server could not find the requested resource \
                         ({plural}.{group}/{version})"
                    ),
                )
            })
    }

    /// Every served type, in (group, version, plural) order.
    #[must_use]
    pub fn types(&self) -> Vec<Arc<ResourceType>> {
        self.lock().types.values().cloned().collect()
    }

    /// The current (latest) resource version.
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Drops the whole watch history: a watch or continue token from an older resource version
    /// now gets 410 Gone.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.compacted = inner.resource_version;
    }

    /// Makes the next `count` writes (update, patch, status) to `plural` fail with 409.
    pub fn inject_conflicts(&self, plural: &str, count: u32) {
        self.lock()
            .conflicts_to_inject
            .insert(plural.to_owned(), count);
    }

    /// Delays every request by `latency` before it is served.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The configured request latency.
    #[must_use]
    pub fn latency(&self) -> Duration {
        self.lock().latency
    }

    /// How many requests of `verb` on resources named `plural` were served (errors included).
    #[must_use]
    pub fn request_count(&self, verb: Verb, plural: &str) -> u64 {
        self.lock()
            .counters
            .get(&(verb, plural.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every counter: (verb, plural) → requests.
    #[must_use]
    pub fn request_counts(&self) -> BTreeMap<(Verb, String), u64> {
        self.lock().counters.clone()
    }

    /// Reads one object directly (no counter), by storage key (`nodes`,
    /// `ciliumnodes.cilium.io`), namespace (`""` for cluster scope) and name.
    #[must_use]
    pub fn object(&self, storage_key: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(storage_key)
            .and_then(|objects| objects.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
    }

    /// Every object of a storage key, in (namespace, name) order.
    #[must_use]
    pub fn objects(&self, storage_key: &str) -> Vec<Value> {
        self.lock()
            .objects
            .get(storage_key)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn count(&self, verb: Verb, rt: &ResourceType) {
        *self
            .lock()
            .counters
            .entry((verb, rt.plural.clone()))
            .or_insert(0) += 1;
    }

    /// GET one object.
    pub fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let inner = self.lock();
        inner
            .lookup(rt, namespace, name)
            .map(|object| with_type(object.clone(), rt))
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    pub(crate) fn list(
        &self,
        rt: &ResourceType,
        selection: &Selection,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let inner = self.lock();

        let (list_rv, after) = match continue_token {
            Some(token) => {
                let (rv, after) = decode_continue(token)?;
                if rv < inner.compacted {
                    return Err(ApiError::gone(
                        "The provided continue parameter is too old to display a consistent \
                         list result. You can start a new list without the continue parameter.",
                    ));
                }
                (rv, Some(after))
            }
            None => (inner.resource_version, None),
        };

        let mut items = Vec::new();
        let mut next = None;
        if let Some(objects) = inner.objects.get(&rt.storage_key()) {
            for ((namespace, name), object) in objects {
                let key = format!("{namespace}/{name}");
                if after.as_ref().is_some_and(|after| key <= *after) || !selection.matches(object) {
                    continue;
                }
                if limit.is_some_and(|limit| items.len() >= limit) {
                    next = items.last().map(|last: &Value| object_key(last));
                    break;
                }
                items.push(with_type(object.clone(), rt));
            }
        }

        Ok(ListPage {
            items,
            resource_version: list_rv,
            continue_token: next.map(|after| encode_continue(list_rv, &after)),
        })
    }

    /// Starts a watch: `from` is the resource version after which events are replayed, or
    /// `None` to begin with synthetic ADDED events for every current object.
    pub(crate) fn watch(
        &self,
        rt: &ResourceType,
        selection: &Selection,
        from: Option<u64>,
    ) -> Result<WatchStart, ApiError> {
        let inner = self.lock();
        let live = self.shared.events.subscribe();
        let key = rt.storage_key();

        let replay = match from {
            Some(rv) if rv < inner.compacted => {
                return Err(ApiError::gone(format!(
                    "too old resource version: {rv} ({})",
                    inner.compacted + 1
                )));
            }
            Some(rv) => inner
                .history
                .iter()
                .filter(|event| event.resource_version > rv && event.resource == key)
                .cloned()
                .collect(),
            None => inner
                .objects
                .get(&key)
                .into_iter()
                .flat_map(|objects| objects.values())
                .filter(|object| selection.matches(object))
                .map(|object| {
                    Arc::new(WatchEvent {
                        resource_version: inner.resource_version,
                        resource: key.clone(),
                        kind: EventType::Added,
                        object: object.clone(),
                        previous: None,
                    })
                })
                .collect(),
        };

        Ok(WatchStart {
            replay,
            resource_version: inner.resource_version,
            live,
        })
    }

    /// POST: creates an object.
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        mut object: Value,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();

        check_type(rt, &mut object)?;
        let namespace = check_namespace(rt, namespace, &object)?;
        let name = match object.pointer("/metadata/name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => match object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
            {
                Some(prefix) => format!("{prefix}{:05x}", inner.resource_version + 1),
                None => {
                    return Err(invalid(
                        rt,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        check_name(rt, &name)?;
        if inner.lookup(rt, Some(&namespace), &name).is_some() {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(rt)),
            )
            .with_details(rt, &name));
        }

        if rt.status_subresource && rt.schema.is_some() {
            // Custom resources with a status subresource ignore status on create.
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
        }
        prune_and_validate(rt, &mut object, &name)?;
        let crd_types = if rt.kind == "CustomResourceDefinition" {
            Some(crd_types(rt, &mut object, &name)?)
        } else {
            None
        };

        let rv = inner.resource_version + 1;
        if let Some(metadata) = metadata_mut(&mut object) {
            metadata.insert("name".into(), json!(name));
            if rt.namespaced() {
                metadata.insert("namespace".into(), json!(namespace));
            }
            metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            metadata.insert("creationTimestamp".into(), json!(clock::now_rfc3339()));
            metadata.insert("resourceVersion".into(), json!(rv.to_string()));
            metadata.insert("generation".into(), json!(1));
            metadata.remove("deletionTimestamp");
            metadata.remove("managedFields");
        }

        if let Some(types) = crd_types {
            for rt in types {
                inner.register(rt);
            }
        }
        let stored = inner.commit(self, rt, &namespace, &name, Some(object), EventType::Added);
        Ok(with_type(stored, rt))
    }

    /// PUT: replaces an object (or its status), with optimistic concurrency when the body
    /// carries `metadata.resourceVersion`.
    pub fn update(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
        subresource: Subresource,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();

        check_type(rt, &mut object)?;
        let body_name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(name);
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let current = inner
            .lookup(rt, namespace, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        inner.take_injected_conflict(rt, name)?;

        match object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            Some(rv) if rv != current_rv(&current) => return Err(ApiError::conflict(rt, name)),
            Some(_) => {}
            None if rt.schema.is_some() => {
                return Err(invalid(
                    rt,
                    name,
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                ));
            }
            None => {}
        }

        let updated = self.write(&mut inner, rt, name, current, object, subresource)?;
        Ok(with_type(updated, rt))
    }

    /// PATCH: applies a merge patch or JSON patch to the stored object (or its status).
    pub fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch: &PatchBody,
        subresource: Subresource,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();

        let current = match inner.lookup(rt, namespace, name).cloned() {
            Some(current) => current,
            None => {
                if let PatchBody::Apply(body) = patch {
                    drop(inner);
                    return self.create(rt, namespace, body.clone());
                }
                return Err(ApiError::not_found(rt, name));
            }
        };
        inner.take_injected_conflict(rt, name)?;

        let mut patched = with_type(current.clone(), rt);
        match patch {
            PatchBody::Merge(body) | PatchBody::Apply(body) => {
                patch::merge_patch(&mut patched, body)
            }
            PatchBody::Json(ops) => {
                patched = patch::json_patch(&patched, ops).map_err(|message| {
                    let code = if message.contains("test failed") {
                        422
                    } else {
                        400
                    };
                    let reason = if code == 422 { "Invalid" } else { "BadRequest" };
                    let message = format!(
                        "the server rejected our request due to an error in our request: \
                         {message}"
                    );
                    ApiError::new(code, reason, message)
                })?;
            }
        }

        // A resourceVersion left in the patched object is a precondition.
        if current_rv(&patched) != current_rv(&current) {
            return Err(ApiError::conflict(rt, name));
        }
        let updated = self.write(&mut inner, rt, name, current, patched, subresource)?;
        Ok(with_type(updated, rt))
    }

    /// DELETE: removes an object (or marks it for deletion while finalizers remain) and
    /// garbage-collects its dependents.
    pub(crate) fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        options: DeleteOptions<'_>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();

        let current = inner
            .lookup(rt, namespace, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if options.uid.is_some_and(|uid| {
            Some(uid) != current.pointer("/metadata/uid").and_then(Value::as_str)
        }) {
            return Err(ApiError::conflict(rt, name));
        }
        if options
            .resource_version
            .is_some_and(|rv| rv != current_rv(&current))
        {
            return Err(ApiError::conflict(rt, name));
        }

        let result = inner.delete_object(self, rt, current, options.propagation);
        Ok(with_type(result, rt))
    }

    /// Deletes an object by storage key directly (test helper; same semantics as DELETE).
    pub fn delete_direct(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let rt = self.find_type(group, version, plural)?;
        self.delete(
            &rt,
            namespace,
            name,
            DeleteOptions {
                uid: None,
                resource_version: None,
                propagation: Propagation::Background,
            },
        )
    }

    /// Shared write path of update and patch.
    fn write(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        name: &str,
        current: Value,
        mut object: Value,
        subresource: Subresource,
    ) -> Result<Value, ApiError> {
        let namespace = current
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();

        if rt.status_subresource {
            match subresource {
                Subresource::Status => {
                    // Only the status stanza changes; everything else is the stored object.
                    let status = object.get("status").cloned();
                    object = current.clone();
                    match status {
                        Some(status) => object["status"] = status,
                        None => {
                            if let Some(map) = object.as_object_mut() {
                                map.remove("status");
                            }
                        }
                    }
                }
                Subresource::Main => match current.get("status") {
                    Some(status) => object["status"] = status.clone(),
                    None => {
                        if let Some(map) = object.as_object_mut() {
                            map.remove("status");
                        }
                    }
                },
            }
        } else if subresource == Subresource::Status {
            return Err(ApiError::not_found(rt, name));
        }

        prune_and_validate(rt, &mut object, name)?;
        let crd_types = if rt.kind == "CustomResourceDefinition" {
            Some(crd_types(rt, &mut object, name)?)
        } else {
            None
        };

        // Server-owned metadata comes from the stored object.
        let current_meta = current
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(metadata) = metadata_mut(&mut object) {
            for key in SERVER_OWNED_METADATA {
                match current_meta.get(key) {
                    Some(value) => metadata.insert(key.into(), value.clone()),
                    None => metadata.remove(key),
                };
            }
            metadata.remove("managedFields");
        }

        if strip_server_fields(&object) == strip_server_fields(&with_type(current.clone(), rt)) {
            return Ok(current);
        }

        if spec_changed(rt, &current, &object) {
            let generation = current_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            set_meta(&mut object, "generation", json!(generation + 1));
        }

        if let Some(types) = crd_types {
            for rt in types {
                inner.register(rt);
            }
        }

        let deleting = object.pointer("/metadata/deletionTimestamp").is_some();
        let finalizers_left = object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if deleting && !finalizers_left {
            // The last finalizer is gone: the object goes now.
            return Ok(inner.delete_object(self, rt, object, Propagation::Background));
        }
        Ok(inner.commit(
            self,
            rt,
            &namespace,
            name,
            Some(object),
            EventType::Modified,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-written (every write
        // computes the new object first), so a poisoned lock is still usable.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A PATCH body by content type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PatchBody {
    /// `application/merge-patch+json` (and `strategic-merge-patch+json`, served as merge).
    Merge(Value),
    /// `application/json-patch+json`.
    Json(Value),
    /// `application/apply-patch+yaml`: served as a merge patch that creates a missing object;
    /// field ownership (managedFields) is not tracked.
    Apply(Value),
}

impl Inner {
    fn register(&mut self, rt: ResourceType) {
        self.types.insert(
            (rt.group.clone(), rt.version.clone(), rt.plural.clone()),
            Arc::new(rt),
        );
    }

    fn lookup(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Option<&Value> {
        let namespace = if rt.namespaced() {
            namespace.unwrap_or("")
        } else {
            ""
        };
        self.objects
            .get(&rt.storage_key())?
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    fn take_injected_conflict(&mut self, rt: &ResourceType, name: &str) -> Result<(), ApiError> {
        if let Some(left) = self.conflicts_to_inject.get_mut(&rt.plural)
            && *left > 0
        {
            *left -= 1;
            return Err(ApiError::conflict(rt, name));
        }
        Ok(())
    }

    /// Stores (or removes, for `None`) an object at a new resource version and emits the
    /// event; returns the stored object.
    fn commit(
        &mut self,
        store: &Store,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        object: Option<Value>,
        kind: EventType,
    ) -> Value {
        self.resource_version += 1;
        let rv = self.resource_version;
        let key = rt.storage_key();
        let objects = self.objects.entry(key.clone()).or_default();
        let slot = (namespace.to_owned(), name.to_owned());

        let (event_object, previous, stored) = match object {
            Some(mut object) => {
                set_meta(&mut object, "resourceVersion", json!(rv.to_string()));
                let previous = objects.insert(slot, object.clone());
                (object.clone(), previous, object)
            }
            None => {
                let mut removed = objects.remove(&slot).unwrap_or(Value::Null);
                if removed.is_object() {
                    set_meta(&mut removed, "resourceVersion", json!(rv.to_string()));
                }
                (removed.clone(), None, removed)
            }
        };

        let event = Arc::new(WatchEvent {
            resource_version: rv,
            resource: key,
            kind,
            object: with_type(event_object, rt),
            previous: previous.filter(|_| kind == EventType::Modified),
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.resource_version;
            }
        }
        // Nobody listening is fine.
        let _ = store.shared.events.send(event);
        stored
    }

    /// Deletes `object` (or marks it, with finalizers) and collects its dependents.
    fn delete_object(
        &mut self,
        store: &Store,
        rt: &ResourceType,
        mut object: Value,
        propagation: Propagation,
    ) -> Value {
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let has_finalizers = object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());

        if has_finalizers {
            if object.pointer("/metadata/deletionTimestamp").is_some() {
                return object;
            }
            set_meta(
                &mut object,
                "deletionTimestamp",
                json!(clock::now_rfc3339()),
            );
            set_meta(&mut object, "deletionGracePeriodSeconds", json!(0));
            return self.commit(
                store,
                rt,
                &namespace,
                &name,
                Some(object),
                EventType::Modified,
            );
        }

        let removed = self.commit(store, rt, &namespace, &name, None, EventType::Deleted);
        if rt.kind == "CustomResourceDefinition"
            && let Ok(types) = resource::from_crd(&removed)
        {
            for gone in types {
                self.types.remove(&(gone.group, gone.version, gone.plural));
            }
        }
        if let Some(uid) = removed.pointer("/metadata/uid").and_then(Value::as_str) {
            self.collect_dependents(store, uid, propagation);
        }
        removed
    }

    /// Garbage collection: drops references to the deleted owner `uid`; a dependent left
    /// without owners is deleted (Background) or kept (Orphan).
    fn collect_dependents(&mut self, store: &Store, uid: &str, propagation: Propagation) {
        let mut dependents = Vec::new();
        for (key, objects) in &self.objects {
            for object in objects.values() {
                let owned = object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                    });
                if owned {
                    dependents.push((key.clone(), object.clone()));
                }
            }
        }

        for (key, mut object) in dependents {
            let Some(rt) = self
                .types
                .values()
                .find(|rt| rt.storage_key() == key)
                .cloned()
            else {
                continue;
            };
            let namespace = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut refs = object
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));

            if refs.is_empty() && propagation == Propagation::Background {
                tracing::debug!(resource = %key, name = %name, "garbage-collecting dependent");
                self.delete_object(store, &rt, object, Propagation::Background);
                continue;
            }
            if let Some(metadata) = metadata_mut(&mut object) {
                if refs.is_empty() {
                    metadata.remove("ownerReferences");
                } else {
                    metadata.insert("ownerReferences".into(), Value::Array(refs));
                }
            }
            self.commit(
                store,
                &rt,
                &namespace,
                &name,
                Some(object),
                EventType::Modified,
            );
        }
    }
}

/// Metadata the server owns: a write cannot change it.
const SERVER_OWNED_METADATA: [&str; 7] = [
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "resourceVersion",
];

fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.plural.clone()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    }
}

fn invalid(rt: &ResourceType, name: &str, causes: &str) -> ApiError {
    let kind = if rt.group.is_empty() {
        rt.kind.clone()
    } else {
        format!("{}.{}", rt.kind, rt.group)
    };
    ApiError::new(
        422,
        "Invalid",
        format!("{kind} \"{name}\" is invalid: {causes}"),
    )
    .with_details(rt, name)
}

fn prune_and_validate(rt: &ResourceType, object: &mut Value, name: &str) -> Result<(), ApiError> {
    let Some(schema) = &rt.schema else {
        return Ok(());
    };
    let errors = schema.prune_and_validate(object);
    if errors.is_empty() {
        return Ok(());
    }

    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let joined = if texts.len() == 1 {
        texts[0].clone()
    } else {
        format!("[{}]", texts.join(", "))
    };
    let kind = if rt.group.is_empty() {
        rt.kind.clone()
    } else {
        format!("{}.{}", rt.kind, rt.group)
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| json!({"reason": e.reason, "message": e.detail, "field": e.field}))
        .collect();
    Err(ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("{kind} \"{name}\" is invalid: {joined}"),
        details: Some(json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes})),
    })
}

/// Parses a CRD being written and marks it Established, returning its served types.
fn crd_types(
    rt: &ResourceType,
    object: &mut Value,
    name: &str,
) -> Result<Vec<ResourceType>, ApiError> {
    let types = resource::from_crd(object).map_err(|cause| invalid(rt, name, &cause))?;
    let names = object
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let now = clock::now_rfc3339();
    object["status"] = json!({
        "acceptedNames": names,
        "storedVersions": types.iter().map(|t| t.version.clone()).collect::<Vec<_>>(),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
    });
    Ok(types)
}

fn check_type(rt: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    let Some(map) = object.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    if let Some(kind) = map.get("kind").and_then(Value::as_str)
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "kind {kind} does not match the URL's {}",
            rt.kind
        )));
    }
    map.insert("kind".into(), json!(rt.kind));
    map.insert("apiVersion".into(), json!(rt.api_version()));
    if !map.get("metadata").is_some_and(Value::is_object) {
        map.insert("metadata".into(), json!({}));
    }
    Ok(())
}

fn check_namespace(
    rt: &ResourceType,
    path: Option<&str>,
    object: &Value,
) -> Result<String, ApiError> {
    if !rt.namespaced() {
        return Ok(String::new());
    }
    let body = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    match (path, body) {
        (Some(path), Some(body)) if path != body => Err(ApiError::bad_request(format!(
            "the namespace of the provided object ({body}) does not match the namespace sent \
             on the request ({path})"
        ))),
        (Some(ns), _) | (None, Some(ns)) => Ok(ns.to_owned()),
        (None, None) => Err(ApiError::bad_request(
            "a namespace is required for a namespaced resource",
        )),
    }
}

fn check_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            rt,
            name,
            &format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must \
                 consist of lower case alphanumeric characters, '-' or '.', and must start and \
                 end with an alphanumeric character"
            ),
        ))
    }
}

/// The object's `metadata` map, created when missing (every stored object is a JSON object,
/// so this is `None` only for non-object values).
fn metadata_mut(object: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    let map = object.as_object_mut()?;
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    metadata.as_object_mut()
}

fn set_meta(object: &mut Value, key: &str, value: Value) {
    if let Some(metadata) = metadata_mut(object) {
        metadata.insert(key.to_owned(), value);
    }
}

fn current_rv(object: &Value) -> &str {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn object_key(object: &Value) -> String {
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("{namespace}/{name}")
}

/// Adds `apiVersion` and `kind` of the served version.
fn with_type(mut object: Value, rt: &ResourceType) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(rt.api_version()));
        map.insert("kind".into(), json!(rt.kind));
    }
    object
}

fn strip_server_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
    copy
}

/// Whether anything but metadata (and status, with a status subresource) changed.
fn spec_changed(rt: &ResourceType, old: &Value, new: &Value) -> bool {
    let strip = |object: &Value| {
        let mut copy = object.clone();
        if let Some(map) = copy.as_object_mut() {
            map.remove("metadata");
            map.remove("apiVersion");
            map.remove("kind");
            if rt.status_subresource {
                map.remove("status");
            }
        }
        copy
    };
    strip(old) != strip(new)
}

fn encode_continue(rv: u64, after: &str) -> String {
    use base64::Engine as _;
    let token = json!({"rv": rv, "after": after}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
}

fn decode_continue(token: &str) -> Result<(u64, String), ApiError> {
    use base64::Engine as _;
    let bad = || ApiError::bad_request(format!("continue token {token:?} is not valid"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rv = value.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let after = value
        .get("after")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_owned();
    Ok((rv, after))
}
