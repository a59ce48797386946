//! `OciNetworkNode` (`oci-ipam.io/v1alpha1`): oci-ipam's own cluster-scoped CRD.
//!
//! One object per Kubernetes node, named like the node (and so like its CiliumNode), owned
//! by the Node so it is garbage-collected with it. Cilium's CRD prunes fields it does not
//! define, so the OCI view of a node lives here:
//!
//! - **spec**, written by the operator: the instance, its shape and availability domain, and
//!   every VNIC attached to it ([`VnicRecord`]: OCID, attachment OCID, index, role, MAC,
//!   subnet OCID and CIDR, virtual router IP, VLAN tag, and whether oci-ipam created it).
//!   Pool entries in the CiliumNode join to these VNICs through their `resource` (the VNIC
//!   OCID).
//! - **status**, written through the status subresource: per-VNIC readiness reported by the
//!   node agent ([`VnicStatus`]) and conditions (`Ready` from the node agent, `Synced` from the
//!   operator).
//!
//! `kubectl get ocinetworknodes` (short name `onn`) shows the instance, shape, VNIC indexes,
//! readiness and age; `-o wide` adds the availability domain, subnet CIDRs and the reason
//! behind `Ready`. [`crd_yaml`] renders the CustomResourceDefinition that `cargo xtask gen`
//! writes to `deploy/crds/ocinetworknodes.oci-ipam.io.yaml`.

use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::Resource as _;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, is_conflict, is_not_found};
use crate::ipam::{merge_diff, with_resource_version};
use crate::values::{Ipv4Cidr, MacAddress, Ocid};

/// The API group of [`OciNetworkNode`].
pub const GROUP: &str = "oci-ipam.io";

/// The condition the node agent sets: every VNIC in the spec is ready for pod addresses.
pub const CONDITION_READY: &str = "Ready";

/// The condition the operator sets: the spec matches what OCI reported at the last sync.
pub const CONDITION_SYNCED: &str = "Synced";

/// The operator's record of a node's instance and VNICs, as OCI reports them (the spec of
/// an OciNetworkNode).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "oci-ipam.io",
    version = "v1alpha1",
    kind = "OciNetworkNode",
    plural = "ocinetworknodes",
    singular = "ocinetworknode",
    shortname = "onn",
    category = "oci-ipam",
    status = "OciNetworkNodeStatus",
    derive = "PartialEq",
    doc = "The OCI networking view of one Kubernetes node, kept by oci-ipam.",
    // Raw JSON columns: the structured form trips clippy's `duplicated_attributes`.
    printcolumn = r#"{"name":"Instance","type":"string","jsonPath":".spec.instanceId"}"#,
    printcolumn = r#"{"name":"Shape","type":"string","jsonPath":".spec.shape"}"#,
    printcolumn = r#"{"name":"VNICs","type":"string","jsonPath":".spec.vnics[*].index",
        "description":"Indexes of the attached VNICs"}"#,
    printcolumn = r#"{"name":"Ready","type":"string",
        "jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"AD","type":"string","priority":1,
        "jsonPath":".spec.availabilityDomain"}"#,
    printcolumn = r#"{"name":"Subnets","type":"string","priority":1,
        "jsonPath":".spec.vnics[*].subnetCidr","description":"Subnet CIDR of each VNIC"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,
        "jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OciNetworkNodeSpec {
    /// The compute instance's OCID.
    pub instance_id: Ocid,

    /// The instance's shape, such as `VM.Standard.E4.Flex`.
    pub shape: String,

    /// The instance's availability domain, such as `Uocm:PHX-AD-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_domain: Option<String>,

    /// How many VNICs the instance may attach (for flex shapes, from its OCPU count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vnic_attachments: Option<u32>,

    /// Every VNIC attached or attaching, in index order.
    #[serde(default)]
    pub vnics: Vec<VnicRecord>,
}

