//! Writing oci-ipam's fields of a CiliumNode safely.
//!
//! oci-ipam owns `spec.instance-id`, `spec.ipam.{pool, pre-allocate, min-allocate,
//! max-allocate, max-above-watermark}`, its side of `status.ipam.release-ips` and
//! `status.ipam.operator-status` ([`IpamFields`]). [`CiliumNodes::update_ipam`] writes them:
//!
//! 1. the caller's change runs on the freshest object known, on a copy of our fields;
//! 2. the pool invariant is checked: an address in `status.ipam.used` never leaves
//!    `spec.ipam.pool` (a write that would drop one fails with [`Error::PoolInvariant`]);
//! 3. the status is written first, then the spec (so the agent sees the release handshake
//!    before pool changes), each as an RFC 7386 JSON merge patch holding only the fields that
//!    changed, and each carrying `metadata.resourceVersion` so the API server refuses it with
//!    409 if anyone (the agent, typically) wrote in between;
//! 4. on 409 the object is read again and the whole step repeats, a bounded number of times.
//!
//! The placeholder-owner helpers ([`gate_pool`]) keep the agent from handing out addresses on
//! VNICs whose routing the node agent has not set up yet.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Map, Value, json};

use crate::cilium::{AllocationMap, CiliumNode, ReleaseState};
use crate::error::{Error, is_conflict};

/// The `owner` oci-ipam puts on pool entries whose VNIC is not ready on the node yet.
///
/// The agent's allocator skips pool entries with a non-empty owner unless the owner is the
/// requester itself. The `:` keeps this string from ever equalling a pod's owner
/// (`<namespace>/<pod>`, where `:` is not allowed) or Cilium's `router`, `health` and
/// `ingress`.
pub const PENDING_VNIC_OWNER: &str = "oci-ipam:vnic-not-ready";

/// How many times [`CiliumNodes::update_ipam`] tries by default before giving up on 409s.
pub const DEFAULT_ATTEMPTS: u32 = 5;

/// The fields of a CiliumNode that oci-ipam owns, as plain values.
///
/// Read them with [`IpamFields::of`], change them, and hand them back through
/// [`CiliumNodes::update_ipam`]; fields not listed here are never written.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct IpamFields {
    /// `spec.instance-id`.
    pub instance_id: Option<String>,
    /// `spec.ipam.pool`.
    pub pool: AllocationMap,
    /// `spec.ipam.pre-allocate`.
    pub pre_allocate: Option<u32>,
    /// `spec.ipam.min-allocate`.
    pub min_allocate: Option<u32>,
    /// `spec.ipam.max-allocate`.
    pub max_allocate: Option<u32>,
    /// `spec.ipam.max-above-watermark`.
    pub max_above_watermark: Option<u32>,
    /// `status.ipam.release-ips` (shared with the agent, which acknowledges and deletes).
    pub release_ips: BTreeMap<IpAddr, ReleaseState>,
    /// `status.ipam.operator-status.error`.
    pub operator_error: Option<String>,
}

impl IpamFields {
    /// Our fields as they stand in `node`.
    #[must_use]
    pub fn of(node: &CiliumNode) -> Self {
        let ipam = &node.spec.ipam;
        let status = node.status.as_ref().map(|status| &status.ipam);

        Self {
            instance_id: node.spec.instance_id.clone(),
            pool: ipam.pool.clone(),
            pre_allocate: ipam.pre_allocate,
            min_allocate: ipam.min_allocate,
            max_allocate: ipam.max_allocate,
            max_above_watermark: ipam.max_above_watermark,
            release_ips: status
                .map(|ipam| ipam.release_ips.clone())
                .unwrap_or_default(),
            operator_error: status
                .and_then(|ipam| ipam.operator_status.as_ref())
                .and_then(|operator| operator.error.clone()),
        }
    }

    /// Our `spec` fields but the pool as the JSON they take in a CiliumNode (the pool, the
    /// one large field, is diffed on its own by [`pool_diff`]).
    fn spec_json_but_pool(&self) -> Value {
        let mut ipam = Map::new();
        for (key, value) in [
            ("pre-allocate", self.pre_allocate),
            ("min-allocate", self.min_allocate),
            ("max-allocate", self.max_allocate),
            ("max-above-watermark", self.max_above_watermark),
        ] {
            if let Some(value) = value {
                ipam.insert(key.into(), json!(value));
            }
        }

        let mut spec = Map::new();
        if let Some(instance_id) = &self.instance_id {
            spec.insert("instance-id".into(), json!(instance_id));
        }
        spec.insert("ipam".into(), Value::Object(ipam));
        Value::Object(spec)
    }

