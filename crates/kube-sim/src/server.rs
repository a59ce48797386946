//! The HTTP face of the store: Kubernetes REST paths, discovery, watch streams, Status
//! errors and bearer-token authentication, on axum.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::control::Control;
use crate::resource::{ResourceType, Subresource};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{
    ApiError, DeleteOptions, EventType, PatchBody, Propagation, Selection, Store, Verb, WatchEvent,
};

/// What the router needs.
#[derive(Clone)]
pub(crate) struct ServerState {
    pub(crate) store: Store,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) bookmark_interval: Duration,
    pub(crate) address: String,
    pub(crate) control: Control,
}

/// The whole API as one router (every path goes through [`handle`]).
pub(crate) fn router(state: ServerState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<ServerState>, request: Request) -> Response {
    let latency = state.store.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    if let Some(token) = &state.token {
        let expected = format!("Bearer {token}");
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if presented != Some(expected.as_str()) {
            return error(&ApiError::new(401, "Unauthorized", "Unauthorized"));
        }
    }

    let (parts, body) = request.into_parts();
    let query: BTreeMap<String, String> = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|Query(pairs)| pairs.into_iter().collect())
        .unwrap_or_default();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(body) => body,
        Err(_) => return error(&ApiError::bad_request("the request body could not be read")),
    };
    let segments: Vec<&str> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();

    if let ["kube-sim", "v1", rest @ ..] = segments.as_slice() {
        return match state.control.serve(&parts.method, rest, &body).await {
            Ok(answer) => json_response(StatusCode::OK, &answer),
            Err(err) => error(&err),
        };
    }

    match discovery(&state, &segments) {
        Some(document) if parts.method == Method::GET => json_response(StatusCode::OK, &document),
        Some(_) => error(&ApiError::new(
            405,
            "MethodNotAllowed",
            "only GET is served here",
        )),
        None => match resource_request(
            &state,
            &parts.method,
            &parts.headers,
            &segments,
            &query,
            body,
        ) {
            Ok(response) => response,
            Err(err) => error(&err),
        },
    }
}

/// A parsed resource path.
struct Target<'a> {
    rt: Arc<ResourceType>,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    subresource: Subresource,
}