/// One VNIC of a node, as the operator recorded it from OCI.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VnicRecord {
    /// The VNIC's OCID; the `resource` of its addresses in the CiliumNode pool.
    pub vnic_id: Ocid,

    /// The VNIC attachment's OCID.
    pub attachment_id: Ocid,

    /// The VNIC's index on the instance: 0 for the primary, then attachment order.
    pub index: u32,

    /// Whether this is the instance's primary VNIC.
    pub role: VnicRole,

    /// Whether oci-ipam created this VNIC (and may therefore detach it).
    pub origin: VnicOrigin,

    /// The VNIC's MAC address, by which the node agent finds its Linux link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<MacAddress>,

    /// The VNIC's own primary private IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_ip: Option<Ipv4Addr>,

    /// The subnet's OCID.
    pub subnet_id: Ocid,

    /// The subnet's IPv4 CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_cidr: Option<Ipv4Cidr>,

    /// The subnet's virtual router IP, the VNIC's gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_router_ip: Option<Ipv4Addr>,

    /// The VLAN tag OCI assigned to the attachment (meaningful on bare metal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_tag: Option<u32>,
}

/// A VNIC's role on its instance.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[non_exhaustive]
pub enum VnicRole {
    /// The primary VNIC, created with the instance; its addresses need no node-side routing.
    Primary,
    /// A secondary VNIC; its addresses need the node agent's policy routing.
    Secondary,
}

/// Who created a VNIC.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[non_exhaustive]
pub enum VnicOrigin {
    /// oci-ipam attached it (it carries oci-ipam's tags).
    Created,
    /// It was there already: the primary VNIC, or one attached by someone else.
    Found,
}

/// What the node agent reports about a node's VNICs, and conditions (the status of an
/// OciNetworkNode).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OciNetworkNodeStatus {
    /// Per-VNIC readiness, written by the node agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vnics: Vec<VnicStatus>,

    /// Conditions: `Ready` (node agent) and `Synced` (operator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The node agent's report on one VNIC.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VnicStatus {
    /// The VNIC's OCID.
    pub vnic_id: Ocid,

    /// Whether the VNIC can carry pod addresses yet.
    pub state: VnicState,

    /// The Linux link found for the VNIC's MAC, such as `ens5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,

    /// The routing table the node agent gave the VNIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table: Option<u32>,

    /// Why the VNIC is not ready, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl VnicStatus {
    /// A report of `state` for `vnic_id`, with nothing else filled in.
    #[must_use]
    pub fn new(vnic_id: Ocid, state: VnicState) -> Self {
        Self {
            vnic_id,
            state,
            interface: None,
            route_table: None,
            message: None,
        }
    }
}

/// Readiness of one VNIC on the node.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[non_exhaustive]
pub enum VnicState {
    /// Link up, table and rules installed: addresses on this VNIC may go to pods.
    Ready,
    /// Not set up yet (no link with the MAC, or setup in progress).
    Pending,
    /// Setup failed; `message` says why.
    Failed,
}

impl OciNetworkNode {
    /// A new object for the Kubernetes node `node`, named like it and owned by it (so it is
    /// garbage-collected with the Node).
    ///
    /// # Errors
    ///
    /// [`Error::MissingName`] when `node` has no name or UID (it was not read from the
    /// API server).
    pub fn for_node(node: &Node, spec: OciNetworkNodeSpec) -> Result<Self, Error> {
        let name = node
            .metadata
            .name
            .clone()
            .ok_or(Error::MissingName { kind: "Node" })?;
        let uid = node
            .metadata
            .uid
            .clone()
            .ok_or(Error::MissingName { kind: "Node" })?;

        let mut object = Self::new(&name, spec);
        object.metadata.owner_references = Some(vec![OwnerReference {
            api_version: Node::API_VERSION.to_owned(),
            kind: Node::KIND.to_owned(),
            name,
            uid,
            block_owner_deletion: None,
            controller: None,
        }]);
        Ok(object)
    }

    /// Whether pool addresses on `vnic_id` may go to pods: the primary VNIC always, a
    /// secondary VNIC once the node agent reports it [`VnicState::Ready`]. Unknown VNICs
    /// are not ready.
    #[must_use]
    pub fn vnic_ready(&self, vnic_id: &str) -> bool {
        let primary = self
            .spec
            .vnics
            .iter()
            .any(|vnic| vnic.role == VnicRole::Primary && vnic.vnic_id.as_str() == vnic_id);

        primary
            || self.status.as_ref().is_some_and(|status| {
                status
                    .vnics
                    .iter()
                    .any(|vnic| vnic.vnic_id.as_str() == vnic_id && vnic.state == VnicState::Ready)
            })
    }
}

