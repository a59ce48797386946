//! Watch-fed caches (kube-runtime reflectors) of the objects the operator follows.
//!
//! Each function returns a [`Watch`]: a [`Store`] that mirrors the API server, and the event
//! stream that fills it. The store fills only while the stream is polled; drive the stream
//! (in a task, or as a controller's input) and read the store anywhere. Watches restart with
//! kube-runtime's default backoff after errors, relisting on 410 Gone.
//!
//! Cached objects drop `metadata.managedFields`, and Nodes also drop their image and volume
//! lists, which oci-ipam never reads and which dominate a Node's size.

use std::fmt::Debug;
use std::hash::Hash;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::cilium::CiliumNode;
use crate::crd::OciNetworkNode;

/// A cache of `K` and the watch stream that keeps it current.
///
/// ```no_run
/// use futures::StreamExt;
/// use kube::runtime::WatchStreamExt;
///
/// # async fn run(client: kube::Client) {
/// let cilium_nodes = k8s_glue::watch::cilium_nodes(client);
/// let store = cilium_nodes.store.clone();
///
/// // Drive the watch; here each changed CiliumNode is printed.
/// tokio::spawn(cilium_nodes.events.applied_objects().for_each(|node| async move {
///     if let Ok(node) = node {
///         println!("{} has {} pool addresses", kube::ResourceExt::name_any(&node), node.spec.ipam.pool.len());
///     }
/// }));
///
/// store.wait_until_ready().await.ok();
/// println!("{} CiliumNodes cached", store.state().len());
/// # }
/// ```
#[non_exhaustive]
pub struct Watch<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    /// The cache; readers see every change the stream has delivered.
    pub store: Store<K>,
    /// The watch events; poll this for the cache to fill.
    pub events: BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>,
}

/// Watches `api` with `config` into a new cache, passing every object through `trim` first.
pub fn reflect<K>(api: Api<K>, config: watcher::Config, trim: fn(&mut K)) -> Watch<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    let (store, writer) = reflector::store();
    let events = watcher(api, config)
        .default_backoff()
        .modify(trim)
        .reflect(writer);

    Watch {
        store,
        events: boxed(events),
    }
}

/// Every CiliumNode in the cluster.
pub fn cilium_nodes(client: Client) -> Watch<CiliumNode> {
    reflect(
        Api::all(client),
        watcher::Config::default(),
        drop_managed_fields,
    )
}

/// Every Node in the cluster, without image and volume lists.
pub fn nodes(client: Client) -> Watch<Node> {
    reflect(Api::all(client), watcher::Config::default(), trim_node)
}

/// Every [`OciNetworkNode`] in the cluster.
pub fn oci_network_nodes(client: Client) -> Watch<OciNetworkNode> {
    reflect(
        Api::all(client),
        watcher::Config::default(),
        drop_managed_fields,
    )
}

/// Only the [`OciNetworkNode`] of node `name` (what a node agent needs).
pub fn oci_network_node(client: Client, name: &str) -> Watch<OciNetworkNode> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    reflect(Api::all(client), config, drop_managed_fields)
}

/// Only the CiliumNode of node `name` (what a node agent needs).
pub fn cilium_node(client: Client, name: &str) -> Watch<CiliumNode> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    reflect(Api::all(client), config, drop_managed_fields)
}

fn drop_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

fn trim_node(node: &mut Node) {
    drop_managed_fields(node);
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
    }
}

fn boxed<S, T>(stream: S) -> BoxStream<'static, T>
where
    S: Stream<Item = T> + Send + 'static,
{
    stream.boxed()
}