    /// Our `status` fields as the JSON they take in a CiliumNode.
    fn status_json(&self) -> Value {
        let mut ipam = Map::new();
        if !self.release_ips.is_empty() {
            ipam.insert("release-ips".into(), json!(self.release_ips));
        }
        if let Some(error) = &self.operator_error {
            ipam.insert("operator-status".into(), json!({ "error": error }));
        }
        json!({ "ipam": ipam })
    }
}

/// The merge patches that turn `before` into `after`, with only the changed fields.
///
/// Either side is `None` when it has nothing to change. A patch carries no
/// `resourceVersion`; [`CiliumNodes::update_ipam`] adds it.
///
/// ```
/// use k8s_glue::{AllocationIp, CiliumNode};
/// use k8s_glue::ipam::{IpamFields, patches};
///
/// let node = CiliumNode::default();
/// let before = IpamFields::of(&node);
/// let mut after = before.clone();
/// after.pool.insert("10.0.0.5".parse()?, AllocationIp::on("ocid1.vnic.oc1.phx.a"));
///
/// let patches = patches(&before, &after);
/// assert_eq!(patches.status, None);
/// assert_eq!(
///     patches.spec,
///     Some(serde_json::json!({
///         "spec": {"ipam": {"pool": {"10.0.0.5": {"resource": "ocid1.vnic.oc1.phx.a"}}}}
///     }))
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn patches(before: &IpamFields, after: &IpamFields) -> IpamPatches {
    let wrap = |key: &str, diff: Option<Value>| diff.map(|diff| json!({ key: diff }));

    let mut spec = merge_diff(&before.spec_json_but_pool(), &after.spec_json_but_pool());
    if let Some(pool) = pool_diff(&before.pool, &after.pool) {
        let spec = spec.get_or_insert_with(|| json!({}));
        let ipam = &mut spec["ipam"];
        if !ipam.is_object() {
            *ipam = json!({});
        }
        ipam["pool"] = pool;
    }

    IpamPatches {
        status: wrap(
            "status",
            merge_diff(&before.status_json(), &after.status_json()),
        ),
        spec: wrap("spec", spec),
    }
}

/// The two merge patches of one write, each `None` when that side is unchanged.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct IpamPatches {
    /// The patch for the `status` subresource.
    pub status: Option<Value>,
    /// The patch for the main resource (`spec`).
    pub spec: Option<Value>,
}

impl IpamPatches {
    /// Whether neither side changes anything.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.spec.is_none()
    }
}

/// Checks that every address in `used` stays in `pool`; the error names those that do not.
///
/// # Errors
///
/// [`Error::PoolInvariant`] naming `node` and the missing addresses, in order.
pub fn check_pool_invariant(
    node: &str,
    used: &AllocationMap,
    pool: &AllocationMap,
) -> Result<(), Error> {
    let addresses: Vec<IpAddr> = used
        .keys()
        .filter(|ip| !pool.contains_key(ip))
        .copied()
        .collect();

    if addresses.is_empty() {
        Ok(())
    } else {
        Err(Error::PoolInvariant {
            node: node.to_owned(),
            addresses,
        })
    }
}

/// What [`gate_pool`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gating {
    /// Addresses that now carry [`PENDING_VNIC_OWNER`].
    pub gated: BTreeSet<IpAddr>,
    /// Addresses whose placeholder owner was cleared, so the agent may hand them out.
    pub opened: BTreeSet<IpAddr>,
}