impl OciNetworkNodeSpec {
    /// A spec for `instance_id` of `shape`, with no VNICs yet.
    #[must_use]
    pub fn new(instance_id: Ocid, shape: impl Into<String>) -> Self {
        Self {
            instance_id,
            shape: shape.into(),
            availability_domain: None,
            max_vnic_attachments: None,
            vnics: Vec::new(),
        }
    }
}

impl VnicRecord {
    /// A record with the required fields; the optional ones start empty.
    #[must_use]
    pub fn new(vnic_id: Ocid, attachment_id: Ocid, index: u32, subnet_id: Ocid) -> Self {
        Self {
            vnic_id,
            attachment_id,
            index,
            role: if index == 0 {
                VnicRole::Primary
            } else {
                VnicRole::Secondary
            },
            origin: VnicOrigin::Found,
            mac_address: None,
            primary_ip: None,
            subnet_id,
            subnet_cidr: None,
            virtual_router_ip: None,
            vlan_tag: None,
        }
    }
}

impl OciNetworkNodeStatus {
    /// Sets condition `type_`, keeping its `lastTransitionTime` when the status is unchanged.
    ///
    /// `status` is `True`, `False` or `Unknown`; `reason` is a short CamelCase word.
    pub fn set_condition(
        &mut self,
        type_: &str,
        status: &str,
        reason: &str,
        message: &str,
        now: Timestamp,
    ) {
        let condition = Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            observed_generation: None,
            last_transition_time: Time(now),
        };

        match self
            .conditions
            .iter_mut()
            .find(|existing| existing.type_ == type_)
        {
            Some(existing) => {
                let since = if existing.status == status {
                    existing.last_transition_time.clone()
                } else {
                    condition.last_transition_time.clone()
                };
                *existing = Condition {
                    last_transition_time: since,
                    ..condition
                };
            }
            None => self.conditions.push(condition),
        }
    }

    /// The condition of type `type_`, if set.
    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions
            .iter()
            .find(|condition| condition.type_ == type_)
    }
}

/// The CustomResourceDefinition of [`OciNetworkNode`] as YAML, as `cargo xtask gen` writes it.
///
/// # Errors
///
/// [`Error::RenderCrd`] if serialization fails (it does not for this type).
pub fn crd_yaml() -> Result<String, Error> {
    let yaml = serde_yaml::to_string(&OciNetworkNode::crd())
        .map_err(|source| Error::RenderCrd { source })?;
    Ok(format!(
        "# Generated by `cargo xtask gen` from crates/k8s-glue/src/crd.rs; do not edit.\n---\n{yaml}"
    ))
}

/// Reads and writes [`OciNetworkNode`]s.
///
/// The operator writes the spec with [`OciNetworkNodes::apply_spec`]; the node agent (and
/// the operator, for its `Synced` condition) change the status with
/// [`OciNetworkNodes::update_status`].
///
/// ```no_run
/// use k8s_glue::crd::{CONDITION_READY, OciNetworkNodes, VnicState, VnicStatus};
///
/// # async fn run(client: kube::Client, clock: &dyn k8s_glue::Clock) -> Result<(), k8s_glue::Error> {
/// let onns = OciNetworkNodes::new(client);
/// onns.update_status("worker-1", |status| {
///     status.vnics = vec![VnicStatus::new(
///         "ocid1.vnic.oc1.phx.example".parse().unwrap(),
///         VnicState::Ready,
///     )];
///     status.set_condition(CONDITION_READY, "True", "VnicsReady", "", clock.now());
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OciNetworkNodes {
    api: Api<OciNetworkNode>,
    attempts: u32,
}