fn resource_request(
    state: &ServerState,
    method: &Method,
    headers: &HeaderMap,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = parse_target(&state.store, segments)?;
    let store = &state.store;
    let rt = target.rt.clone();
    let param = |key: &str| query.get(key).map(String::as_str).filter(|v| !v.is_empty());

    match (method, target.name) {
        (&Method::GET, Some(name)) => {
            store.count(Verb::Get, &rt);
            let object = store.get(&rt, target.namespace, name)?;
            Ok(json_response(StatusCode::OK, &object))
        }
        (&Method::GET, None) if matches!(param("watch"), Some("true" | "1")) => {
            store.count(Verb::Watch, &rt);
            watch(state, rt, &target, query)
        }
        (&Method::GET, None) => {
            store.count(Verb::List, &rt);
            let selection = selection(&target, query)?;
            let limit = param("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|l| *l > 0);
            if param("resourceVersionMatch") == Some("Exact") {
                let wanted = param("resourceVersion").unwrap_or("");
                if wanted != store.resource_version().to_string() {
                    return Err(ApiError::gone(format!(
                        "resourceVersion {wanted} cannot be served exactly: kube-sim keeps no \
                         older list snapshots"
                    )));
                }
            }
            let page = store.list(&rt, &selection, limit, param("continue"))?;
            let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
            if let Some(token) = page.continue_token {
                metadata["continue"] = json!(token);
            }
            let list = json!({
                "kind": format!("{}List", rt.kind),
                "apiVersion": rt.api_version(),
                "metadata": metadata,
                "items": page.items,
            });
            Ok(json_response(StatusCode::OK, &list))
        }
        (&Method::POST, None) => {
            store.count(Verb::Create, &rt);
            let object = parse_json(&body)?;
            let created = store.create(&rt, target.namespace, object)?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (&Method::PUT, Some(name)) => {
            store.count(Verb::Update, &rt);
            let object = parse_json(&body)?;
            let updated = store.update(&rt, target.namespace, name, object, target.subresource)?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        (&Method::PATCH, Some(name)) => {
            store.count(Verb::Patch, &rt);
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim();
            let patch = match content_type {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    PatchBody::Merge(parse_json(&body)?)
                }
                "application/json-patch+json" => PatchBody::Json(parse_json(&body)?),
                "application/apply-patch+yaml" | "application/apply-patch+json" => {
                    PatchBody::Apply(parse_yaml(&body)?)
                }
                other => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!(
                            "the body of the request was in an unknown format - accepted \
                                 media types include: application/json-patch+json, \
                                 application/merge-patch+json, application/apply-patch+yaml \
                                 (got {other:?})"
                        ),
                    ));
                }
            };
            let patched = store.patch(&rt, target.namespace, name, &patch, target.subresource)?;
            Ok(json_response(StatusCode::OK, &patched))
        }
        (&Method::DELETE, name) => {
            store.count(Verb::Delete, &rt);
            let options: Value = if body.is_empty() {
                json!({})
            } else {
                parse_json(&body)?
            };
            let policy = param("propagationPolicy")
                .or_else(|| options.get("propagationPolicy").and_then(Value::as_str));
            let propagation = match policy {
                Some("Orphan") => Propagation::Orphan,
                _ => Propagation::Background,
            };
            let uid = options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str);
            let resource_version = options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str);
            let options = DeleteOptions {
                uid,
                resource_version,
                propagation,
            };

            match name {
                Some(name) => {
                    let deleted = store.delete(&rt, target.namespace, name, options)?;
                    Ok(json_response(StatusCode::OK, &deleted))
                }
                None => {
                    let selection = selection(&target, query)?;
                    let page = store.list(&rt, &selection, None, None)?;
                    let mut items = Vec::new();
                    for item in page.items {
                        let namespace = item.pointer("/metadata/namespace").and_then(Value::as_str);
                        let name = item.pointer("/metadata/name").and_then(Value::as_str);
                        if let Some(name) = name {
                            let options = DeleteOptions {
                                uid: None,
                                resource_version: None,
                                propagation,
                            };
                            if let Ok(deleted) = store.delete(&rt, namespace, name, options) {
                                items.push(deleted);
                            }
                        }
                    }
                    let list = json!({
                        "kind": format!("{}List", rt.kind),
                        "apiVersion": rt.api_version(),
                        "metadata": {"resourceVersion": store.resource_version().to_string()},
                        "items": items,
                    });
                    Ok(json_response(StatusCode::OK, &list))
                }
            }
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )),
    }
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` resource paths.
fn parse_target<'a>(store: &Store, segments: &[&'a str]) -> Result<Target<'a>, ApiError> {
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };

    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
        rest => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, Subresource::Main),
        [plural, name] => (*plural, Some(*name), Subresource::Main),
        [plural, name, "status"] => (*plural, Some(*name), Subresource::Status),
        _ => return Err(not_found()),
    };

    let rt = store.find_type(group, version, plural)?;
    if namespace.is_some() && !rt.namespaced() {
        return Err(not_found());
    }
    if namespace.is_none() && rt.namespaced() && name.is_some() {
        return Err(not_found());
    }
    Ok(Target {
        rt,
        namespace,
        name,
        subresource,
    })
}

fn selection(target: &Target<'_>, query: &BTreeMap<String, String>) -> Result<Selection, ApiError> {
    let mut selection = Selection {
        namespace: target.namespace.map(str::to_owned),
        ..Selection::default()
    };
    if let Some(text) = query.get("labelSelector") {
        selection.labels = LabelSelector::parse(text).map_err(ApiError::bad_request)?;
    }
    if let Some(text) = query.get("fieldSelector") {
        selection.fields = FieldSelector::parse(text).map_err(ApiError::bad_request)?;
    }
    Ok(selection)
}

fn watch(
    state: &ServerState,
    rt: Arc<ResourceType>,
    target: &Target<'_>,
    query: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let selection = selection(target, query)?;
    let flag = |key: &str| matches!(query.get(key).map(String::as_str), Some("true" | "1"));
    let send_initial_events = flag("sendInitialEvents");
    let bookmarks = flag("allowWatchBookmarks");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);

    let from = match query.get("resourceVersion").map(String::as_str) {
        _ if send_initial_events => None,
        None | Some("" | "0") => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion {rv:?} is not a valid resource version"
            ))
        })?),
    };

    let (sender, receiver) = mpsc::channel::<Bytes>(256);
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|line| (Ok::<_, Infallible>(line), receiver))
    });

    match state.store.watch(&rt, &selection, from) {
        Ok(start) => {
            let stream = WatchStream {
                rt,
                selection,
                sender,
                bookmarks,
                send_initial_events,
                bookmark_interval: state.bookmark_interval,
                timeout,
            };
            tokio::spawn(stream.run(start.replay, start.resource_version, start.live));
        }
        Err(err) => {
            // A real server answers 200 and then one ERROR event (410 Expired).
            let line = event_line("ERROR", &err.to_status());
            tokio::spawn(async move {
                let _ = sender.send(line).await;
            });
        }
    }

    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .map_err(|_| ApiError::new(500, "InternalError", "failed to build the watch response"))
}

struct WatchStream {
    rt: Arc<ResourceType>,
    selection: Selection,
    sender: mpsc::Sender<Bytes>,
    bookmarks: bool,
    send_initial_events: bool,
    bookmark_interval: Duration,
    timeout: Duration,
}

impl WatchStream {
    async fn run(
        self,
        replay: Vec<Arc<WatchEvent>>,
        start_rv: u64,
        mut live: broadcast::Receiver<Arc<WatchEvent>>,
    ) {
        let key = self.rt.storage_key();

        for event in &replay {
            if let Some(line) = self.render(event)
                && self.sender.send(line).await.is_err()
            {
                return;
            }
        }
        if self.send_initial_events {
            let line = self.bookmark(start_rv, true);
            if self.sender.send(line).await.is_err() {
                return;
            }
        }

        let mut last_rv = start_rv;
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(self.bookmark_interval);
        ticker.tick().await;

        loop {
            let line = tokio::select! {
                () = &mut deadline => return,
                () = self.sender.closed() => return,
                _ = ticker.tick(), if self.bookmarks => Some(self.bookmark(last_rv, false)),
                received = live.recv() => match received {
                    Ok(event) => {
                        last_rv = event.resource_version;
                        if event.resource == key { self.render(&event) } else { None }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let err = ApiError::gone("the watch fell behind; start a new watch");
                        let _ = self.sender.send(event_line("ERROR", &err.to_status())).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if let Some(line) = line
                && self.sender.send(line).await.is_err()
            {
                return;
            }
        }
    }

    /// The line for `event` as this watch sees it: selector transitions turn MODIFIED into
    /// ADDED (now selected) or DELETED (no longer selected).
    fn render(&self, event: &WatchEvent) -> Option<Bytes> {
        let now = self.selection.matches(&event.object);
        let kind = match event.kind {
            EventType::Added | EventType::Deleted => now.then_some(event.kind),
            EventType::Modified => {
                let before = event
                    .previous
                    .as_ref()
                    .is_none_or(|p| self.selection.matches(p));
                match (before, now) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        }?;
        let mut object = event.object.clone();
        object["apiVersion"] = json!(self.rt.api_version());
        Some(event_line(kind.as_str(), &object))
    }

    fn bookmark(&self, resource_version: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version(),
            "metadata": metadata,
        });
        event_line("BOOKMARK", &object)
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// Discovery documents (`/version`, `/api`, `/apis`, group and group-version lists).
fn discovery(state: &ServerState, segments: &[&str]) -> Option<Value> {
    let types = state.store.types();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rt in types.iter().filter(|rt| !rt.group.is_empty()) {
        let versions = groups.entry(rt.group.clone()).or_default();
        if !versions.contains(&rt.version) {
            versions.push(rt.version.clone());
        }
    }
    let group_doc = |name: &str, versions: &[String]| {
        let entries: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
            .collect();
        json!({"name": name, "versions": entries, "preferredVersion": entries.first()})
    };
    let resource_list = |group: &str, version: &str| {
        let resources: Vec<Value> = types
            .iter()
            .filter(|rt| rt.group == group && rt.version == version)
            .flat_map(|rt| rt.discovery())
            .collect();
        let group_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        (!resources.is_empty()).then(|| {
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                   "resources": resources})
        })
    };

    match segments {
        ["version"] => Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-sim",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
            "platform": "linux/amd64",
        })),
        ["api"] => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": state.address}],
        })),
        ["apis"] => Some(json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": groups.iter().map(|(name, versions)| group_doc(name, versions))
                .collect::<Vec<_>>(),
        })),
        ["apis", group] => groups.get(*group).map(|versions| {
            let mut doc = group_doc(group, versions);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            doc
        }),
        ["api", "v1"] => resource_list("", "v1"),
        ["apis", group, version] => resource_list(group, version),
        _ => None,
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("the request body is not valid JSON: {err}")))
}

fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    parse_json(body).or_else(|_| {
        serde_yaml::from_slice(body).map_err(|err| {
            ApiError::bad_request(format!("the request body is not valid YAML: {err}"))
        })
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &err.to_status())
}