/// Puts [`PENDING_VNIC_OWNER`] on pool entries whose VNIC (`resource`) is not ready and clears
/// it from entries whose VNIC is.
///
/// `vnic_ready` answers for a pool entry's `resource` (the VNIC OCID); the primary VNIC needs
/// no node-side routing and should always answer true (see
/// [`OciNetworkNode::vnic_ready`](crate::crd::OciNetworkNode::vnic_ready)). Entries with any
/// other owner (pinned addresses) are left alone.
///
/// Cilium's start-up wait counts gated entries too, but its router and health addresses need
/// ungated ones: keep at least `min-allocate` addresses on the primary VNIC of a new node.
///
/// ```
/// use k8s_glue::AllocationIp;
/// use k8s_glue::ipam::{PENDING_VNIC_OWNER, gate_pool};
///
/// let mut pool = k8s_glue::cilium::AllocationMap::new();
/// pool.insert("10.0.0.5".parse()?, AllocationIp::on("primary"));
/// pool.insert("10.0.1.5".parse()?, AllocationIp::on("secondary"));
///
/// let gating = gate_pool(&mut pool, |vnic| vnic == "primary");
/// assert_eq!(gating.gated.len(), 1);
/// assert_eq!(pool[&"10.0.1.5".parse()?].owner, PENDING_VNIC_OWNER);
///
/// let gating = gate_pool(&mut pool, |_| true);
/// assert_eq!(gating.opened.len(), 1);
/// assert!(pool.values().all(|entry| entry.owner.is_empty()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gate_pool(pool: &mut AllocationMap, vnic_ready: impl Fn(&str) -> bool) -> Gating {
    let mut gating = Gating::default();

    for (ip, entry) in pool.iter_mut() {
        let ready = vnic_ready(&entry.resource);
        if !ready && entry.owner.is_empty() {
            entry.owner = PENDING_VNIC_OWNER.to_owned();
            gating.gated.insert(*ip);
        } else if ready && entry.owner == PENDING_VNIC_OWNER {
            entry.owner.clear();
            gating.opened.insert(*ip);
        }
    }

    gating
}

/// Reads and writes CiliumNodes for oci-ipam.
///
/// ```no_run
/// use k8s_glue::AllocationIp;
/// use k8s_glue::ipam::CiliumNodes;
///
/// # async fn run(client: kube::Client) -> Result<(), k8s_glue::Error> {
/// let nodes = CiliumNodes::new(client);
/// let node = nodes.get("worker-1").await?;
///
/// let written = nodes
///     .update_ipam(&node, |_latest, fields| {
///         fields.instance_id = Some("ocid1.instance.oc1.phx.example".into());
///         fields.pre_allocate = Some(8);
///         fields.pool.insert("10.0.0.5".parse().unwrap(), AllocationIp::on("ocid1.vnic.oc1.phx.a"));
///     })
///     .await?;
/// println!("written after {} attempt(s)", written.attempts);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CiliumNodes {
    api: Api<CiliumNode>,
    attempts: u32,
    conflict_backoff: Duration,
}