impl OciNetworkNodes {
    /// Access through `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self {
            api: Api::all(client),
            attempts: crate::ipam::DEFAULT_ATTEMPTS,
        }
    }

    /// The underlying typed API handle.
    pub fn api(&self) -> &Api<OciNetworkNode> {
        &self.api
    }

    /// Reads the object for node `name`; `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::GetOciNetworkNode`] when the read fails other than with 404.
    pub async fn get(&self, name: &str) -> Result<Option<OciNetworkNode>, Error> {
        self.api
            .get_opt(name)
            .await
            .map_err(|source| Error::GetOciNetworkNode {
                node: name.to_owned(),
                source: Box::new(source),
            })
    }

    /// Replaces the spec of the stored object with `object`'s, creating the object when
    /// there is none. Returns the object as stored; the status is never touched.
    ///
    /// The spec is replaced whole: a merge patch that sets every spec field, with `null` for
    /// those now unset, so they are removed too. The operator is the spec's only writer, so
    /// this write is unconditional.
    ///
    /// # Errors
    ///
    /// [`Error::WriteOciNetworkNode`] when the patch or create fails.
    pub async fn apply_spec(&self, object: &OciNetworkNode) -> Result<OciNetworkNode, Error> {
        let name = object.metadata.name.clone().ok_or(Error::MissingName {
            kind: "OciNetworkNode",
        })?;
        let fail = |source| Error::WriteOciNetworkNode {
            node: name.clone(),
            source: Box::new(source),
        };

        // Usually the object exists: one request. Otherwise create it; if another writer
        // created it in between, replace its spec after all.
        match self.replace_spec(&name, object).await {
            Err(err) if is_not_found(&err) => {}
            replaced => return replaced.map_err(fail),
        }

        let mut fresh = object.clone();
        fresh.metadata.resource_version = None;
        fresh.status = None;
        match self.api.create(&PostParams::default(), &fresh).await {
            Err(err) if is_conflict(&err) => self.replace_spec(&name, object).await.map_err(fail),
            created => created.map_err(fail),
        }
    }

    async fn replace_spec(
        &self,
        name: &str,
        object: &OciNetworkNode,
    ) -> Result<OciNetworkNode, kube::Error> {
        let mut fields = match serde_json::to_value(&object.spec) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => Map::new(),
            Err(err) => return Err(kube::Error::SerdeError(err)),
        };
        for field in spec_fields() {
            fields.entry(field.clone()).or_insert(Value::Null);
        }

        let patch = json!({ "spec": fields });
        self.api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
    }

    /// Changes the status of the object for node `name` with `change`, writing a merge patch
    /// of the changed status fields conditional on the version read, retrying on 409.
    ///
    /// `change` runs on the freshest status each attempt. Each attempt reads the object
    /// first (one GET), rather than trusting a watch cache.
    ///
    /// # Errors
    ///
    /// [`Error::GetOciNetworkNode`] (including when the object does not exist yet: the
    /// operator creates it), [`Error::PatchOciNetworkNodeStatus`],
    /// [`Error::ConflictRetriesExhausted`].
    pub async fn update_status<F>(&self, name: &str, mut change: F) -> Result<OciNetworkNode, Error>
    where
        F: FnMut(&mut OciNetworkNodeStatus),
    {
        for attempt in 1..=self.attempts {
            let current = self
                .api
                .get(name)
                .await
                .map_err(|source| Error::GetOciNetworkNode {
                    node: name.to_owned(),
                    source: Box::new(source),
                })?;

            let before = current.status.clone().unwrap_or_default();
            let mut after = before.clone();
            change(&mut after);

            let diff = merge_diff(&json!(before), &json!(after));
            let Some(diff) = diff else { return Ok(current) };
            let patch =
                with_resource_version(&json!({ "status": diff }), current.resource_version());

            match self
                .api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(written) => return Ok(written),
                Err(err) if is_conflict(&err) => {
                    tracing::debug!(node = %name, attempt, "OciNetworkNode changed concurrently, re-reading");
                    tokio::time::sleep(Duration::from_millis(10) * attempt).await;
                }
                Err(err) if is_not_found(&err) => {
                    return Err(Error::GetOciNetworkNode {
                        node: name.to_owned(),
                        source: Box::new(err),
                    });
                }
                Err(source) => {
                    return Err(Error::PatchOciNetworkNodeStatus {
                        node: name.to_owned(),
                        source: Box::new(source),
                    });
                }
            }
        }

        Err(Error::ConflictRetriesExhausted {
            kind: "OciNetworkNode",
            name: name.to_owned(),
            attempts: self.attempts,
        })
    }
}