impl CiliumNodes {
    /// CiliumNode access through `client`, trying writes [`DEFAULT_ATTEMPTS`] times.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self {
            api: Api::all(client),
            attempts: DEFAULT_ATTEMPTS,
            conflict_backoff: Duration::from_millis(10),
        }
    }

    /// Sets how many attempts a write gets before [`Error::ConflictRetriesExhausted`]
    /// (at least one).
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The underlying typed API handle.
    pub fn api(&self) -> &Api<CiliumNode> {
        &self.api
    }

    /// Reads the CiliumNode `name`.
    ///
    /// # Errors
    ///
    /// [`Error::GetCiliumNode`] when the read fails (including 404).
    pub async fn get(&self, name: &str) -> Result<CiliumNode, Error> {
        self.api
            .get(name)
            .await
            .map_err(|source| Error::GetCiliumNode {
                node: name.to_owned(),
                source: Box::new(source),
            })
    }

    /// Changes oci-ipam's fields of the CiliumNode `current` names, as described in the
    /// [module docs](self).
    ///
    /// `change` gets the freshest object known and our fields of it to edit; it runs again
    /// after every conflict, so it must compute from what it is given (adding "these new
    /// addresses", not "this whole pool I computed earlier"). `current` is usually the
    /// watch cache's copy; when it is stale the first write fails with 409 and the object is
    /// read again.
    ///
    /// # Errors
    ///
    /// - [`Error::PoolInvariant`] when `change` drops an address in `status.ipam.used` from
    ///   the pool; nothing is written in that attempt.
    /// - [`Error::ConflictRetriesExhausted`] after too many 409s.
    /// - [`Error::GetCiliumNode`], [`Error::PatchCiliumNodeStatus`],
    ///   [`Error::PatchCiliumNodeSpec`] when a request fails otherwise.
    pub async fn update_ipam<F>(
        &self,
        current: &CiliumNode,
        mut change: F,
    ) -> Result<IpamWrite, Error>
    where
        F: FnMut(&CiliumNode, &mut IpamFields),
    {
        let name = current
            .metadata
            .name
            .clone()
            .ok_or(Error::MissingName { kind: "CiliumNode" })?;
        let mut latest = if current.metadata.resource_version.is_some() {
            current.clone()
        } else {
            self.get(&name).await?
        };

        for attempt in 1..=self.attempts {
            let before = IpamFields::of(&latest);
            let mut after = before.clone();
            change(&latest, &mut after);

            // Checked against the object the write is conditional on: if the agent changed
            // `used` since, the resourceVersion precondition turns the write into a 409.
            check_pool_invariant(&name, latest.used(), &after.pool)?;

            let patches = patches(&before, &after);
            if patches.is_empty() {
                return Ok(IpamWrite {
                    node: latest,
                    attempts: attempt,
                    written: false,
                });
            }

            match self.write(&name, &latest, &patches).await? {
                Some(node) => {
                    tracing::debug!(node = %name, attempt, "wrote CiliumNode IPAM fields");
                    return Ok(IpamWrite {
                        node,
                        attempts: attempt,
                        written: true,
                    });
                }
                None => {
                    tracing::debug!(node = %name, attempt, "CiliumNode changed concurrently, re-reading");
                    tokio::time::sleep(self.conflict_backoff * attempt).await;
                    latest = self.get(&name).await?;
                }
            }
        }

        Err(Error::ConflictRetriesExhausted {
            kind: "CiliumNode",
            name,
            attempts: self.attempts,
        })
    }

    /// Writes status then spec, each conditional on the version before it; `None` on 409.
    async fn write(
        &self,
        name: &str,
        latest: &CiliumNode,
        patches: &IpamPatches,
    ) -> Result<Option<CiliumNode>, Error> {
        let mut node = latest.clone();
        let params = PatchParams::default();

        if let Some(status) = &patches.status {
            let body = with_resource_version(status, node.resource_version());
            match self
                .api
                .patch_status(name, &params, &Patch::Merge(&body))
                .await
            {
                Ok(written) => node = written,
                Err(err) if is_conflict(&err) => return Ok(None),
                Err(source) => {
                    return Err(Error::PatchCiliumNodeStatus {
                        node: name.to_owned(),
                        source: Box::new(source),
                    });
                }
            }
        }

        if let Some(spec) = &patches.spec {
            let body = with_resource_version(spec, node.resource_version());
            match self.api.patch(name, &params, &Patch::Merge(&body)).await {
                Ok(written) => node = written,
                Err(err) if is_conflict(&err) => return Ok(None),
                Err(source) => {
                    return Err(Error::PatchCiliumNodeSpec {
                        node: name.to_owned(),
                        source: Box::new(source),
                    });
                }
            }
        }

        Ok(Some(node))
    }
}

/// The outcome of [`CiliumNodes::update_ipam`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IpamWrite {
    /// The CiliumNode as the API server holds it after the write.
    pub node: CiliumNode,
    /// Attempts made (1 when there was no conflict).
    pub attempts: u32,
    /// Whether anything was written (false when the change changed nothing).
    pub written: bool,
}

/// `patch` with `metadata.resourceVersion` set, making it conditional on that version.
pub(crate) fn with_resource_version(patch: &Value, resource_version: Option<String>) -> Value {
    let mut patch = patch.clone();
    if let (Some(version), Some(object)) = (resource_version, patch.as_object_mut()) {
        object.insert("metadata".into(), json!({ "resourceVersion": version }));
    }
    patch
}

/// The RFC 7386 merge patch turning `before` into `after`, or `None` when they are equal.
///
/// Objects are compared key by key (a removed key becomes `null`); anything else that
/// differs is replaced whole. Neither side may hold `null` values (merge patch cannot
/// express them), which holds for everything this crate serializes.
pub(crate) fn merge_diff(before: &Value, after: &Value) -> Option<Value> {
    if before == after {
        return None;
    }

    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return Some(after.clone());
    };

    let mut patch = Map::new();
    for (key, old) in before {
        match after.get(key) {
            None => {
                patch.insert(key.clone(), Value::Null);
            }
            Some(new) => {
                if let Some(diff) = merge_diff(old, new) {
                    patch.insert(key.clone(), diff);
                }
            }
        }
    }
    for (key, new) in after {
        if !before.contains_key(key) {
            patch.insert(key.clone(), new.clone());
        }
    }

    Some(Value::Object(patch))
}