/// The names of every field the CRD's schema gives `spec`.
fn spec_fields() -> &'static [String] {
    static FIELDS: OnceLock<Vec<String>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let crd = serde_json::to_value(OciNetworkNode::crd()).unwrap_or_default();
        crd.pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties")
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ocid(kind: &str, id: &str) -> Ocid {
        format!("ocid1.{kind}.oc1.phx.{id}").parse().unwrap()
    }

    fn sample() -> OciNetworkNode {
        let mut primary = VnicRecord::new(
            ocid("vnic", "p"),
            ocid("vnicattachment", "p"),
            0,
            ocid("subnet", "s"),
        );
        primary.mac_address = Some("02:00:17:00:00:01".parse().unwrap());
        primary.subnet_cidr = Some("10.0.0.0/24".parse().unwrap());
        primary.virtual_router_ip = Some(Ipv4Addr::new(10, 0, 0, 1));
        let mut secondary = VnicRecord::new(
            ocid("vnic", "s"),
            ocid("vnicattachment", "s"),
            1,
            ocid("subnet", "s"),
        );
        secondary.origin = VnicOrigin::Created;
        secondary.vlan_tag = Some(42);

        let mut spec = OciNetworkNodeSpec::new(ocid("instance", "i"), "VM.Standard.E4.Flex");
        spec.vnics = vec![primary, secondary];
        OciNetworkNode::new("worker-1", spec)
    }

    #[test]
    fn primary_vnics_are_ready_and_secondaries_wait_for_the_agent() {
        let mut object = sample();
        assert!(object.vnic_ready("ocid1.vnic.oc1.phx.p"));
        assert!(!object.vnic_ready("ocid1.vnic.oc1.phx.s"));
        assert!(!object.vnic_ready("ocid1.vnic.oc1.phx.unknown"));

        object.status = Some(OciNetworkNodeStatus {
            vnics: vec![VnicStatus::new(ocid("vnic", "s"), VnicState::Ready)],
            conditions: Vec::new(),
        });
        assert!(object.vnic_ready("ocid1.vnic.oc1.phx.s"));
    }

    #[test]
    fn conditions_keep_their_transition_time_while_unchanged() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let mut status = OciNetworkNodeStatus::default();

        status.set_condition(
            CONDITION_READY,
            "False",
            "VnicPending",
            "waiting for ens5",
            t0,
        );
        status.set_condition(CONDITION_READY, "False", "VnicPending", "still waiting", t1);
        let ready = status.condition(CONDITION_READY).unwrap();
        assert_eq!(ready.last_transition_time.0, t0);
        assert_eq!(ready.message, "still waiting");

        status.set_condition(CONDITION_READY, "True", "VnicsReady", "", t1);
        assert_eq!(
            status
                .condition(CONDITION_READY)
                .unwrap()
                .last_transition_time
                .0,
            t1
        );
        assert_eq!(status.conditions.len(), 1);
    }

    #[test]
    fn the_object_serializes_in_camel_case_with_enum_names() {
        let value = serde_json::to_value(sample()).unwrap();
        assert_eq!(value["apiVersion"], "oci-ipam.io/v1alpha1");
        let vnic = &value["spec"]["vnics"][1];
        assert_eq!(vnic["attachmentId"], "ocid1.vnicattachment.oc1.phx.s");
        assert_eq!(vnic["role"], "Secondary");
        assert_eq!(vnic["origin"], "Created");
        assert_eq!(vnic["vlanTag"], 42);
        assert_eq!(value["spec"]["vnics"][0]["macAddress"], "02:00:17:00:00:01");
    }

    #[test]
    fn every_spec_field_is_known_for_replacement() {
        let fields = spec_fields();
        for field in [
            "instanceId",
            "shape",
            "availabilityDomain",
            "maxVnicAttachments",
            "vnics",
        ] {
            assert!(
                fields.iter().any(|known| known == field),
                "{field} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn the_crd_is_cluster_scoped_with_status_and_printer_columns() {
        let crd = OciNetworkNode::crd();
        assert_eq!(crd.spec.scope, "Cluster");
        assert_eq!(crd.spec.names.short_names, Some(vec!["onn".to_owned()]));

        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let columns: Vec<&str> = version
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            columns,
            [
                "Instance", "Shape", "VNICs", "Ready", "AD", "Subnets", "Reason", "Age"
            ]
        );

        let yaml = crd_yaml().unwrap();
        assert!(yaml.contains("name: ocinetworknodes.oci-ipam.io"), "{yaml}");
    }
}