/// The merge patch of `spec.ipam.pool` turning `before` into `after`, or `None` when equal.
///
/// The same patch [`merge_diff`] gives for the pools' JSON, built from the maps directly:
/// pools are the one field large enough for the JSON detour to cost.
fn pool_diff(before: &AllocationMap, after: &AllocationMap) -> Option<Value> {
    if before == after {
        return None;
    }
    if after.is_empty() {
        return Some(Value::Null);
    }
    if before.is_empty() {
        return Some(json!(after));
    }

    let field = |old: &str, new: &str| {
        (old != new).then(|| {
            if new.is_empty() {
                Value::Null
            } else {
                json!(new)
            }
        })
    };

    let mut patch = Map::new();
    for ip in before.keys().filter(|ip| !after.contains_key(ip)) {
        patch.insert(ip.to_string(), Value::Null);
    }
    for (ip, new) in after {
        match before.get(ip) {
            None => {
                patch.insert(ip.to_string(), json!(new));
            }
            Some(old) if old != new => {
                let mut entry = Map::new();
                if let Some(owner) = field(&old.owner, &new.owner) {
                    entry.insert("owner".into(), owner);
                }
                if let Some(resource) = field(&old.resource, &new.resource) {
                    entry.insert("resource".into(), resource);
                }
                patch.insert(ip.to_string(), Value::Object(entry));
            }
            Some(_) => {}
        }
    }

    Some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::cilium::AllocationIp;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn node_with(pool: &[(&str, &str)], used: &[(&str, &str)]) -> CiliumNode {
        let entries = |list: &[(&str, &str)]| -> Value {
            list.iter()
                .map(|(address, owner)| {
                    (
                        address.to_string(),
                        json!({"owner": owner, "resource": "ocid1.vnic.oc1.phx.a"}),
                    )
                })
                .collect::<Map<_, _>>()
                .into()
        };
        serde_json::from_value(json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNode",
            "metadata": {"name": "n1", "resourceVersion": "5"},
            "spec": {"ipam": {"pool": entries(pool)}},
            "status": {"ipam": {"used": entries(used)}},
        }))
        .unwrap()
    }

    #[test]
    fn unchanged_fields_give_no_patch() {
        let node = node_with(&[("10.0.0.5", "")], &[("10.0.0.5", "default/web")]);
        let fields = IpamFields::of(&node);
        assert!(patches(&fields, &fields).is_empty());
    }

    #[test]
    fn removed_pool_entries_become_null_and_cleared_owners_are_removed() {
        let node = node_with(&[("10.0.0.5", PENDING_VNIC_OWNER), ("10.0.0.6", "")], &[]);
        let before = IpamFields::of(&node);
        let mut after = before.clone();
        after.pool.remove(&ip("10.0.0.6"));
        after.pool.get_mut(&ip("10.0.0.5")).unwrap().owner.clear();
        after.pre_allocate = Some(8);

        let patches = patches(&before, &after);
        assert_eq!(patches.status, None);
        assert_eq!(
            patches.spec.unwrap(),
            json!({"spec": {"ipam": {
                "pool": {"10.0.0.5": {"owner": null}, "10.0.0.6": null},
                "pre-allocate": 8,
            }}})
        );
    }

    #[test]
    fn status_patch_carries_only_release_changes_and_the_operator_error() {
        let mut node = node_with(&[("10.0.0.5", "")], &[]);
        node.status
            .as_mut()
            .unwrap()
            .ipam
            .release_ips
            .insert(ip("10.0.0.9"), ReleaseState::ReadyForRelease);
        let before = IpamFields::of(&node);

        let mut after = before.clone();
        after
            .release_ips
            .insert(ip("10.0.0.5"), ReleaseState::MarkedForRelease);
        after
            .release_ips
            .insert(ip("10.0.0.9"), ReleaseState::Released);
        after.operator_error = Some("subnet full".into());

        let patches = patches(&before, &after);
        assert_eq!(patches.spec, None);
        assert_eq!(
            patches.status.unwrap(),
            json!({"status": {"ipam": {
                "release-ips": {"10.0.0.5": "marked-for-release", "10.0.0.9": "released"},
                "operator-status": {"error": "subnet full"},
            }}})
        );

        let mut cleared = after.clone();
        cleared.operator_error = None;
        assert_eq!(
            patches_status(&after, &cleared),
            json!({"status": {"ipam": {"operator-status": null}}})
        );
    }

    fn patches_status(before: &IpamFields, after: &IpamFields) -> Value {
        patches(before, after).status.unwrap()
    }

    #[test]
    fn the_invariant_names_every_dropped_in_use_address() {
        let node = node_with(
            &[("10.0.0.5", ""), ("10.0.0.6", ""), ("10.0.0.7", "")],
            &[("10.0.0.6", "default/a"), ("10.0.0.7", "router")],
        );
        let mut pool = node.spec.ipam.pool.clone();
        pool.remove(&ip("10.0.0.7"));
        pool.remove(&ip("10.0.0.6"));
        pool.remove(&ip("10.0.0.5"));

        let err = check_pool_invariant("n1", node.used(), &pool).unwrap_err();
        let Error::PoolInvariant {
            node: name,
            addresses,
        } = &err
        else {
            panic!("unexpected {err:?}");
        };
        assert_eq!(name, "n1");
        assert_eq!(addresses, &vec![ip("10.0.0.6"), ip("10.0.0.7")]);
        assert!(err.to_string().contains("10.0.0.6"), "{err}");

        pool.insert(ip("10.0.0.6"), AllocationIp::default());
        pool.insert(ip("10.0.0.7"), AllocationIp::default());
        assert!(check_pool_invariant("n1", node.used(), &pool).is_ok());
    }

    #[test]
    fn gating_leaves_pinned_addresses_alone() {
        let mut pool = AllocationMap::new();
        pool.insert(
            ip("10.0.0.5"),
            AllocationIp {
                owner: "kube-system/dns".into(),
                resource: "v2".into(),
            },
        );
        let gating = gate_pool(&mut pool, |_| false);
        assert!(gating.gated.is_empty());
        assert_eq!(pool[&ip("10.0.0.5")].owner, "kube-system/dns");
    }

    #[test]
    fn resource_version_goes_into_metadata() {
        let patch = with_resource_version(&json!({"spec": {}}), Some("42".into()));
        assert_eq!(
            patch,
            json!({"spec": {}, "metadata": {"resourceVersion": "42"}})
        );
    }

    proptest::proptest! {
        /// Applying the diff of two of our JSON shapes to the first gives the second.
        #[test]
        fn merge_diff_applied_gives_the_target(
            before in proptest::collection::btree_map(0u8..6, proptest::option::of(0u8..3), 0..6),
            after in proptest::collection::btree_map(0u8..6, proptest::option::of(0u8..3), 0..6),
        ) {
            let shape = |map: &BTreeMap<u8, Option<u8>>| -> Value {
                map.iter()
                    .map(|(key, value)| {
                        let value = match value {
                            Some(owner) => json!({"owner": owner.to_string(), "resource": "r"}),
                            None => json!({"resource": "r"}),
                        };
                        (format!("10.0.0.{key}"), value)
                    })
                    .collect::<Map<_, _>>()
                    .into()
            };
            let (before, after) = (shape(&before), shape(&after));

            let mut applied = before.clone();
            if let Some(diff) = merge_diff(&before, &after) {
                apply_merge_patch(&mut applied, &diff);
            }
            proptest::prop_assert_eq!(applied, after);
        }
    }

    proptest::proptest! {
        /// The direct pool diff is exactly the generic diff of the pools' JSON.
        #[test]
        fn pool_diff_matches_the_generic_diff(
            before in proptest::collection::btree_map(0u8..8, (0u8..3, 0u8..3), 0..8),
            after in proptest::collection::btree_map(0u8..8, (0u8..3, 0u8..3), 0..8),
        ) {
            let pool = |map: &BTreeMap<u8, (u8, u8)>| -> AllocationMap {
                let text = |n: u8| if n == 0 { String::new() } else { format!("x{n}") };
                map.iter()
                    .map(|(host, (owner, resource))| {
                        let entry = AllocationIp { owner: text(*owner), resource: text(*resource) };
                        (IpAddr::from([10, 0, 0, *host]), entry)
                    })
                    .collect()
            };
            let (before, after) = (pool(&before), pool(&after));
            let as_json = |pool: &AllocationMap| if pool.is_empty() { json!({}) } else { json!({"pool": pool}) };

            let generic = merge_diff(&as_json(&before), &as_json(&after)).map(|diff| diff["pool"].clone());
            proptest::prop_assert_eq!(pool_diff(&before, &after), generic);
        }
    }

    /// RFC 7386 application, for checking `merge_diff`.
    fn apply_merge_patch(target: &mut Value, patch: &Value) {
        let Value::Object(patch) = patch else {
            *target = patch.clone();
            return;
        };
        if !target.is_object() {
            *target = json!({});
        }
        let Value::Object(object) = target else {
            return;
        };
        for (key, value) in patch {
            if value.is_null() {
                object.remove(key);
            } else {
                apply_merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}
